"""Alias domains in the database: who may make one, what is refused, key ownership, and that
every change of the target counts as a change of its alias domains."""

from __future__ import annotations

from pathlib import Path

import pytest

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.aliasdomains import set_alias_of
from aliasdesk.aliases.importer import import_map
from aliasdesk.aliases.lookup import alias_domain_names, managed_table
from aliasdesk.aliases.models import Alias, Domain, MailDomain
from aliasdesk.aliases.ownership import AliasDomainRefused
from aliasdesk.aliases.services import (
    AliasError,
    KeyNotAllowed,
    add_pasted,
    bulk_change,
    create_alias,
    create_domain,
    update_alias,
)
from aliasdesk.postfix.maps.resolve import resolve

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def target(aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    domain = create_domain("target.example", map_path=map_dir / "target.example")
    create_alias(domain, "info@target.example", "anna@example.org")
    domain.refresh_from_db()
    return domain


@pytest.fixture
def alias(target: Domain, map_dir: Path) -> Domain:
    domain = create_domain("alias.example", map_path=map_dir / "alias.example")
    return set_alias_of(domain, target)


def _user(name: str, role: str) -> User:
    user = User(username=name, role=role)
    user.set_unusable_password()
    user.save()
    return user


def test_making_an_alias_domain_is_recorded_and_marks_it_for_a_full_build(alias: Domain, target: Domain) -> None:
    assert alias.alias_of_id == target.pk and alias.alias_mode == "expand"
    alias.refresh_from_db()
    assert alias.rebuild_serial == alias.serial > alias.deployed_serial
    record = alias.history.first()  # type: ignore[attr-defined]
    assert record.alias_of_id == target.pk and "alias domain of target.example" in record.history_change_reason


def test_the_alias_domain_owns_its_own_name(alias: Domain, target: Domain) -> None:
    assert MailDomain.objects.get(name="alias.example").domain_id == alias.pk
    with pytest.raises(KeyNotAllowed, match=r"alias\.example"):
        create_alias(target, "sneaky@alias.example", "x@example.org")


@pytest.mark.parametrize("write", ["create", "paste", "import"])
def test_nobody_writes_aliases_into_an_alias_domain(alias: Domain, tmp_path: Path, write: str) -> None:
    with pytest.raises(AliasDomainRefused, match=r"alias domain of target\.example"):
        if write == "create":
            create_alias(alias, "x@alias.example", "y@example.org")
        elif write == "paste":
            add_pasted(alias, "x@alias.example  y@example.org\n")
        else:
            source = tmp_path / "virtual"
            source.write_text("x@alias.example  y@example.org\n")
            import_map(source, "alias.example")
    assert not Alias.objects.filter(domain=alias).exists()


def test_only_administrators_make_alias_domains(target: Domain, map_dir: Path) -> None:
    other = create_domain("other.example", map_path=map_dir / "other.example")
    editor = _user("bob", User.Role.EDITOR)
    Grant.objects.create(user=editor, domain=other, role=Grant.Role.EDITOR)
    with pytest.raises(AliasError, match="only administrators"):
        set_alias_of(other, target, user=editor)
    admin = _user("alice", User.Role.ADMIN)
    assert set_alias_of(other, target, "catchall", user=admin).alias_mode == "catchall"


def test_refusals_change_nothing(alias: Domain, target: Domain, map_dir: Path) -> None:
    plain = create_domain("plain.example", map_path=map_dir / "plain.example")
    with pytest.raises(AliasError, match="of itself"):
        set_alias_of(plain, plain)
    with pytest.raises(AliasError, match="is an alias domain itself"):
        set_alias_of(plain, alias)  # no chains
    with pytest.raises(AliasError, match="cannot have alias domains of its own"):
        set_alias_of(target, plain)
    create_alias(plain, "a@plain.example", "b@example.org")
    with pytest.raises(AliasError, match="has 1 alias"):
        set_alias_of(plain, target)
    with pytest.raises(AliasError, match="unknown alias domain mode"):
        set_alias_of(plain, target, "wildcard")
    with pytest.raises(AliasError, match=r"changed .* meanwhile"):
        set_alias_of(alias, target, "catchall", version=alias.version - 1)
    assert Domain.objects.get(pk=plain.pk).alias_of_id is None
    assert Domain.objects.get(pk=alias.pk).alias_mode == "expand"


def test_an_alias_domain_becomes_ordinary_again(alias: Domain) -> None:
    plain = set_alias_of(alias, None)
    assert plain.alias_of_id is None
    create_alias(plain, "x@alias.example", "y@example.org")


def test_every_change_of_the_target_counts_for_its_alias_domains(alias: Domain, target: Domain) -> None:
    Domain.objects.filter(pk=alias.pk).update(deployed_serial=alias.serial + 1000)  # as if deployed meanwhile
    before = Domain.objects.get(pk=alias.pk).serial
    row = create_alias(target, "new@target.example", "x@example.org")
    update_alias(row, version=row.version, destinations="z@example.org")
    bulk_change(target, [row.pk], "disable")
    after = Domain.objects.get(pk=alias.pk)
    assert after.serial == before + 3 and after.rebuild_serial == after.serial


def test_resolver_tables_hold_the_generated_lines(alias: Domain, target: Domain) -> None:
    table, maps = managed_table()
    names = alias_domain_names(maps)
    assert names == ["alias.example"]
    assert resolve("INFO@alias.example", table, alias_domains=names).recipients == ["anna@example.org"]
    assert resolve("nobody@alias.example", table, alias_domains=names).rejected


def test_an_editor_granted_the_alias_domain_cannot_write_into_it_either(alias: Domain) -> None:
    editor = _user("bob", User.Role.EDITOR)
    Grant.objects.create(user=editor, domain=alias, role=Grant.Role.EDITOR)
    with pytest.raises(AliasDomainRefused):
        create_alias(alias, "x@alias.example", "y@example.org", user=editor)


def test_a_writer_holding_a_stale_copy_is_refused_once_the_row_is_locked(target: Domain, map_dir: Path) -> None:
    stale = create_domain("late.example", map_path=map_dir / "late.example")
    set_alias_of(Domain.objects.get(pk=stale.pk), target)  # someone else, meanwhile
    assert stale.alias_of_id is None
    serial = Domain.objects.get(pk=stale.pk).serial
    with pytest.raises(AliasDomainRefused):
        create_alias(stale, "x@late.example", "y@example.org")
    assert not Alias.objects.filter(domain=stale).exists()
    assert Domain.objects.get(pk=stale.pk).serial == serial
