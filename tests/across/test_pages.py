"""The search page over every domain and the offboarding page: what each role sees and may do."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from aliasdesk.aliases.models import Alias
from tests.across.conftest import BOB

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("forwarders"),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]
NEW = "carol@example.org"


def test_the_main_navigation_links_the_search(login: Callable[[str], Client]) -> None:
    page = login("dave").get("/domains/").content.decode()
    assert 'href="/search/"' in page


def test_results_are_grouped_by_domain_and_link_to_each_alias(login: Callable[[str], Client]) -> None:
    page = login("alice").get("/search/", {"q": BOB}).content.decode()
    groups = re.findall(r'<h2 class="section-title" id="group-\d+"><a href="/domains/([^/]+)/">', page)
    assert groups == ["example.com", "other.org"]
    team = Alias.objects.get(key="team@example.com")
    assert f'href="/domains/example.com/?q=team%40example.com#alias-{team.pk}"' in page
    assert "5 aliases" in page
    assert 'id="offboard-link"' in page and "/offboard/?old=bob%40example.org" in page


def test_only_those_who_edit_are_offered_the_offboarding(login: Callable[[str], Client]) -> None:
    assert 'id="offboard-link"' in login("bob").get("/search/", {"q": BOB}).content.decode()
    for name in ("dave", "carol"):
        assert 'id="offboard-link"' not in login(name).get("/search/", {"q": BOB}).content.decode()


@pytest.mark.parametrize("name", ["bob", "dave", "erin"])
def test_the_search_shows_nothing_of_domains_one_may_not_see(name: str, login: Callable[[str], Client]) -> None:
    page = login(name).get("/search/", {"q": "example.org"}).content.decode()
    assert "other.org" not in page and "dora@" not in page and "jimbob" not in page


def test_htmx_gets_the_results_alone_and_pages_link_on(login: Callable[[str], Client], example: object) -> None:
    from aliasdesk.aliases.services import create_alias

    for i in range(60):
        create_alias(example, f"n{i}@example.com", f"pager{i}@example.org")  # type: ignore[arg-type]
    client = login("alice")
    part = client.get("/search/", {"q": "pager"}, headers={"HX-Request": "true"}).content.decode()
    assert part.startswith('<div id="search-results">') and "<html" not in part
    assert "page 1 of 2" in part and "/search/?q=pager&amp;page=2" in part
    second = client.get("/search/", {"q": "pager", "page": "2"}).content.decode()
    assert second.count('<tr id="hit-') == 10


def test_offboarding_preview_then_apply(login: Callable[[str], Client]) -> None:
    client = login("bob")
    preview = client.get("/offboard/", {"old": BOB, "mode": "replace", "new": NEW})
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "team@example.com" in page and "skipped" in page and 'id="offboard-apply"' in page
    assert Alias.objects.get(key="team@example.com").destinations.startswith("Bob@")
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    assert len(seen) == 2
    change = re.search(r'name="change" value="([0-9a-f]{8})"', page)
    assert change and f"offboarding #{change.group(1)}: {BOB} → {NEW}" in page
    done = client.post("/offboard/", {"old": BOB, "mode": "replace", "new": NEW, "seen": seen,
                                      "change": change.group(1)})
    body = done.content.decode()
    team = Alias.objects.get(key="team@example.com")
    reason = team.history.latest("history_id").history_change_reason  # type: ignore[attr-defined]
    assert reason == f"offboarding #{change.group(1)}: {BOB} → {NEW}"  # the change the preview named
    assert done.status_code == 200 and 'id="offboard-done"' in body
    assert 'href="/domains/example.com/deploy"' in body
    assert Alias.objects.get(key="team@example.com").destinations == f"{NEW}, carla@example.org"
    assert Alias.objects.get(key="root").destinations.startswith(BOB)


def test_apply_after_a_change_since_the_preview_changes_nothing(login: Callable[[str], Client]) -> None:
    from aliasdesk.aliases.services import update_alias

    client = login("alice")
    page = client.get("/offboard/", {"old": BOB, "new": NEW}).content.decode()
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    solo = Alias.objects.get(key="solo@example.com")
    update_alias(solo, version=solo.version, comment="meanwhile")
    done = client.post("/offboard/", {"old": BOB, "new": NEW, "seen": seen}).content.decode()
    assert 'id="offboard-error"' in done and "reload" in done
    assert Alias.objects.get(key="team@example.com").destinations.startswith("Bob@")


def test_removal_without_switch_off_is_refused_and_lists_the_aliases(login: Callable[[str], Client]) -> None:
    page = login("alice").get("/offboard/", {"old": BOB, "mode": "remove"}).content.decode()
    assert "refused" in page and 'id="offboard-apply"' not in page
    page = login("alice").get("/offboard/", {"old": BOB, "mode": "remove", "switch_off": "on"}).content.decode()
    assert "switched off (no destination left)" in page and 'id="offboard-apply"' in page


def test_a_viewer_gets_a_preview_without_a_button(login: Callable[[str], Client]) -> None:
    page = login("dave").get("/offboard/", {"old": BOB, "new": NEW}).content.decode()
    assert "skipped" in page and 'id="offboard-apply"' not in page
    before = list(Alias.objects.values_list("destinations", "version"))
    login("dave").post("/offboard/", {"old": BOB, "new": NEW})
    assert list(Alias.objects.values_list("destinations", "version")) == before


def test_the_address_alone_shows_the_form_and_bad_input_the_reason(login: Callable[[str], Client]) -> None:
    page = login("alice").get("/offboard/", {"old": BOB}).content.decode()
    assert f'value="{BOB}"' in page and "offboard-error" not in page and "offboard-items" not in page
    page = login("alice").post("/offboard/", {"old": BOB, "mode": "replace", "new": ""}).content.decode()
    assert 'id="offboard-error"' in page and "give the new destination" in page
    page = login("alice").get("/offboard/", {"old": "a@x.org b@x.org", "mode": "remove"}).content.decode()
    assert 'id="offboard-error"' in page and "one address" in page
    assert set(Alias.objects.values_list("version", flat=True)) == {1}


def test_the_audit_log_shows_one_offboarding_alone(login: Callable[[str], Client]) -> None:
    admin = login("alice")
    preview = admin.get("/offboard/", {"old": BOB, "mode": "replace", "new": NEW}).content.decode()
    seen = re.findall(r'name="seen" value="([^"]+)"', preview)
    change = re.search(r'name="change" value="([0-9a-f]{8})"', preview)
    assert change
    apply = {"old": BOB, "mode": "replace", "new": NEW, "seen": seen, "change": change.group(1)}
    done = admin.post("/offboard/", apply)
    link = f'href="/audit/?change={change.group(1)}"'
    assert link in done.content.decode()
    log = admin.get("/audit/", {"change": change.group(1)}).content.decode()
    assert 'id="audit-change"' in log
    rows = re.findall(r"offboarding #" + change.group(1), log)
    assert len(rows) >= len(seen)
    unfiltered = admin.get("/audit/").content.decode()
    assert unfiltered.count("<tr role=\"row\">") > log.count("<tr role=\"row\">")
    # A made-up id is ignored, never a way into the query.
    assert 'id="audit-change"' not in admin.get("/audit/", {"change": "x' OR 1=1"}).content.decode()
    # Editors have no audit log: no link for them.
    bob = login("bob").get("/offboard/", {"old": NEW, "mode": "replace", "new": BOB}).content.decode()
    assert "/audit/?change=" not in bob
