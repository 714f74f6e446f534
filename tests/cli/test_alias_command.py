"""aliasdesk alias ...: every subcommand, its JSON, --as, refusals that change nothing, history via CLI."""

from __future__ import annotations

import json

import pytest

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.render import render_map
from aliasdesk.aliases.services import StaleEdit, update_alias
from tests.cli.conftest import Run, unchanged

pytestmark = pytest.mark.usefixtures("everyone", "other")


def alias(key: str) -> Alias:
    return Alias.objects.get(key_folded=key.lower(), deleted_at__isnull=True)


def test_list_prints_one_tab_separated_line_per_alias(run: Run) -> None:
    lines = run("alias", "list", "example.com").splitlines()
    info = alias("info@example.com")
    assert lines == [
        f"info@example.com\tanna@example.org, ben@example.org\ton\tOPS-1\t1\t-\t#{info.pk}",
        f"sales@example.com\tcarla@example.org\ton\t\t1\t-\t#{alias('sales@example.com').pk}",
    ]


def test_list_searches_as_the_grid_does_and_escapes_line_breaks(run: Run) -> None:
    run("alias", "add", "example.com", "team@example.com", "x@example.org", "--comment", "two\nlines\tand tab")
    assert run("alias", "list", "example.com", "--q", "carla").splitlines()[0].startswith("sales@example.com\t")
    assert run("alias", "list", "example.com", "--q", "OPS-1 ben").count("\n") == 1
    line = run("alias", "list", "example.com", "--q", "lines").strip()
    assert line.split("\t")[3] == "two\\nlines\\tand tab"


def test_list_json_and_the_trash(run: Run) -> None:
    records = json.loads(run("alias", "list", "example.com", "--json"))
    assert [r["key"] for r in records] == ["info@example.com", "sales@example.com"]
    first = records[0]
    assert first == {
        "id": alias("info@example.com").pk,
        "key": "info@example.com",
        "destinations": ["anna@example.org", "ben@example.org"],
        "enabled": True,
        "comment": "OPS-1",
        "valid_until": None,
        "version": 1,
        "deleted": False,
        "deleted_at": None,
        "updated_at": first["updated_at"],
        "updated_by": None,
    }
    run("alias", "delete", "example.com", "sales@example.com")
    trash = json.loads(run("alias", "list", "example.com", "--deleted", "--json"))
    assert [(r["key"], r["deleted"]) for r in trash] == [("sales@example.com", True)]
    assert json.loads(run("alias", "list", "example.com", "--q", "nothing-like-it", "--json")) == []


def test_add_with_comment_switched_off_and_valid_until(run: Run) -> None:
    out = run(
        "alias", "add", "example.com", "Team@Example.com", "a@example.org", "b@example.org, c@example.org",
        "--comment", "OPS-7", "--disabled", "--valid-until", "2031-01-31",
    )
    added = alias("team@example.com")
    assert out.strip() == f"example.com: added Team@Example.com (#{added.pk}, version 1)"
    assert (added.destinations, added.enabled, added.comment, str(added.valid_until)) == (
        "a@example.org, b@example.org, c@example.org", False, "OPS-7", "2031-01-31"
    )
    record = json.loads(run("alias", "add", "example.com", "x@example.com", "y@example.org", "--json"))
    assert (record["key"], record["destinations"], record["enabled"], record["version"]) == (
        "x@example.com", ["y@example.org"], True, 1
    )


def test_set_by_key_in_any_letter_case_or_by_id(run: Run) -> None:
    info = alias("info@example.com")
    run("alias", "set", "example.com", "INFO@example.COM", "--add-destination", "cleo@example.org",
        "--remove-destination", "ANNA@example.org")
    assert alias("info@example.com").destinations == "ben@example.org, cleo@example.org"
    run("alias", "set", "example.com", f"#{info.pk}", "--destinations", "zoe@example.org,max@example.org",
        "--comment", "OPS-9", "--valid-until", "2030-06-01")
    changed = alias("info@example.com")
    assert (changed.destinations, changed.comment, str(changed.valid_until)) == (
        "zoe@example.org, max@example.org", "OPS-9", "2030-06-01"
    )
    record = json.loads(run("alias", "set", "example.com", "info@example.com", "--key", "hello@example.com",
                            "--valid-until", "none", "--json"))
    assert (record["id"], record["key"], record["valid_until"], record["version"]) == (info.pk, "hello@example.com",
                                                                                       None, 4)


def test_set_with_a_stale_version_is_refused_with_the_services_message(run: Run) -> None:
    info = alias("info@example.com")
    update_alias(info, version=1, comment="someone else's change")
    with unchanged():
        message = run.refused("alias", "set", "example.com", "info@example.com", "--comment", "mine", "--version", "1")
    assert message == str(StaleEdit(alias("info@example.com")))
    assert "now version 2" in message
    run("alias", "set", "example.com", "info@example.com", "--comment", "mine", "--version", "2")
    assert alias("info@example.com").comment == "mine"


def test_enable_disable_delete_restore_all_or_none(run: Run) -> None:
    info, sales = alias("info@example.com"), alias("sales@example.com")
    assert run("alias", "disable", "example.com", "info@example.com", f"#{sales.pk}").strip() == (
        "example.com: switched off: 2 of 2"
    )
    assert not Alias.objects.get(pk=info.pk).enabled and not Alias.objects.get(pk=sales.pk).enabled
    document = json.loads(run("alias", "enable", "example.com", "info@example.com", "--json"))
    assert (document["action"], document["changed"], document["aliases"][0]["enabled"]) == ("enable", 1, True)
    run("alias", "delete", "example.com", "info@example.com")
    assert Alias.objects.get(pk=info.pk).deleted_at is not None
    with unchanged():
        assert "no alias info@example.com in example.com" in run.refused(
            "alias", "delete", "example.com", "sales@example.com", "info@example.com"
        )
    run("alias", "restore", "example.com", "INFO@example.com")
    assert Alias.objects.get(pk=info.pk).deleted_at is None


def test_bad_input_changes_nothing(run: Run) -> None:
    with unchanged():
        assert run.refused("alias", "add", "example.com", "new@example.com", "a@b@@").startswith("a@b@@: ")
        assert "U+000A" in run.refused("alias", "add", "example.com", "new@example.com\nroot", "x@example.org")
        assert "U+000A" in run.refused(
            "alias", "set", "example.com", "info@example.com", "--key", "info@example.com\nroot@example.com"
        )
        assert "control character" in run.refused(
            "alias", "set", "example.com", "info@example.com", "--destinations", "x@example.org\x00"
        )
        assert "exists already" in run.refused("alias", "add", "example.com", "INFO@example.com", "x@example.org")
        assert "not a date" in run.refused("alias", "set", "example.com", "info@example.com", "--valid-until", "soon")
        assert "not a destination" in run.refused(
            "alias", "set", "example.com", "info@example.com", "--remove-destination", "nobody@example.org"
        )
        assert "nothing to change" in run.refused("alias", "set", "example.com", "info@example.com")
        assert "no domain" in run.refused("alias", "list", "nope.example")
        assert "has no alias #999999" in run.refused("alias", "enable", "example.com", "#999999")


def test_a_comment_line_break_cannot_start_a_map_entry(run: Run) -> None:
    run("alias", "set", "example.com", "info@example.com", "--comment", "note\nroot@example.com evil@example.net")
    text = render_map(Domain.objects.get(name="example.com")).data.decode()
    assert "\nroot@example.com" not in text and "# root@example.com evil@example.net" in text


def test_history_says_via_cli_and_names_the_user_of_as(run: Run) -> None:
    run("alias", "set", "example.com", "info@example.com", "--comment", "by the system")
    run("alias", "set", "example.com", "info@example.com", "--comment", "by bob", "--as", "bob")
    records = list(Alias.history.filter(id=alias("info@example.com").pk).order_by("history_id"))
    assert [(r.history_user, r.history_change_reason) for r in records[1:]] == [
        (None, "via CLI"),
        (User.objects.get(username="bob"), "via CLI"),
    ]
    run("alias", "disable", "example.com", "info@example.com", "--as", "bob")
    last = Alias.history.filter(id=alias("info@example.com").pk).latest("history_id")
    assert (last.history_user.username, last.history_change_reason) == ("bob", "bulk disable · via CLI")


def test_an_editor_changes_their_domain_and_nothing_else(run: Run) -> None:
    record = json.loads(run("alias", "add", "example.com", "bob@example.com", "b@example.org", "--as", "bob", "--json"))
    assert record["updated_by"] == "bob"
    run("alias", "set", "example.com", "bob@example.com", "--comment", "mine", "--as", "bob")
    with unchanged():
        assert run.refused("alias", "list", "other.org", "--as", "bob") == "no domain other.org"
        assert run.refused("alias", "add", "other.org", "x@other.org", "y@example.org", "--as", "bob") == (
            "no domain other.org"
        )
        assert "belongs to the map of other.org" in run.refused(
            "alias", "add", "example.com", "x@other.org", "y@example.org", "--as", "bob"
        )
        assert "only administrators" in run.refused(
            "alias", "add", "example.com", "root", "y@example.org", "--as", "bob"
        )
        assert "postmaster@" in run.refused(
            "alias", "add", "example.com", "postmaster@example.com", "y@example.org", "--as", "bob"
        )
    # the administrator (no --as) may
    run("alias", "add", "example.com", "root", "y@example.org")


def test_a_viewer_and_an_auditor_read_but_change_nothing(run: Run) -> None:
    assert "info@example.com" in run("alias", "list", "example.com", "--as", "dave")
    assert "info@other.org" in run("alias", "list", "other.org", "--as", "carol")
    with unchanged():
        for name in ("dave", "carol"):
            assert run.refused("alias", "disable", "example.com", "info@example.com", "--as", name) == (
                "you may not change the aliases of example.com"
            )
            assert "may not change" in run.refused(
                "alias", "add", "example.com", "new@example.com", "x@example.org", "--as", name
            )
            assert "may not change" in run.refused(
                "alias", "set", "example.com", "info@example.com", "--comment", "x", "--as", name
            )
        assert run.refused("alias", "list", "example.com", "--as", "erin") == "no domain example.com"
        assert run.refused("alias", "list", "example.com", "--as", "nobody") == "--as nobody: no such user"


def test_a_deactivated_user_may_do_nothing(run: Run) -> None:
    User.objects.filter(username="bob").update(is_active=False)
    with unchanged():
        assert "deactivated" in run.refused("alias", "list", "example.com", "--as", "bob")


def test_the_import_command_says_via_cli_too(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "virtual"
    source.write_text("new@example.com x@example.org\n")
    run("import", str(source), "--domain", "example.com")
    assert Alias.history.get(key="new@example.com").history_change_reason.endswith("via CLI")
