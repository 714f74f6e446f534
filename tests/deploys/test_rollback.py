"""Rolling a domain back to an earlier deploy, against the real postmap.

After the rollback and a deploy, the map is byte for byte the one that deploy installed
(same sha256). Every change goes through the alias services: a refused one (a key another
map owns now, a limit, an editor's missing right) applies nothing at all.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.rollback import RollbackRefused
from aliasdesk.aliases.services import bulk_change, create_alias, create_domain, soft_delete_alias, update_alias
from aliasdesk.deploys import rollback
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postmap(aliasdesk_settings):  # type: ignore[no-untyped-def]
    require_postmap()


@pytest.fixture
def domain(map_dir: Path) -> Domain:
    domain = create_domain("example.com", map_path=map_dir / "example.com")
    ds.update_domain_settings(domain, ds.DomainSettings(header="# first header\n"), version=domain.version)
    create_alias(domain, "info@example.com", "anna@example.org, ben@example.org", comment="OPS-1")
    create_alias(domain, "sales@example.com", "carla@example.org")
    create_alias(domain, "old@example.com", "dora@example.org", enabled=False)
    create_alias(domain, "gone@example.com", "emil@example.org")
    create_alias(domain, "team@shop.example", "fritz@example.org")  # the admin's key claims shop.example
    domain.refresh_from_db()
    return domain


@pytest.fixture
def editor(domain: Domain) -> User:
    user = User.objects.create(username="bob", role=User.Role.EDITOR)
    Grant.objects.create(user=user, domain=domain, role=Grant.Role.EDITOR)
    return user


def deploy(domain: Domain) -> Deploy:
    result = deploy_domain(domain)
    assert result.status == "ok", result.message
    return Deploy.objects.get(pk=result.deploy_id)


def alias(key: str) -> Alias:
    return Alias.objects.get(key=key, deleted_at__isnull=True) if Alias.objects.filter(
        key=key, deleted_at__isnull=True).exists() else Alias.objects.get(key=key)


def state(domain: Domain) -> tuple[object, ...]:
    fresh = Domain.objects.get(pk=domain.pk)
    rows = list(Alias.objects.filter(domain=domain).order_by("id").values_list(
        "id", "key", "destinations", "enabled", "comment", "deleted_at", "version"))
    return rows, fresh.header, fresh.footer, fresh.serial, Alias.history.count(), fresh.history.count()


def change_everything(domain: Domain) -> None:
    """Creates, deletes, a purge, edits, a switch-on, a switch-off, a comment, the header."""
    info = alias("info@example.com")
    update_alias(info, version=info.version, destinations="zoe@example.org", comment="OPS-2")
    sales = alias("sales@example.com")
    update_alias(sales, version=sales.version, enabled=False)
    old = alias("old@example.com")
    update_alias(old, version=old.version, enabled=True, comment="back on")
    gone = alias("gone@example.com")
    soft_delete_alias(gone, version=gone.version)
    bulk_change(domain, [gone.pk], "purge")
    team = alias("team@shop.example")
    soft_delete_alias(team, version=team.version)
    create_alias(domain, "new@example.com", "nina@example.org")
    create_alias(domain, "newer@example.com", "otto@example.org", enabled=False)
    domain.refresh_from_db()
    ds.update_domain_settings(domain, ds.DomainSettings(header="# second header\n"), version=domain.version)


def test_rollback_restores_the_map_byte_for_byte(domain, map_dir):
    first = deploy(domain)
    installed = (map_dir / "example.com").read_bytes()
    change_everything(domain)
    deploy(domain)
    assert (map_dir / "example.com").read_bytes() != installed

    plan = rollback.apply_rollback(domain, first, None)
    assert (plan.restored, plan.removed, plan.changed) == (2, 2, 3)
    assert plan.header_footer_changed
    assert rollback.same_as_deployed(plan, first)
    again = deploy(domain)
    assert again.sha256 == first.sha256
    assert (map_dir / "example.com").read_bytes() == installed
    gone = Alias.objects.get(key="gone@example.com")  # purged, made again under its old id
    assert gone.history.latest("history_id").history_change_reason == plan.point.reason


def test_each_change_carries_the_rollback_reason(domain):
    first = deploy(domain)
    change_everything(domain)
    last = Alias.history.latest("history_id").history_id
    plan = rollback.apply_rollback(domain, first, None)
    new_records = Alias.history.filter(history_id__gt=last)
    assert new_records.count() == 7
    assert set(new_records.values_list("history_change_reason", flat=True)) == {plan.point.reason}
    when = timezone.localtime(first.finished_at)
    assert plan.point.reason == f"rollback to deploy #{first.pk} of {when:%Y-%m-%d %H:%M}"
    assert Domain.objects.get(pk=domain.pk).history.latest("history_id").history_change_reason == plan.point.reason
    info = Alias.objects.get(key="info@example.com")
    assert (info.destinations, info.comment) == ("anna@example.org, ben@example.org", "OPS-1")
    assert Alias.objects.get(key="sales@example.com").enabled is True
    old = Alias.objects.get(key="old@example.com")
    assert (old.enabled, old.comment) == (False, "")
    assert Alias.objects.get(key="new@example.com").deleted_at is not None


def test_the_rollback_reason_is_recorded_in_english_from_a_german_page(domain):
    first = deploy(domain)
    change_everything(domain)
    with translation.override("de"):
        plan = rollback.apply_rollback(domain, first, None)
        assert plan.point.label.startswith(f"Übernahme #{first.pk} vom ")
    assert plan.point.reason.startswith(f"rollback to deploy #{first.pk} of ")
    reasons = set(Alias.history.filter(history_change_reason__startswith="rollback").values_list(
        "history_change_reason", flat=True))
    assert reasons == {plan.point.reason}


def test_the_serial_moves_so_the_next_deploy_installs_it(domain):
    first = deploy(domain)
    change_everything(domain)
    deploy(domain)
    before = Domain.objects.get(pk=domain.pk)
    rollback.apply_rollback(domain, first, None)
    after = Domain.objects.get(pk=domain.pk)
    assert after.serial > before.serial and after.serial != after.deployed_serial


def test_the_preview_shows_the_diff_and_changes_nothing(domain):
    first = deploy(domain)
    change_everything(domain)
    before = state(domain)
    plan = rollback.preview_rollback(domain, first, None)
    assert state(domain) == before
    diff = rollback.rollback_diff(plan)
    assert f"--- {domain.map_path} (now)" in diff and f"+++ {domain.map_path} (as of deploy #{first.pk} of" in diff
    assert "-info@example.com\tzoe@example.org" in diff
    assert "+info@example.com\tanna@example.org, ben@example.org" in diff
    assert "-# second header" in diff and "+# first header" in diff
    assert "+gone@example.com\temil@example.org" in diff and "-new@example.com\tnina@example.org" in diff
    assert plan.summary() == "2 restored, 2 removed, 3 changed, header and footer as then"


def test_nothing_to_roll_back_when_nothing_changed(domain):
    first = deploy(domain)
    plan = rollback.apply_rollback(domain, first, None)
    assert plan.empty and plan.text_now == plan.text_then


def test_a_key_another_map_owns_now_refuses_the_whole_rollback(domain):
    first = deploy(domain)
    change_everything(domain)
    fresh = Domain.objects.get(pk=domain.pk)
    ds.update_domain_settings(fresh, _without_extra(fresh), version=fresh.version)
    create_domain("shop.example", map_path=Path(domain.map_path).parent / "shop.example")
    before = state(domain)
    with pytest.raises(RollbackRefused) as refused:
        rollback.apply_rollback(domain, first, None)
    assert refused.value.problems == [
        "team@shop.example: shop.example belongs to the map of shop.example; its keys can only be written there"
    ]
    assert str(refused.value).startswith("example.com: rollback refused, nothing changed: team@shop.example")
    assert state(domain) == before


def _without_extra(domain: Domain) -> ds.DomainSettings:
    wanted = ds.DomainSettings.of(domain)
    wanted.extra_domains = ""
    return wanted


def test_a_rollback_beyond_a_limit_applies_nothing(domain):
    first = deploy(domain)
    for key in ("info@example.com", "sales@example.com"):
        row = alias(key)
        soft_delete_alias(row, version=row.version)
    create_alias(domain, "new@example.com", "nina@example.org, x@example.org, y@example.org")
    Domain.objects.filter(pk=domain.pk).update(max_aliases=4, max_destinations=2)
    before = state(domain)
    with pytest.raises(RollbackRefused, match="at most 4 aliases; 4 exist"):
        rollback.apply_rollback(domain, first, None)
    assert state(domain) == before


def test_an_editor_rolls_back_aliases_but_not_the_header(domain, editor):
    first = deploy(domain)
    info = alias("info@example.com")
    update_alias(info, version=info.version, destinations="zoe@example.org", user=editor)
    create_alias(domain, "new@example.com", "nina@example.org", user=editor)
    domain.refresh_from_db()
    ds.update_domain_settings(domain, ds.DomainSettings(header="# second header\n", extra_domains="shop.example"),
                              version=domain.version)
    plan = rollback.preview_rollback(domain, first, editor)
    assert plan.header_footer_kept and not plan.header_footer_changed
    assert plan.notes == ["the header and footer are for administrators: they stay as they are now"]
    assert "# second header" in plan.text_then
    plan = rollback.apply_rollback(domain, first, editor)
    assert (plan.removed, plan.changed) == (1, 1)
    fresh = Domain.objects.get(pk=domain.pk)
    assert fresh.header == "# second header\n"
    assert Alias.objects.get(key="info@example.com").updated_by == editor


def test_an_editor_cannot_roll_back_a_key_only_admins_write(domain, editor):
    first = deploy(domain)
    create_alias(domain, "root", "admin@example.org")  # an administrator's bare key
    create_alias(domain, "new@example.com", "nina@example.org", user=editor)
    before = state(domain)
    with pytest.raises(RollbackRefused, match="root: a bare local name"):
        rollback.apply_rollback(domain, first, editor)
    assert state(domain) == before


def test_a_viewer_may_not_roll_back(domain):
    viewer = User.objects.create(username="dave", role=User.Role.VIEWER)
    Grant.objects.create(user=viewer, domain=domain, role=Grant.Role.VIEWER)
    first = deploy(domain)
    with pytest.raises(PermissionDenied):
        rollback.apply_rollback(domain, first, viewer)


def test_a_change_since_the_preview_refuses_the_confirmation(domain):
    first = deploy(domain)
    create_alias(domain, "new@example.com", "nina@example.org")
    seen = Domain.objects.get(pk=domain.pk).serial
    create_alias(domain, "newer@example.com", "otto@example.org")
    with pytest.raises(RollbackRefused, match="changed since the preview"):
        rollback.apply_rollback(domain, first, None, expected_serial=seen)
    assert Alias.objects.filter(deleted_at__isnull=True, key__startswith="new").count() == 2


def test_only_a_deploy_that_installed_a_map_is_a_target(domain):
    failed = Deploy.objects.create(domain=domain, status=Deploy.Status.FAILED, error="postmap failed")
    with pytest.raises(Exception, match=f"deploy #{failed.pk} of example.com installed no map"):
        rollback.rollback_target(domain, failed.pk)
    with pytest.raises(AliasError, match=r"example.com has no deploy #999"):
        rollback.rollback_target(domain, 999)


def test_the_command_previews_and_rolls_back(domain, map_dir):
    first = deploy(domain)
    installed = (map_dir / "example.com").read_bytes()
    change_everything(domain)
    before = state(domain)
    out = io.StringIO()
    call_command("rollback", "example.com", "--to-deploy", str(first.pk), "--dry-run", stdout=out)
    assert "+info@example.com\tanna@example.org, ben@example.org" in out.getvalue()
    assert "2 restored, 2 removed, 3 changed" in out.getvalue()
    assert state(domain) == before
    out = io.StringIO()
    call_command("rollback", "example.com", "--to-deploy", str(first.pk), stdout=out)
    assert f"example.com: rolled back to deploy #{first.pk}" in out.getvalue()
    assert "(the same text it installed)" in out.getvalue()
    last = Alias.history.filter(domain=domain).latest("history_id")
    assert last.history_change_reason.endswith("via CLI")
    call_command("deploy", "example.com", stdout=io.StringIO())
    assert (map_dir / "example.com").read_bytes() == installed
    with pytest.raises(CommandError, match="has no deploy #999"):
        call_command("rollback", "example.com", "--to-deploy", "999")


def test_a_key_taken_by_a_newer_alias_goes_back_to_the_old_one(domain):
    first = deploy(domain)
    sales = alias("sales@example.com")
    soft_delete_alias(sales, version=sales.version)
    newer = create_alias(domain, "sales@example.com", "someone@example.org")  # a new row takes the key
    info = alias("info@example.com")
    update_alias(info, version=info.version, key="sales-old@example.com")
    plan = rollback.apply_rollback(domain, first, None)
    assert (plan.restored, plan.removed, plan.changed) == (1, 1, 1)
    live = Alias.objects.filter(domain=domain, deleted_at__isnull=True)
    assert live.get(key="sales@example.com").pk == sales.pk
    assert Alias.objects.get(pk=newer.pk).deleted_at is not None
    assert rollback.same_as_deployed(plan, first)


def test_a_patch_deploy_records_its_hash_and_is_a_target_too(domain, map_dir):
    deploy(domain)
    create_alias(domain, "patched@example.com", "pia@example.org")
    patched = deploy(domain)
    installed = (map_dir / "example.com").read_bytes()
    assert patched.method == "patch"
    assert patched.sha256 == hashlib.sha256(installed).hexdigest()
    create_alias(domain, "later@example.com", "lea@example.org")
    deploy(domain)
    plan = rollback.apply_rollback(domain, patched, None)
    assert (plan.removed, plan.restored, plan.changed) == (1, 0, 0)
    assert rollback.same_as_deployed(plan, patched)
    deploy(domain)
    assert (map_dir / "example.com").read_bytes() == installed
