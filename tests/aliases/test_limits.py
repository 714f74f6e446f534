"""Per-domain limits (most aliases, most destinations per alias) on every path that writes.

The limits hold for everyone: an editor, an administrator and the command line (user None).
A refusal changes nothing; switching off and deleting are always allowed; a limit lowered
below the current use keeps the rows and refuses new ones.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.importer import ImportRefused, import_map
from aliasdesk.aliases.limits import LimitExceeded, overuse, warnings_for
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import (
    PasteRefused,
    add_pasted,
    bulk_change,
    create_alias,
    create_domain,
    restore_alias,
    restore_version,
    soft_delete_alias,
    update_alias,
)

pytestmark = pytest.mark.django_db

THREE = "a@example.org, b@example.org, c@example.org"


@pytest.fixture
def domain(aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    domain = create_domain("example.com", map_path=map_dir / "example.com")
    create_alias(domain, "one@example.com", "a@example.org")
    create_alias(domain, "two@example.com", "a@example.org, b@example.org")
    Domain.objects.filter(pk=domain.pk).update(max_aliases=2, max_destinations=2)
    domain.refresh_from_db()
    return domain


@pytest.fixture
def admin() -> User:
    return User.objects.create(username="alice", role=User.Role.ADMIN)


@pytest.fixture
def editor(domain: Domain) -> User:
    user = User.objects.create(username="bob", role=User.Role.EDITOR)
    Grant.objects.create(user=user, domain=domain, role=Grant.Role.EDITOR)
    return user


@pytest.fixture(params=["editor", "admin", "command line"])
def who(request: pytest.FixtureRequest, domain: Domain) -> User | None:
    if request.param == "command line":
        return None
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def snapshot(domain: Domain) -> tuple[object, ...]:
    rows = list(Alias.objects.filter(domain=domain).order_by("id").values_list(
        "key", "destinations", "enabled", "deleted_at", "version"))
    serial = Domain.objects.filter(pk=domain.pk).values_list("serial", flat=True).get()
    return (rows, Alias.history.count(), serial)


def test_a_new_alias_beyond_the_maximum_is_refused_for_everyone(domain, who):
    before = snapshot(domain)
    with pytest.raises(LimitExceeded, match=r"^example.com allows at most 2 aliases; 2 exist$"):
        create_alias(domain, "three@example.com", "a@example.org", user=who)
    assert snapshot(domain) == before


def test_too_many_destinations_on_a_new_alias_are_refused(domain, who):
    soft_delete_alias(Alias.objects.get(key="one@example.com"), version=1)
    with pytest.raises(LimitExceeded, match=r"at most 2 destinations per alias; three@example.com has 3") as caught:
        create_alias(domain, "three@example.com", THREE, user=who)
    assert caught.value.field == "destinations"
    assert not Alias.objects.filter(key="three@example.com").exists()


def test_an_edit_to_too_many_destinations_is_refused_and_within_is_kept(domain, who):
    alias = Alias.objects.get(key="one@example.com")
    before = snapshot(domain)
    with pytest.raises(LimitExceeded, match=r"one@example.com has 3"):
        update_alias(alias, version=alias.version, user=who, destinations=THREE)
    assert snapshot(domain) == before
    update_alias(alias, version=alias.version, user=who, destinations="x@example.org, y@example.org")
    assert Alias.objects.get(pk=alias.pk).destinations == "x@example.org, y@example.org"


def test_switching_off_and_deleting_pass_beyond_a_lowered_limit(domain, who):
    Domain.objects.filter(pk=domain.pk).update(max_aliases=0, max_destinations=1)
    alias = Alias.objects.get(key="two@example.com")  # 2 destinations, limit now 1
    alias = update_alias(alias, version=alias.version, user=who, enabled=False)
    alias = update_alias(alias, version=alias.version, user=who, comment="kept as it is")  # no new destinations
    soft_delete_alias(alias, version=alias.version, user=who)
    assert Alias.objects.get(pk=alias.pk).deleted_at is not None


def test_switching_on_an_alias_beyond_the_destination_limit_is_refused(domain, who):
    alias = Alias.objects.get(key="two@example.com")
    alias = update_alias(alias, version=alias.version, user=who, enabled=False)
    Domain.objects.filter(pk=domain.pk).update(max_destinations=1)
    with pytest.raises(LimitExceeded, match=r"two@example.com has 2"):
        update_alias(alias, version=alias.version, user=who, enabled=True)
    assert Alias.objects.get(pk=alias.pk).enabled is False


def test_restore_needs_room(domain, who):
    alias = Alias.objects.get(key="one@example.com")
    alias = soft_delete_alias(alias, version=alias.version, user=who)
    create_alias(domain, "three@example.com", "a@example.org", user=who)  # takes the freed place
    with pytest.raises(LimitExceeded, match="at most 2 aliases; 2 exist"):
        restore_alias(alias, version=alias.version, user=who)
    assert Alias.objects.get(pk=alias.pk).deleted_at is not None


def test_restoring_an_old_version_with_too_many_destinations_is_refused(domain, who):
    alias = Alias.objects.get(key="two@example.com")
    Domain.objects.filter(pk=domain.pk).update(max_destinations=None)
    alias = update_alias(alias, version=alias.version, user=who, destinations=THREE)
    alias = update_alias(alias, version=alias.version, user=who, destinations="a@example.org")
    wide = alias.history.get(destinations=THREE)
    Domain.objects.filter(pk=domain.pk).update(max_destinations=2)
    with pytest.raises(LimitExceeded, match="has 3"):
        restore_version(alias, wide.history_id, version=alias.version, user=who)
    assert Alias.objects.get(pk=alias.pk).destinations == "a@example.org"


def test_bulk_restore_beyond_the_maximum_changes_nothing(domain, who):
    ids = list(Alias.objects.values_list("pk", flat=True))
    bulk_change(domain, ids, "delete", user=who)
    create_alias(domain, "three@example.com", "a@example.org", user=who)
    before = snapshot(domain)
    message = r"^example.com allows at most 2 aliases; 1 exists; the restore adds 2 more"
    with pytest.raises(LimitExceeded, match=message):
        bulk_change(domain, ids, "restore", user=who)
    assert snapshot(domain) == before


def test_bulk_switch_on_beyond_the_destination_limit_changes_nothing(domain, who):
    ids = list(Alias.objects.values_list("pk", flat=True))
    bulk_change(domain, ids, "disable", user=who)
    Domain.objects.filter(pk=domain.pk).update(max_destinations=1)
    before = snapshot(domain)
    with pytest.raises(LimitExceeded, match=r"nothing changed: example.com allows at most 1 destinations per alias; "
                                            "two@example.com has 2"):
        bulk_change(domain, ids, "enable", user=who)
    assert snapshot(domain) == before
    assert bulk_change(domain, ids, "delete", user=who) == 2  # deleting passes


def test_paste_beyond_the_maximum_adds_nothing_and_says_so(domain, who):
    Domain.objects.filter(pk=domain.pk).update(max_aliases=3)
    before = snapshot(domain)
    with pytest.raises(PasteRefused) as refused:
        add_pasted(domain, f"x@example.com a@example.org\ny@example.com {THREE}\n", user=who)
    assert refused.value.problems == [
        "line 2: example.com allows at most 2 destinations per alias; y@example.com has 3",
        "example.com allows at most 3 aliases; 2 exist; the paste adds 2 more",
    ]
    assert snapshot(domain) == before
    assert add_pasted(domain, "x@example.com a@example.org\n", user=who).added == 1


def test_an_import_beyond_the_maximum_imports_nothing(domain, who, tmp_path):
    source = tmp_path / "virtual"
    source.write_text(f"# new header\nx@example.com a@example.org\ny@example.com {THREE}\n")
    before = snapshot(domain)
    with pytest.raises(ImportRefused) as refused:
        import_map(source, domain.name, user=who)
    messages = [str(p) for p in refused.value.problems]
    assert messages == [
        "example.com allows at most 2 aliases; with this file there would be 4",
        "line 3: example.com allows at most 2 destinations per alias; y@example.com has 3",
    ]
    assert "nothing imported" in str(refused.value)
    assert snapshot(domain) == before
    assert Domain.objects.get(pk=domain.pk).header == ""


def test_import_replace_counts_the_file_and_keeps_existing_wide_aliases(domain, who, tmp_path):
    Domain.objects.filter(pk=domain.pk).update(max_destinations=1)  # two@ has 2: lowered below use
    source = tmp_path / "virtual"
    source.write_text("one@example.com a@example.org\ntwo@example.com a@example.org, b@example.org\n")
    report = import_map(source, domain.name, user=who, replace=True)
    assert report.unchanged == 2
    source.write_text("one@example.com a@example.org\ntwo@example.com a@example.org\nx@example.com a@example.org\n")
    with pytest.raises(ImportRefused, match="at most 2 aliases; the file holds 3"):
        import_map(source, domain.name, user=who, replace=True)
    source.write_text("one@example.com a@example.org, c@example.org\n")
    with pytest.raises(ImportRefused, match=r"line 1: .*one@example.com has 2"):
        import_map(source, domain.name, user=who, replace=True)


def test_an_import_into_a_domain_without_limits_is_not_counted(aliasdesk_settings, map_dir, tmp_path):
    source = tmp_path / "virtual"
    source.write_text("".join(f"k{i}@fresh.example {THREE}\n" for i in range(50)))
    assert import_map(source, "fresh.example", map_file=map_dir / "fresh").created == 50


# --- Setting the limits ------------------------------------------------------------------------


def settings_with(domain: Domain, **limits: str) -> ds.DomainSettings:
    wanted = ds.DomainSettings.of(domain)
    for name, value in limits.items():
        setattr(wanted, name, value)
    return wanted


def test_limits_are_saved_through_the_settings_service_with_history(domain, admin):
    serial = domain.serial
    saved, changed = ds.update_domain_settings(
        domain, settings_with(domain, max_aliases="500", max_destinations=""), version=domain.version, user=admin
    )
    assert changed and (saved.max_aliases, saved.max_destinations) == (500, None)
    assert saved.history.latest("history_id").max_aliases == 500
    # Limits change no map: nothing to deploy.
    assert Domain.objects.get(pk=domain.pk).serial == serial


@pytest.mark.parametrize(("field", "value"), [("max_aliases", "-1"), ("max_aliases", "many"),
                                              ("max_destinations", "0"), ("max_destinations", "1.5")])
def test_a_limit_that_is_not_a_whole_number_is_refused(domain, field, value):
    with pytest.raises(ds.SettingsRefused, match="a whole number of"):
        ds.update_domain_settings(domain, settings_with(domain, **{field: value}), version=domain.version)
    assert Domain.objects.get(pk=domain.pk).version == domain.version


def test_a_limit_lowered_below_use_is_saved_and_warned_about(domain):
    ds.update_domain_settings(
        domain, settings_with(domain, max_aliases="1", max_destinations="1"), version=domain.version
    )
    assert Alias.objects.filter(domain=domain, deleted_at__isnull=True).count() == 2
    found = overuse(domain)
    assert (found.aliases, found.wide, found.wide_keys) == (2, 1, ("two@example.com",))
    warnings = warnings_for(domain)
    assert warnings[0].startswith("example.com holds 2 aliases, more than its limit of 1")
    assert warnings[1].startswith("1 alias has more than 1 destinations (two@example.com)")


def test_the_domain_command_sets_and_clears_limits(domain):
    out, err = io.StringIO(), io.StringIO()
    call_command("domain", "set", "example.com", "--max-aliases", "1", stdout=out, stderr=err)
    assert "example.com: limits set: aliases 1 (2 now), destinations per alias 2" in out.getvalue()
    assert "warning: example.com holds 2 aliases" in err.getvalue()
    call_command("domain", "set", "example.com", "--max-aliases", "none", "--max-destinations", "none", stdout=out)
    domain.refresh_from_db()
    assert (domain.max_aliases, domain.max_destinations) == (None, None)
    assert domain.history.latest("history_id").history_change_reason == "limits · via CLI"
    with pytest.raises(CommandError, match="a whole number"):
        call_command("domain", "set", "example.com", "--max-aliases", "x")
    with pytest.raises(CommandError, match="no domain"):
        call_command("domain", "set", "nowhere.example", "--max-aliases", "1")
