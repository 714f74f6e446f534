"""The search across domains: every domain the user may see, the grid's words, pages grouped by domain."""

from __future__ import annotations

import pytest

from aliasdesk.accounts.models import User
from aliasdesk.aliases import search
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.across import AcrossPaginator, search_across, search_words
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain, soft_delete_alias
from tests.across.conftest import BOB

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("forwarders")]


def hits(user: User, text: str, per_page: int = 50, page: int = 1) -> list[tuple[str, str]]:
    found = AcrossPaginator(user, text, per_page).get_page(page)
    return [(a.domain.name, a.key) for a in found.object_list]


EVERY_BOB = [
    ("example.com", "team@example.com"),
    ("example.com", "solo@example.com"),
    ("example.com", "root"),
    ("other.org", "old@other.org"),
]


@pytest.mark.parametrize("name", ["alice", "carol"])
def test_admins_and_auditors_find_it_in_every_domain(name: str, everyone: dict[str, User]) -> None:
    # '"bob"@example.org' holds no "bob@example.org" as text: the grid's words are substrings
    found = hits(everyone[name], BOB)
    assert [h for h in found if h[1] != "jim@other.org"] == EVERY_BOB
    assert ("other.org", "jim@other.org") in found  # jimbob@example.org holds the words too


@pytest.mark.parametrize("name", ["bob", "dave"])
def test_editors_and_viewers_find_only_their_domains(name: str, everyone: dict[str, User]) -> None:
    assert hits(everyone[name], BOB) == EVERY_BOB[:3]
    assert hits(everyone[name], "dora") == []


def test_a_user_without_domains_finds_nothing(everyone: dict[str, User]) -> None:
    assert hits(everyone["erin"], BOB) == []
    assert hits(everyone["erin"], "example") == []


def test_every_word_must_match_in_key_destinations_or_comment(everyone: dict[str, User]) -> None:
    alice = everyone["alice"]
    assert hits(alice, "team carla") == [("example.com", "team@example.com")]
    assert hits(alice, "the team bob") == [("example.com", "team@example.com")]
    assert hits(alice, "team nohit") == []
    assert hits(alice, "") == []
    assert hits(alice, "@other.org dora") == [("other.org", "info@other.org"), ("other.org", "help@other.org")]


def test_deleted_aliases_and_domains_are_not_searched(everyone: dict[str, User], forwarders: dict[str, Alias]) -> None:
    solo = forwarders["solo@example.com"]
    soft_delete_alias(solo, version=solo.version)
    assert ("example.com", "solo@example.com") not in hits(everyone["alice"], BOB)


def test_pages_are_grouped_by_domain_and_counted(everyone: dict[str, User], example: Domain) -> None:
    third = create_domain("a-first.net")
    for i in range(7):
        create_alias(third, f"p{i}@a-first.net", f"pager{i}@example.org")
        create_alias(example, f"p{i}@example.com", f"pager{i}@example.org")
    alice = everyone["alice"]
    pages = [hits(alice, "pager", per_page=5, page=n) for n in (1, 2, 3)]
    flat = [h for page in pages for h in page]
    assert [len(p) for p in pages] == [5, 5, 4]
    assert [d for d, _ in flat] == ["a-first.net"] * 7 + ["example.com"] * 7
    assert [k for _, k in flat[:7]] == [f"p{i}@a-first.net" for i in range(7)]
    paginator = AcrossPaginator(alice, "pager", 5)
    assert (paginator.count, paginator.num_pages, paginator.capped) == (14, 3, False)
    # a page beyond the last gives the last one
    assert hits(alice, "pager", per_page=5, page=9) == pages[2]


def test_many_matches_are_capped_and_pages_still_work(
    everyone: dict[str, User], example: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        create_alias(example, f"many{i}@example.com", f"many{i}@example.org")
    monkeypatch.setattr(search, "COUNT_CAP", 5)  # one paginator for the grid and here
    paginator = AcrossPaginator(everyone["alice"], "many", 10)
    page = paginator.get_page(2)
    assert paginator.capped
    assert paginator.count == 15  # a lower bound: the page asked for, and the cap past it
    assert [a.key for a in page.object_list] == [f"many{i}@example.com" for i in range(10, 20)]


def test_capped_pages_walk_the_domains_in_name_order(
    everyone: dict[str, User], example: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many matches: a page is read along the indexes, and is the page a full sort gives."""
    other = create_domain("a-many.net")
    for i in range(12):
        create_alias(example, f"lots{i}@example.com", f"lots{i}@example.org")
        create_alias(other, f"lots{i}@a-many.net", f"lots{i}@example.org")
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    alice = everyone["alice"]
    words = search_words("lots")
    everything = list(search_across(visible_domains(alice), words).order_by("domain__name", "id"))
    for number in (1, 2, 3, 5):
        paginator = AcrossPaginator(alice, "lots", 5)
        page = paginator.get_page(number)
        assert paginator.capped
        assert list(page.object_list) == everything[(number - 1) * 5 : number * 5]


def test_search_words_are_the_grids() -> None:
    assert search_words("  a b c d e f g ") == ["a", "b", "c", "d", "e"]


def test_search_across_agrees_with_a_scan(everyone: dict[str, User]) -> None:
    """The index only narrows rows down: the answer is what a plain scan finds."""
    alice = everyone["alice"]
    for words in (["bob@example.org"], ["example.org", "team"], ["ora"], ["xyz"], ["OTHER"]):
        found = set(search_across(visible_domains(alice), words).values_list("pk", flat=True))
        scanned = {
            a.pk for a in Alias.objects.filter(deleted_at__isnull=True)
            if all(w.lower() in f"{a.key}\n{a.destinations}\n{a.comment}".lower() for w in words)
        }
        assert found == scanned, words
