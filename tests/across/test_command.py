"""aliasdesk offboard: the same service as the web and the API, with --dry-run, --as and --json."""

from __future__ import annotations

import json

import pytest

from aliasdesk.aliases.models import Alias
from tests.across.conftest import BOB
from tests.cli.conftest import Run, unchanged

pytestmark = pytest.mark.usefixtures("everyone", "other", "forwarders")
NEW = "carol@example.org"


def test_dry_run_prints_each_change_and_changes_nothing(run: Run) -> None:
    with unchanged():
        out = run("offboard", BOB, "--replace", NEW, "--dry-run")
    lines = out.splitlines()
    assert f"example.com\tteam@example.com\tBob@Example.org, carla@example.org → {NEW}, carla@example.org" in lines
    assert lines[-1].endswith("would change 5 alias(es) in 2 domain(s), 0 skipped, 0 refused")


def test_apply_as_an_editor_with_json(run: Run) -> None:
    done = json.loads(run("offboard", BOB, "--replace", NEW, "--as", "bob", "--json"))
    assert done["applied"] and [c["key"] for c in done["changed"]] == ["team@example.com", "solo@example.com"]
    assert [s["key"] for s in done["skipped"]] == ["root"]
    solo = Alias.objects.get(key="solo@example.com")
    assert solo.destinations == NEW
    assert solo.history.latest("history_id").history_change_reason == f"{done['reason']} · via CLI"  # type: ignore[attr-defined]


def test_remove_refused_with_one_line_and_nothing_changed(run: Run) -> None:
    with unchanged():
        message = run.refused("offboard", BOB, "--remove")
    assert "left without destinations" in message and "solo@example.com" in message
    out = run("offboard", BOB, "--remove", "--switch-off-empty")
    assert "example.com\tsolo@example.com\tbob@example.org → switched off" in out.splitlines()
    assert "example.com: deploy it: aliasdesk deploy example.com" in out.splitlines()


def test_refusals(run: Run) -> None:
    with unchanged():
        assert "no such user" in run.refused("offboard", BOB, "--remove", "--as", "nobody")
        assert "one address" in run.refused("offboard", "a@x.org b@x.org", "--replace", NEW)
