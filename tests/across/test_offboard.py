"""Offboarding: one destination replaced or removed in every alias the user may edit, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aliasdesk.accounts.models import User
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.offboard import CHANGE, EMPTY, SKIPPED, SWITCH_OFF, OffboardRefused, offboard
from aliasdesk.aliases.services import StaleEdit, update_alias
from aliasdesk.deploys.models import Deploy
from tests.across.conftest import BOB

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("forwarders")]
NEW = "carol@example.org"


def state() -> list[tuple[object, ...]]:
    return list(Alias.objects.order_by("pk").values_list("pk", "destinations", "enabled", "version"))


def dests(key: str) -> str:
    return Alias.objects.get(key=key).destinations


def outcomes(plan: object) -> dict[str, str]:
    return {i.key: i.outcome for i in plan.items}  # type: ignore[attr-defined]


def test_the_preview_shows_every_alias_before_and_after_and_changes_nothing(everyone: dict[str, User]) -> None:
    before = state()
    plan = offboard(everyone["alice"], BOB, NEW, dry_run=True)
    assert state() == before
    assert not plan.applied
    items = {i.key: (i.domain, i.before, i.after, i.outcome) for i in plan.items}
    assert items == {
        "team@example.com": (
            "example.com", ["Bob@Example.org", "carla@example.org"], [NEW, "carla@example.org"], CHANGE
        ),
        "solo@example.com": ("example.com", [BOB], [NEW], CHANGE),
        "root": ("example.com", [BOB, "admin@example.net"], [NEW, "admin@example.net"], CHANGE),
        # a quoted local part is the same recipient to Postfix; jimbob@ is not
        "help@other.org": ("other.org", ['"bob"@example.org', "dora@example.org"], [NEW, "dora@example.org"], CHANGE),
        "old@other.org": ("other.org", [BOB, "x@example.net"], [NEW, "x@example.net"], CHANGE),
    }
    assert plan.domains == ["example.com", "other.org"]


def test_apply_replaces_everywhere_with_one_reason_in_each_history(everyone: dict[str, User]) -> None:
    done = offboard(everyone["alice"], "BOB@example.org", NEW)
    assert done.applied and len(done.changes) == 5
    assert dests("team@example.com") == f"{NEW}, carla@example.org"
    assert dests("help@other.org") == f"{NEW}, dora@example.org"
    assert dests("jim@other.org") == "jimbob@example.org"
    assert not Alias.objects.get(key="old@other.org").enabled  # switched-off aliases change, and stay off
    reasons = [a.history.latest("history_id").history_change_reason for a in Alias.objects.filter(  # type: ignore[attr-defined]
        pk__in=[i.alias_id for i in done.changes])]
    assert set(reasons) == {f"offboarding #{done.change_id}: BOB@example.org → {NEW}"}
    assert done.reason in reasons[0] and len(done.change_id) == 8
    assert [d.domain for d in done.deploys] == ["example.com", "other.org"]
    assert done.deploys[0].url == "/domains/example.com/deploy"


def test_an_editor_changes_only_what_they_may_and_sees_the_rest_skipped(everyone: dict[str, User]) -> None:
    root = Alias.objects.get(key="root")
    done = offboard(everyone["bob"], BOB, NEW)
    assert outcomes(done) == {"team@example.com": CHANGE, "solo@example.com": CHANGE, "root": SKIPPED}
    skipped = done.skipped[0]
    assert "only administrators" in skipped.reason
    assert Alias.objects.get(key="root").version == root.version  # never changed
    assert dests("help@other.org") == '"bob"@example.org, dora@example.org'  # not bob's to see
    assert done.domains == ["example.com"]


@pytest.mark.parametrize("name", ["dave", "carol"])
def test_viewers_and_auditors_change_nothing(name: str, everyone: dict[str, User]) -> None:
    before = state()
    done = offboard(everyone[name], BOB, NEW)
    assert state() == before
    assert done.changes == [] and {i.outcome for i in done.items} == {SKIPPED}


def test_remove_refuses_aliases_left_without_destinations_and_changes_nothing(everyone: dict[str, User]) -> None:
    before = state()
    with pytest.raises(OffboardRefused) as refused:
        offboard(everyone["alice"], BOB)
    assert state() == before
    assert "solo@example.com (example.com)" in str(refused.value)
    assert outcomes(refused.value.plan)["solo@example.com"] == EMPTY


def test_remove_may_switch_those_off_instead(everyone: dict[str, User]) -> None:
    done = offboard(everyone["alice"], BOB, switch_off_empty=True)
    solo = Alias.objects.get(key="solo@example.com")
    assert (solo.enabled, solo.destinations) == (False, BOB)
    assert outcomes(done)["solo@example.com"] == SWITCH_OFF
    assert dests("team@example.com") == "carla@example.org"
    assert done.reason == f"offboarding #{done.change_id}: {BOB} removed"


def test_an_alias_off_already_is_not_written_again(everyone: dict[str, User], forwarders: dict[str, Alias]) -> None:
    solo = forwarders["solo@example.com"]
    update_alias(solo, version=solo.version, enabled=False)
    version = Alias.objects.get(pk=solo.pk).version
    done = offboard(everyone["alice"], BOB, switch_off_empty=True)
    assert outcomes(done)["solo@example.com"] == SWITCH_OFF
    assert Alias.objects.get(pk=solo.pk).version == version


def test_all_or_nothing_when_one_alias_changed_since_the_preview(everyone: dict[str, User]) -> None:
    plan = offboard(everyone["alice"], BOB, NEW, dry_run=True)
    expected = {i.alias_id: i.version for i in plan.changes}
    help_ = Alias.objects.get(key="help@other.org")  # applied after the three of example.com
    update_alias(help_, version=help_.version, comment="changed meanwhile")
    before = state()
    with pytest.raises(StaleEdit):
        offboard(everyone["alice"], BOB, NEW, expected=expected)
    assert state() == before


def test_apply_refuses_more_aliases_than_the_preview_showed(everyone: dict[str, User]) -> None:
    plan = offboard(everyone["alice"], BOB, NEW, dry_run=True)
    expected = {i.alias_id: i.version for i in plan.changes[1:]}
    before = state()
    with pytest.raises(AliasError, match="more aliases"):
        offboard(everyone["alice"], BOB, NEW, expected=expected)
    assert state() == before


def test_policy_of_a_domain_skips_its_aliases(everyone: dict[str, User], other: Domain) -> None:
    other.allowed_destination_domains = "example.org"
    other.save()
    done = offboard(everyone["alice"], BOB, "carol@elsewhere.net")
    assert outcomes(done)["help@other.org"] == SKIPPED
    assert "may only forward to example.org" in done.skipped[0].reason
    assert dests("help@other.org") == '"bob"@example.org, dora@example.org'
    assert dests("solo@example.com") == "carol@elsewhere.net"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [("", None, "one address"), ("a@x.org b@x.org", None, "one address"), (BOB, "Bob@example.org", "the old one"),
     (BOB, "|/bin/cat", "command")],
)
def test_bad_input_is_refused_with_a_reason(old: str, new: str | None, message: str, everyone: dict[str, User]) -> None:
    before = state()
    with pytest.raises(AliasError, match=message):
        offboard(everyone["alice"], old, new)
    assert state() == before


def test_the_command_line_acts_as_administrator() -> None:
    done = offboard(None, BOB, NEW, dry_run=True)
    assert len(done.changes) == 5


def test_a_preview_of_many_aliases_reads_in_few_queries(everyone: dict[str, User], example: Domain) -> None:
    from aliasdesk.aliases.services import create_alias

    for i in range(40):
        create_alias(example, f"m{i}@example.com", f"{BOB}, m{i}@example.net")
    with CaptureQueriesContext(connection) as queries:
        plan = offboard(everyone["bob"], BOB, NEW, dry_run=True)
    assert len(plan.changes) == 42
    assert len(queries) < 20


def test_a_domain_with_deploy_on_save_is_deployed_once_after_the_change(
    everyone: dict[str, User], example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    Domain.objects.filter(pk=example.pk).update(deploy_on_save=True)
    with django_capture_on_commit_callbacks(execute=True):
        done = offboard(everyone["alice"], BOB, NEW)
    example.refresh_from_db()
    assert example.deployed_serial == example.serial
    assert Deploy.objects.filter(domain=example, status=Deploy.Status.OK).count() == 1
    assert [(d.domain, d.deploy_on_save) for d in done.deploys] == [("example.com", True), ("other.org", False)]
    deployed = Path(example.map_path).read_text()
    assert NEW in deployed and BOB not in deployed.lower()


def test_the_apply_keeps_the_change_id_of_its_preview_and_refuses_made_up_ones(everyone: dict[str, User]) -> None:
    plan = offboard(everyone["alice"], BOB, NEW, dry_run=True)
    done = offboard(everyone["alice"], BOB, NEW, change_id=plan.change_id)
    assert done.change_id == plan.change_id
    assert offboard(everyone["alice"], NEW, BOB, change_id="x; DROP").change_id != "x; DROP"
