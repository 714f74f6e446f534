"""aliasdesk user list/set/disable/grant/revoke (and add): the user page's services and refusals,
--json, --as (administrators only), the audit log's actor."""

from __future__ import annotations

import json

import pytest

from aliasdesk.accounts.models import Grant, SecurityEvent, User
from tests.cli.conftest import Run

pytestmark = pytest.mark.usefixtures("everyone", "other")


def grants(name: str) -> dict[str, str]:
    return dict(Grant.objects.filter(user__username=name).values_list("domain__name", "role"))


def test_list_shows_role_state_and_domains(run: Run) -> None:
    lines = run("user", "list").splitlines()
    assert lines == [
        "alice\tadmin\tactive\tlocal\t-",
        "bob\teditor\tactive\tlocal\texample.com (editor)",
        "carol\tauditor\tactive\tlocal\t-",
        "dave\tviewer\tactive\tlocal\texample.com (viewer)",
        "erin\teditor\tactive\tlocal\t-",
    ]
    records = json.loads(run("user", "list", "--json"))
    assert records[1] == {
        "username": "bob", "role": "editor", "active": True, "source": "local", "email": "",
        "domains": [{"domain": "example.com", "role": "editor"}],
    }


def test_grant_and_revoke_all_or_none(run: Run) -> None:
    record = json.loads(run("user", "grant", "erin", "example.com", "other.org", "--json"))
    assert record["domains"] == [{"domain": "example.com", "role": "editor"}, {"domain": "other.org", "role": "editor"}]
    assert run("user", "grant", "dave", "other.org").strip() == "dave has now other.org"
    assert grants("dave") == {"example.com": "viewer", "other.org": "viewer"}
    assert "no such domain: nope.example" in run.refused("user", "grant", "bob", "other.org", "nope.example")
    assert grants("bob") == {"example.com": "editor"}
    assert "make them a domain editor first" in run.refused("user", "grant", "dave", "other.org", "--role", "editor")
    assert "sees every domain already" in run.refused("user", "grant", "carol", "other.org")
    assert run("user", "revoke", "erin", "other.org").strip() == "erin no longer has other.org"
    assert grants("erin") == {"example.com": "editor"}
    assert "no such domain" in run.refused("user", "revoke", "erin", "example.com", "nope.example")
    assert grants("erin") == {"example.com": "editor"}


def test_set_and_disable(run: Run) -> None:
    assert run("user", "set", "bob", "--role", "viewer").strip() == "bob: viewer, active"
    assert grants("bob") == {"example.com": "viewer"}  # a viewer's grants become viewer grants
    record = json.loads(run("user", "disable", "erin", "--json"))
    assert (record["username"], record["active"]) == ("erin", False)
    run("user", "set", "erin", "--active", "on")
    assert User.objects.get(username="erin").is_active
    assert "no user called nobody" in run.refused("user", "set", "nobody", "--active", "off")


def test_the_pages_refusals_apply(run: Run) -> None:
    assert run.refused("user", "disable", "alice") == "alice is the last active administrator"
    assert run.refused("user", "set", "alice", "--role", "editor") == "alice is the last active administrator"
    run("user", "set", "carol", "--role", "admin")
    assert run.refused("user", "disable", "carol", "--as", "carol") == "you cannot deactivate yourself"
    assert "your own administrator role" in run.refused("user", "set", "carol", "--role", "viewer", "--as", "carol")
    User.objects.filter(username="erin").update(source=User.Source.DIRECTORY)
    assert "directory user" in run.refused("user", "grant", "erin", "example.com")
    assert "follows their directory groups" in run.refused("user", "set", "erin", "--role", "viewer")
    assert grants("erin") == {} and User.objects.get(username="erin").role == "editor"


def test_only_administrators_manage_users(run: Run) -> None:
    for name in ("bob", "carol", "dave"):
        assert run.refused("user", "list", "--as", name) == f"{name} may not manage users: only administrators may"
        assert "only administrators" in run.refused("user", "grant", name, "other.org", "--as", name)
        assert "only administrators" in run.refused("user", "add", "mallory", "--role", "admin", "--as", name)
    assert not User.objects.filter(username="mallory").exists()
    assert grants("bob") == {"example.com": "editor"}


def test_the_audit_log_names_who_did_it(run: Run) -> None:
    run("user", "grant", "erin", "other.org", "--as", "alice")
    event = SecurityEvent.objects.latest("pk")
    assert (event.action, event.actor_name, event.subject_name) == ("grant.added", "alice", "erin")
    run("user", "revoke", "erin", "other.org")
    event = SecurityEvent.objects.latest("pk")
    assert (event.action, event.actor_name, event.detail) == ("grant.revoked", "", "command line")


def test_add_and_the_other_actions_print_json(run: Run, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    record = json.loads(run("user", "add", "fay", "--role", "viewer", "--domain", "example.com", "--json"))
    assert (record["username"], record["role"], record["domains"]) == (
        "fay", "viewer", [{"domain": "example.com", "role": "viewer"}]
    )
    assert len(record["password"]) >= 12
    assert json.loads(run("user", "unlock", "fay", "--json")) == {"username": "fay", "action": "unlock", "done": False}
    assert json.loads(run("user", "reset-2fa", "fay", "--json"))["done"] is False
    assert run("user", "unlock", "fay").strip() == "fay was not locked"
