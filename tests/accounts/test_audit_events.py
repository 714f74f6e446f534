"""The audit log's third kind: sign-ins, lockouts, users, grants and two-factor changes,
recorded through record_event and paged together with alias and domain history."""

from __future__ import annotations

import re
import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from aliasdesk.accounts import twofactor
from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import SecurityEvent, User
from aliasdesk.aliases.domain_services import DomainSettings, update_domain_settings
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.web.audit import AuditFilter, audit_page
from tests.accounts.conftest import PASSWORD, client_from, current_code, sign_in

pytestmark = pytest.mark.django_db


def events(action: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(action=action).order_by("pk"))


def admin_client(alice: User) -> Client:
    client = client_from("10.0.0.3")
    assert sign_in(client, "alice").status_code == 302
    return client


def test_sign_in_sign_out_and_failures_are_recorded_with_the_address(alice: User):
    client = client_from("10.0.0.7")
    sign_in(client, "alice", "wrong")
    sign_in(client, "nobody", "wrong")
    sign_in(client, "alice")
    client.post("/logout/")
    failed = events("login.failed")
    assert [(e.subject_name, e.subject, e.detail, e.address) for e in failed] == [
        ("alice", alice, "wrong password", "10.0.0.7"),
        ("nobody", None, "no such user", "10.0.0.7"),
    ]
    assert all(e.actor is None for e in failed)
    (login,) = events("login")
    assert (login.actor, login.subject, login.address) == (alice, alice, "10.0.0.7")
    (logout,) = events("logout")
    assert logout.actor == alice


def test_a_lockout_is_recorded_once_after_the_failure_that_caused_it(alice: User):
    client = client_from("10.0.0.8")
    for _ in range(7):
        sign_in(client, "alice", "wrong")
    (lockout,) = events("lockout")
    assert lockout.subject == alice and lockout.address == "10.0.0.8" and lockout.detail == "after 5 failures"
    failures = events("login.failed")
    assert len(failures) == 7 and failures[4].pk < lockout.pk < failures[5].pk
    assert [e.detail for e in failures[5:]] == ["refused: locked out"] * 2


def test_users_and_grants_changed_on_the_pages_are_recorded(alice: User, bob: User, example: Domain):
    client = admin_client(alice)
    other = create_domain("other.org")
    client.post("/users/new", {"username": "frank", "role": "editor", "password": "a long pass 42",
                               "password2": "a long pass 42"})
    frank = User.objects.get(username="frank")
    (created,) = [e for e in events("user.created") if e.subject == frank]
    assert created.actor == alice and created.after == {"role": "editor", "active": True, "password": "set"}
    assert created.address == "10.0.0.3"

    client.post(f"/users/{frank.pk}/", {"role": "viewer"})  # and not active
    (changed,) = events("user.changed")
    assert changed.before == {"role": "editor", "active": True}
    assert changed.after == {"role": "viewer", "active": False}

    client.post(f"/users/{bob.pk}/password", {"password": "another long pass 7", "password2": "another long pass 7"})
    (password,) = events("password.set")
    assert password.subject == bob and password.actor == alice and password.before == password.after == {}

    client.post(f"/users/{bob.pk}/grants", {"domain": other.pk, "role": "viewer"})
    client.post(f"/users/{bob.pk}/grants", {"domain": other.pk, "role": "editor"})
    client.post(f"/users/{bob.pk}/grants/{other.pk}/revoke")
    grant_events = SecurityEvent.objects.filter(domain=other).order_by("pk")
    grants = [(e.action, e.domain, e.before, e.after) for e in grant_events]
    assert grants == [
        ("grant.added", other, {}, {"domain": "other.org", "role": "viewer"}),
        ("grant.changed", other, {"role": "viewer"}, {"domain": "other.org", "role": "editor"}),
        ("grant.revoked", other, {"domain": "other.org", "role": "editor"}, {}),
    ]
    assert all(e.actor == alice for e in SecurityEvent.objects.filter(domain=other))


def test_ones_own_password_change_is_recorded_never_the_password(alice: User):
    client = admin_client(alice)
    response = client.post("/password/", {"old_password": PASSWORD, "new_password1": "brand new pass 42",
                                          "new_password2": "brand new pass 42"})
    assert response.status_code == 302
    (event,) = events("password.set")
    assert event.subject == alice and event.detail == "own password"
    everything = str(list(SecurityEvent.objects.values()))
    assert "brand new pass 42" not in everything and PASSWORD not in everything


def test_the_command_line_records_users_and_grants_without_an_actor(example: Domain, fast_hashing):
    out = StringIO()
    call_command("user", "add", "gina", "--role", "editor", "--domain", "example.com", stdout=out)
    gina = User.objects.get(username="gina")
    (created,) = events("user.created")
    assert created.subject == gina and created.actor is None and created.address is None
    assert created.after["password"] == "generated"
    (grant,) = events("grant.added")
    assert grant.domain == example and grant.subject == gina and grant.detail == "command line"


def test_the_real_command_records_a_user_added_with_a_password_from_stdin(tmp_path):
    # Its own SQLite file, read below, whatever database the suite runs on.
    env = {k: v for k, v in __import__("os").environ.items() if k != "ALIASDESK_DATABASE_URL"}
    env["ALIASDESK_DATA_DIR"] = str(tmp_path)
    run = lambda *args, **kw: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "aliasdesk", *args], env=env,
        capture_output=True, text=True, **kw,
    )
    assert run("migrate", "--verbosity", "0").returncode == 0
    result = run("user", "add", "hank", "--role", "viewer", "--password-stdin", input="a long pass 42\n")
    assert result.returncode == 0, result.stderr
    import sqlite3

    rows = sqlite3.connect(tmp_path / "aliasdesk.sqlite3").execute(
        "SELECT action, subject_name, actor_id, detail FROM accounts_securityevent").fetchall()
    assert rows == [("user.created", "hank", None, "command line")]


def test_two_factor_changes_are_recorded(alice: User, bob: User):
    client = client_from()
    sign_in(client, "bob")
    client.post("/account/2fa/enrol", {"action": "start"})
    device = twofactor.pending_device(bob)
    assert device is not None
    client.post("/account/2fa/enrol", {"action": "confirm", "code": current_code(device)})
    client.post("/account/2fa/codes")
    admin_client(alice).post(f"/users/{bob.pk}/2fa-reset")
    changes = SecurityEvent.objects.filter(action__startswith="2fa").order_by("pk")
    assert [(e.action, e.actor, e.subject) for e in changes] == [
        ("2fa.enrolled", bob, bob),
        ("2fa.codes", bob, bob),
        ("2fa.reset", alice, bob),
    ]


def test_the_audit_page_shows_security_events_and_domain_settings(alice: User, bob: User, example: Domain):
    sign_in(client_from("10.0.0.9"), "bob", "wrong")
    update_domain_settings(example, DomainSettings(header="# hello\n"), version=example.version, user=alice)
    page = admin_client(alice).get("/audit/").content.decode()
    assert "sign-in failed" in page and "from 10.0.0.9" in page and "wrong password" in page
    assert "user created" in page and "domain granted" in page
    assert "domain settings" in page and "# hello" in page  # Domain.history, as before


def _security_rows(page: str) -> list[str]:
    return re.findall(r'<td role="cell" class="what"><span class="badge[^"]*">([^<]*)</span>', page)


def test_the_filters_apply_to_security_events(alice: User, bob: User, example: Domain):
    sign_in(client_from("10.0.0.9"), "bob", "wrong")
    client = admin_client(alice)
    page = client.get("/audit/", {"kind": "security"}).content.decode()
    assert "sign-in failed" in page and "info@" not in page
    page = client.get("/audit/", {"kind": "security", "user": "bob"}).content.decode()
    rows = _security_rows(page)
    assert "sign-in failed" in rows and "user created" in rows and "signed in" not in rows  # alice's own sign-in
    page = client.get("/audit/", {"kind": "security", "user": "-"}).content.decode()
    assert "sign-in failed" in _security_rows(page) and "signed in" not in _security_rows(page)
    page = client.get("/audit/", {"kind": "security", "domain": "example.com"}).content.decode()
    assert _security_rows(page) == ["domain granted"]
    page = client.get("/audit/", {"kind": "alias"}).content.decode()
    assert _security_rows(page) == []


def _walk(wanted: AuditFilter, size: int) -> list[tuple[str, Any]]:
    """Every row, page after page, oldest links followed; and back with the newer links."""
    rows: list[tuple[str, Any]] = []
    page = audit_page(wanted, size=size)
    pages = [page]
    while True:
        rows += [(c.kind, c.record.pk if c.kind == "security" else c.record.history_id) for c in page.changes]
        if not page.older:
            break
        from aliasdesk.web.audit import decode_cursor

        page = audit_page(wanted, before=decode_cursor(page.older), size=size)
        pages.append(page)
    return rows


def test_paging_goes_through_all_three_kinds_newest_first_without_gaps_or_repeats(
    alice: User, example: Domain, django_assert_max_num_queries
):
    for n in range(23):
        create_alias(example, f"a{n}@example.com", "x@example.org", user=alice)
        record_event("login", actor=alice, subject=alice, detail=f"n{n}")
        if n % 5 == 0:
            example.refresh_from_db()
            update_domain_settings(example, DomainSettings(header=f"# v{n}\n"), version=example.version, user=alice)
    total = Alias.history.count() + Domain.history.count() + SecurityEvent.objects.count()
    rows = _walk(AuditFilter(), size=7)
    assert len(rows) == total and len(set(rows)) == total
    assert {kind for kind, _ in rows} == {"alias", "domain", "security"}
    changes = [c for p in [audit_page(AuditFilter(), size=total)] for c in p.changes]
    dates = [c.when for c in changes]
    assert dates == sorted(dates, reverse=True)
    logins = [c.record.detail for c in changes if c.kind == "security" and c.record.action == "login"]
    assert logins == [f"n{n}" for n in range(22, -1, -1)]
    with django_assert_max_num_queries(8):
        audit_page(AuditFilter(), size=50)


def test_paging_back_with_newer_gives_the_same_page(alice: User, example: Domain):
    for n in range(12):
        create_alias(example, f"b{n}@example.com", "x@example.org", user=alice)
        record_event("logout", actor=alice, subject=alice)
    from aliasdesk.web.audit import decode_cursor

    first = audit_page(AuditFilter(), size=5)
    second = audit_page(AuditFilter(), before=decode_cursor(first.older), size=5)
    back = audit_page(AuditFilter(), after=decode_cursor(second.newer), size=5)
    assert [c.record.pk for c in back.changes] == [c.record.pk for c in first.changes]
    assert [c.kind for c in back.changes] == [c.kind for c in first.changes]


def test_record_event_refuses_an_unknown_action(db):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown security event"):
        record_event("token.stolen")
