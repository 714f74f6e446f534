"""Key ownership through HTTP: every write route of the alias pages, as every role.

example.com holds a protected alias (postmaster@example.com, an admin's) that bob, its
editor, may see but not change; other.org is granted to nobody. The answers:

- 404 for what a role may not see (erin has no domain; bob does not see other.org);
- 403 for what it may see but not change (dave reads, carol audits, bob on the protected alias);
- 422 and a message on the key field for a new key the user may not write;
- after every refusal nothing has changed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain, MailDomain, OwnershipConflict
from aliasdesk.aliases.services import create_alias, update_alias

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

Login = Callable[[str], Client]
DEST = "me@example.net"


def snapshot() -> tuple[Any, ...]:
    return (
        list(Alias.objects.order_by("pk").values()),
        Alias.history.count(),  # type: ignore[attr-defined]
        list(Domain.objects.order_by("pk").values("pk", "serial", "version", "extra_domains", "header", "footer")),
        Domain.history.count(),  # type: ignore[attr-defined]
        sorted(MailDomain.objects.values_list("name", "domain_id")),
        sorted(OwnershipConflict.objects.values_list("domain_id", "mail_domain", "keys")),
    )


def text_of(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def world(everyone: dict[str, User], example: Domain, other: Domain) -> dict[str, Any]:
    protected = create_alias(example, "postmaster@example.com", "hostmaster@example.org")  # the command line
    protected = update_alias(protected, version=protected.version, destinations="ops@example.org")
    mine = Alias.objects.get(domain=example, key="info@example.com")
    foreign = Alias.objects.get(domain=other, key="info@other.org")
    return {"example": example, "other": other, "protected": protected, "mine": mine, "foreign": foreign}


# ---------------------------------------------------------------------------------------
# Every write route that acts on one alias, with the data a real form sends


def _first_history(alias: Alias) -> int:
    return alias.history.order_by("history_id").first().history_id  # type: ignore[attr-defined,no-any-return]


def _bulk(action: str) -> Callable[[str, Alias], tuple[str, dict[str, Any]]]:
    return lambda d, a: (reverse("alias-bulk", args=[d]), {"action": action, "ids": [a.pk]})


ROUTES: dict[str, tuple[str, Callable[[str, Alias], tuple[str, dict[str, Any]]]]] = {
    "alias-edit GET": ("get", lambda d, a: (reverse("alias-edit", args=[d, a.pk]), {})),
    "alias-edit POST": (
        "post",
        lambda d, a: (
            reverse("alias-edit", args=[d, a.pk]),
            {"key": a.key, "destinations": DEST, "comment": "", "enabled": "on", "version": a.version},
        ),
    ),
    "alias-toggle": ("post", lambda d, a: (reverse("alias-toggle", args=[d, a.pk]), {"version": a.version})),
    "alias-delete": ("post", lambda d, a: (reverse("alias-delete", args=[d, a.pk]), {"version": a.version})),
    **{
        f"alias-bulk {action}": ("post", _bulk(action))
        for action in ("enable", "disable", "delete", "restore", "purge")
    },
    "alias-restore-version": (
        "post",
        lambda d, a: (
            reverse("alias-restore-version", args=[d, a.pk, _first_history(a)]),
            {"version": a.version},
        ),
    ),
}


def _request(client: Client, route: str, domain: str, alias: Alias) -> Any:
    method, build = ROUTES[route]
    url, data = build(domain, alias)
    return getattr(client, method)(url, data)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize(
    ("who", "status"),
    [("bob", 403), ("dave", 403), ("carol", 403), ("erin", 404)],
)
def test_protected_alias_is_refused_by_every_route(
    login: Login, world: dict[str, Any], route: str, who: str, status: int
) -> None:
    before = snapshot()
    response = _request(login(who), route, "example.com", world["protected"])
    assert response.status_code == status, text_of(response)[:500]
    assert snapshot() == before
    if status == 404:
        assert "postmaster@example.com" not in text_of(response)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("who", ["bob", "dave", "erin"])
def test_a_domain_the_role_does_not_see_answers_404(login: Login, world: dict[str, Any], route: str, who: str) -> None:
    before = snapshot()
    response = _request(login(who), route, "other.org", world["foreign"])
    assert response.status_code == 404
    assert "dora@example.org" not in text_of(response)
    assert snapshot() == before


@pytest.mark.parametrize("route", list(ROUTES))
def test_an_alias_of_another_domain_under_a_granted_one_answers_404(
    login: Login, world: dict[str, Any], route: str
) -> None:
    before = snapshot()
    response = _request(login("bob"), route, "example.com", world["foreign"])
    if route.startswith("alias-bulk"):
        # A selection is read within the domain of the URL: other domains' ids select nothing.
        assert response.status_code == (403 if route.endswith("purge") else 302)
    else:
        assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    "route", ["alias-edit GET", "alias-edit POST", "alias-toggle", "alias-delete", "alias-bulk disable"]
)
def test_editor_changes_own_aliases_and_admin_changes_protected_ones(
    login: Login, world: dict[str, Any], route: str
) -> None:
    response = _request(login("bob"), route, "example.com", world["mine"])
    assert response.status_code in (200, 302), text_of(response)[:500]
    response = _request(login("alice"), route, "example.com", world["protected"])
    assert response.status_code in (200, 302), text_of(response)[:500]


def test_admin_may_not_switch_on_a_key_another_map_owns(login: Login, world: dict[str, Any]) -> None:
    legacy = Alias.objects.create(
        domain=world["example"], key="x@other.org", key_folded="x@other.org", destinations=DEST, enabled=False
    )
    before = snapshot()
    for route in ("alias-toggle", "alias-bulk enable"):
        response = _request(login("alice"), route, "example.com", legacy)
        assert response.status_code == 403
        assert snapshot() == before
    for route in ("alias-bulk disable", "alias-delete"):
        assert _request(login("alice"), route, "example.com", legacy).status_code in (200, 302)


# ---------------------------------------------------------------------------------------
# New keys: create, inline edit, paste


BOB_REFUSED = [
    "info@other.org",
    "@other.org",
    "INFO@OTHER.ORG",
    '"we ird"@other.org',
    "other.org",
    "root",
    "x@sub.example.com",
    "postmaster@example.com",
    "abuse@example.com",
    "Postmaster@EXAMPLE.com",
    "info@unowned.example",
]
BOB_ALLOWED = ["new@example.com", "NEW2@EXAMPLE.COM", "@example.com", '"we ird"@example.com']
ALICE_REFUSED = ["info@other.org", "@OTHER.org", '"we ird"@other.org']


@pytest.mark.parametrize("key", BOB_REFUSED)
def test_editor_create_with_a_refused_key_is_422_on_the_key_field(
    login: Login, world: dict[str, Any], key: str
) -> None:
    before = snapshot()
    response = login("bob").post(reverse("alias-create", args=["example.com"]), {"key": key, "destinations": DEST})
    assert response.status_code == 422
    page = text_of(response)
    assert re.search(r'<input name="key"[^>]*aria-invalid="true"', page)
    assert f"{key}:" in page
    assert snapshot() == before


@pytest.mark.parametrize("key", BOB_ALLOWED)
def test_editor_create_with_an_owned_key(login: Login, world: dict[str, Any], key: str) -> None:
    response = login("bob").post(reverse("alias-create", args=["example.com"]), {"key": key, "destinations": DEST})
    assert response.status_code == 302
    assert Alias.objects.filter(domain=world["example"], key=key).exists()


@pytest.mark.parametrize("key", ALICE_REFUSED)
def test_admin_create_with_a_key_another_map_owns_is_422(login: Login, world: dict[str, Any], key: str) -> None:
    before = snapshot()
    response = login("alice").post(reverse("alias-create", args=["example.com"]), {"key": key, "destinations": DEST})
    assert response.status_code == 422
    assert "belongs to the map of other.org" in text_of(response)
    assert snapshot() == before


def test_admin_create_claims_an_unowned_mail_domain_and_says_so(login: Login, world: dict[str, Any]) -> None:
    client = login("alice")
    response = client.post(
        reverse("alias-create", args=["example.com"]), {"key": "a@unowned.example", "destinations": DEST}
    )
    assert response.status_code == 302
    assert MailDomain.objects.get(name="unowned.example").domain == world["example"]
    page = text_of(client.get(response.url))
    assert "unowned.example is now also a mail domain of the map of example.com" in page
    for key in ("root", "other.org", "abuse@example.com"):
        assert (
            client.post(reverse("alias-create", args=["example.com"]), {"key": key, "destinations": DEST}).status_code
            == 302
        )


@pytest.mark.parametrize("who", ["dave", "carol"])
def test_readers_get_403_on_create_and_paste(login: Login, world: dict[str, Any], who: str) -> None:
    before = snapshot()
    client = login(who)
    assert (
        client.post(
            reverse("alias-create", args=["example.com"]), {"key": "a@example.com", "destinations": DEST}
        ).status_code
        == 403
    )
    assert client.get(reverse("alias-paste", args=["example.com"])).status_code == 403
    assert (
        client.post(reverse("alias-paste", args=["example.com"]), {"text": f"a@example.com {DEST}"}).status_code == 403
    )
    assert snapshot() == before


def test_erin_gets_404_on_create_and_paste(login: Login, world: dict[str, Any]) -> None:
    before = snapshot()
    client = login("erin")
    assert (
        client.post(
            reverse("alias-create", args=["example.com"]), {"key": "a@example.com", "destinations": DEST}
        ).status_code
        == 404
    )
    assert client.get(reverse("alias-paste", args=["example.com"])).status_code == 404
    assert (
        client.post(reverse("alias-paste", args=["example.com"]), {"text": f"a@example.com {DEST}"}).status_code == 404
    )
    assert snapshot() == before


@pytest.mark.parametrize("key", BOB_REFUSED)
def test_editor_inline_edit_to_a_refused_key_is_refused_on_the_key_field(
    login: Login, world: dict[str, Any], key: str
) -> None:
    mine = world["mine"]
    before = snapshot()
    response = login("bob").post(
        reverse("alias-edit", args=["example.com", mine.pk]),
        {"key": key, "destinations": mine.destinations, "comment": "", "enabled": "on", "version": mine.version},
    )
    # The row comes back as a form for htmx to swap in: 200 (htmx swaps no 4xx by default) or 422.
    assert response.status_code in (200, 422)
    page = text_of(response)
    assert re.search(r'<input name="key"[^>]*aria-invalid="true"', page)
    assert f"{key}:" in page
    assert snapshot() == before


@pytest.mark.parametrize("key", BOB_REFUSED)
def test_editor_paste_with_a_refused_key_is_422_with_its_line(login: Login, world: dict[str, Any], key: str) -> None:
    before = snapshot()
    text = f"ok@example.com\t{DEST}\n{key}\t{DEST}\n"
    response = login("bob").post(reverse("alias-paste", args=["example.com"]), {"text": text})
    assert response.status_code == 422
    page = text_of(response)
    assert "line 2:" in page
    assert text in page  # the text is kept
    assert snapshot() == before


def test_admin_paste_of_keys_another_map_owns_is_422_and_claims_nothing(login: Login, world: dict[str, Any]) -> None:
    before = snapshot()
    text = f"a@new.example\t{DEST}\nb@other.org\t{DEST}\n"
    response = login("alice").post(reverse("alias-paste", args=["example.com"]), {"text": text})
    assert response.status_code == 422
    assert "line 2:" in text_of(response)
    assert snapshot() == before


def test_admin_paste_claims_and_says_so(login: Login, world: dict[str, Any]) -> None:
    client = login("alice")
    response = client.post(reverse("alias-paste", args=["example.com"]), {"text": f"a@new.example\t{DEST}\n"})
    assert response.status_code == 302
    assert "new.example is now also a mail domain" in text_of(client.get(response.url))
    assert MailDomain.objects.get(name="new.example").domain == world["example"]


def test_editor_restore_of_a_version_with_a_refused_key_changes_nothing(login: Login, world: dict[str, Any]) -> None:
    mine = world["mine"]
    # An admin once gave it a key of a mail domain nobody owned; the key went back since.
    Alias.objects.filter(pk=mine.pk).update(key="info@sub.example.com", key_folded="info@sub.example.com")
    mine.refresh_from_db()
    mine.version += 1
    mine.save()  # records the sub.example.com version
    old = mine.history.order_by("-history_id").first().history_id  # type: ignore[attr-defined]
    mine.key = mine.key_folded = "info@example.com"
    mine.version += 1
    mine.save()
    before = snapshot()
    client = login("bob")
    response = client.post(
        reverse("alias-restore-version", args=["example.com", mine.pk, old]), {"version": mine.version}
    )
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "not a mail domain of this map" in text_of(client.get(response.url))
    assert snapshot() == before


def test_editor_restore_of_a_refused_version_from_the_trash_changes_nothing(
    login: Login, world: dict[str, Any]
) -> None:
    mine = world["mine"]
    Alias.objects.filter(pk=mine.pk).update(key="info@other.org", key_folded="info@other.org")
    mine.refresh_from_db()
    mine.version += 1
    mine.save()  # a version with another map's key, written before the rule
    old = mine.history.order_by("-history_id").first().history_id  # type: ignore[attr-defined]
    mine.key = mine.key_folded = "info@example.com"
    mine.version += 1
    mine.save()
    mine = update_alias(mine, version=mine.version, deleted_at=timezone.now())
    before = snapshot()
    response = login("bob").post(
        reverse("alias-restore-version", args=["example.com", mine.pk, old]), {"version": mine.version}
    )
    assert response.status_code in (302, 403)
    assert snapshot() == before


# ---------------------------------------------------------------------------------------
# The grid


def test_grid_shows_an_editor_admins_only_and_no_buttons_for_a_protected_row(
    login: Login, world: dict[str, Any]
) -> None:
    protected, mine = world["protected"], world["mine"]
    page = login("bob").get(reverse("domain-detail", args=["example.com"])).content.decode()
    row = re.search(rf'<tr id="alias-{protected.pk}".*?</tr>', page, re.S)
    assert row, page
    assert "admins only" in row.group()
    assert "administrators only" in html.unescape(row.group())  # why, in the badge's title
    assert 'name="ids"' not in row.group()
    assert reverse("alias-edit", args=["example.com", protected.pk]) not in row.group()
    assert reverse("alias-toggle", args=["example.com", protected.pk]) not in row.group()
    own_row = re.search(rf'<tr id="alias-{mine.pk}".*?</tr>', page, re.S)
    assert own_row
    assert "admins only" not in own_row.group()
    assert 'name="ids"' in own_row.group()
    assert reverse("alias-edit", args=["example.com", mine.pk]) in own_row.group()

    single = login("bob").get(reverse("alias-row", args=["example.com", protected.pk])).content.decode()
    assert "admins only" in single and 'name="ids"' not in single


def test_grid_shows_an_admin_every_button(login: Login, world: dict[str, Any]) -> None:
    protected = world["protected"]
    page = login("alice").get(reverse("domain-detail", args=["example.com"])).content.decode()
    row = re.search(rf'<tr id="alias-{protected.pk}".*?</tr>', page, re.S)
    assert row
    assert "admins only" not in row.group()
    assert 'name="ids"' in row.group()
    assert reverse("alias-edit", args=["example.com", protected.pk]) in row.group()


def test_grid_cache_does_not_leak_buttons_between_roles(login: Login, world: dict[str, Any]) -> None:
    """The row cache is keyed by the reader's rights: alice's rows must not reach bob."""
    protected = world["protected"]
    login("alice").get(reverse("domain-detail", args=["example.com"]))
    page = login("bob").get(reverse("domain-detail", args=["example.com"])).content.decode()
    row = re.search(rf'<tr id="alias-{protected.pk}".*?</tr>', page, re.S)
    assert row and "admins only" in row.group() and 'name="ids"' not in row.group()


@pytest.mark.parametrize("action", ["enable", "disable", "delete", "restore"])
def test_editor_bulk_with_one_protected_alias_is_403_and_changes_none(
    login: Login, world: dict[str, Any], action: str
) -> None:
    before = snapshot()
    response = login("bob").post(
        reverse("alias-bulk", args=["example.com"]),
        {"action": action, "ids": [world["mine"].pk, world["protected"].pk]},
    )
    assert response.status_code == 403
    assert snapshot() == before
