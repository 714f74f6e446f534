"""Key ownership: every key form × every write path × admin (user and command line) and editor.

The world: own.example (its map also owns bücher.example, an IDN mail domain) and
victim.example (its map also owns münchen.example); unowned.example belongs to no map.
An editor is granted own.example only. The rule (aliases.ownership.authorize_key):

- editors write only ``local@owned`` and ``@owned`` keys of their map's mail domains, never
  bare names or bare domain lines, never postmaster@/abuse@ (unless the map allows it);
- a key of a mail domain another map owns is refused for everyone, admins included;
- an admin's key of a mail domain nobody owns claims it for the map.

A refusal changes nothing: no alias row, no history row, the same serials, extra domains
and MailDomain rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.importer import ImportRefused, import_map
from aliasdesk.aliases.models import Alias, Domain, MailDomain, OwnershipConflict
from aliasdesk.aliases.ownership import KeyNotAllowed, authorize_key, claim_mail_domains, untouchable_reason
from aliasdesk.aliases.services import (
    PasteRefused,
    add_pasted,
    bulk_change,
    create_alias,
    create_domain,
    restore_alias,
    restore_version,
    update_alias,
)
from aliasdesk.postfix.maps.keys import key_form, ownership_findings
from aliasdesk.postfix.maps.virtual import Entry, parse_virtual

pytestmark = pytest.mark.django_db

OWN, VICTIM = "own.example", "victim.example"
OWN_IDN, VICTIM_IDN = "bücher.example", "münchen.example"
DEST = "dest@example.org"

OK, CLAIM, REFUSED = "ok", "claim", "refused"


@dataclass(frozen=True)
class Case:
    key: str
    admin: str  # OK, REFUSED or the mail domain the key claims
    editor: str  # OK or REFUSED

    @property
    def id(self) -> str:
        return self.key


CASES = [
    Case("info@own.example", OK, OK),
    Case("INFO@OWN.EXAMPLE", OK, OK),
    Case("@own.example", OK, OK),
    Case("info@victim.example", REFUSED, REFUSED),
    Case("@victim.example", REFUSED, REFUSED),
    Case("victim.example", OK, REFUSED),  # a bare domain line: admins only
    Case("root", OK, REFUSED),  # a bare local name: admins only
    Case("x@sub.own.example", "sub.own.example", REFUSED),  # a subdomain is another mail domain
    Case("info@VICTIM.example", REFUSED, REFUSED),
    Case('"we ird"@victim.example', REFUSED, REFUSED),
    Case('"we ird"@own.example', OK, OK),
    Case("info@bücher.example", OK, OK),
    Case("info@xn--bcher-kva.example", OK, OK),
    Case("info@BÜCHER.example", OK, OK),
    Case("info@xn--mnchen-3ya.example", REFUSED, REFUSED),
    Case("info@münchen.example", REFUSED, REFUSED),
    Case("info@XN--MNCHEN-3YA.example", REFUSED, REFUSED),
    Case("postmaster@own.example", OK, REFUSED),
    Case("abuse@own.example", OK, REFUSED),
    Case("Postmaster@own.example", OK, REFUSED),
    Case("info@unowned.example", "unowned.example", REFUSED),
]


@dataclass
class World:
    own: Domain
    victim: Domain
    admin: User
    editor: User
    tmp: Path


def make_user(name: str, role: str) -> User:
    user = User(username=name, role=role, is_staff=role == User.Role.ADMIN)
    user.set_unusable_password()
    user.save()
    return user


@pytest.fixture
def world(aliasdesk_settings, map_dir: Path, tmp_path: Path) -> World:  # type: ignore[no-untyped-def]
    own = create_domain(OWN, map_path=map_dir / OWN)
    victim = create_domain(VICTIM, map_path=map_dir / VICTIM)
    claim_mail_domains(own, [OWN_IDN], user=None, reason="test")
    claim_mail_domains(victim, [VICTIM_IDN], user=None, reason="test")
    create_alias(victim, "info@victim.example", "v@example.org")
    admin = make_user("ada", User.Role.ADMIN)
    editor = make_user("eddy", User.Role.EDITOR)
    Grant.objects.create(user=editor, domain=own, role=Grant.Role.EDITOR)
    own.refresh_from_db()
    victim.refresh_from_db()
    return World(own, victim, admin, editor, tmp_path)


def snapshot() -> tuple[Any, ...]:
    """Everything a refused change must leave as it was."""
    return (
        list(Alias.objects.order_by("pk").values()),
        Alias.history.count(),  # type: ignore[attr-defined]
        list(Domain.objects.order_by("pk").values("pk", "serial", "version", "extra_domains", "header", "footer")),
        Domain.history.count(),  # type: ignore[attr-defined]
        sorted(MailDomain.objects.values_list("name", "domain_id")),
        sorted(OwnershipConflict.objects.values_list("domain_id", "mail_domain", "keys")),
    )


def legacy_row(domain: Domain, key: str, *, enabled: bool = True, deleted: bool = False) -> Alias:
    """A row as an admin or an old version wrote it, past today's rule (straight into the table)."""
    return Alias.objects.create(
        domain=domain,
        key=key,
        key_folded=key.lower(),
        destinations=DEST,
        enabled=enabled,
        deleted_at=timezone.now() if deleted else None,
    )


# ---------------------------------------------------------------------------------------
# The paths: setup (as an admin or a legacy writer) returns a state; act does the change as
# the user under test and returns the alias that now has the key.

Setup = Callable[[World, str], Any]
Act = Callable[[World, "User | None", str, Any], Alias]


def _none(world: World, key: str) -> None:
    return None


def _create(world: World, user: User | None, key: str, state: Any) -> Alias:
    return create_alias(world.own, key, DEST, user=user)


def _seed(world: World, key: str) -> Alias:
    return create_alias(world.own, "seed@own.example", DEST)


def _key_change(world: World, user: User | None, key: str, alias: Alias) -> Alias:
    return update_alias(alias, version=alias.version, user=user, key=key)


def _disabled(world: World, key: str) -> Alias:
    return legacy_row(world.own, key, enabled=False)


def _enable(world: World, user: User | None, key: str, alias: Alias) -> Alias:
    return update_alias(alias, version=alias.version, user=user, enabled=True)


def _bulk_enable(world: World, user: User | None, key: str, alias: Alias) -> Alias:
    bulk_change(world.own, [alias.pk], "enable", user=user)
    return Alias.objects.get(pk=alias.pk)


def _trashed(world: World, key: str) -> Alias:
    return legacy_row(world.own, key, deleted=True)


def _bulk_restore(world: World, user: User | None, key: str, alias: Alias) -> Alias:
    bulk_change(world.own, [alias.pk], "restore", user=user)
    return Alias.objects.get(pk=alias.pk)


def _restore(world: World, user: User | None, key: str, alias: Alias) -> Alias:
    return restore_alias(alias, version=alias.version, user=user)


def _paste(world: World, user: User | None, key: str, state: Any) -> Alias:
    add_pasted(world.own, f"{key}\t{DEST}\n", user=user)
    return Alias.objects.get(domain=world.own, key=key, deleted_at__isnull=True)


def _import(world: World, user: User | None, key: str, state: Any) -> Alias:
    src = world.tmp / "import.virtual"
    src.write_text(f"{key}\t{DEST}\n", encoding="utf-8")
    import_map(src, OWN, user=user)
    return Alias.objects.get(domain=world.own, key=key, deleted_at__isnull=True)


def _old_version(world: World, key: str) -> tuple[Alias, int]:
    """An alias that had ``key`` once (written by an admin or before the rule) and is seed@ now."""
    alias = legacy_row(world.own, key)
    first = alias.history.get().history_id  # type: ignore[attr-defined]
    alias.key, alias.key_folded, alias.version = "seed@own.example", "seed@own.example", 2
    alias.save()
    return alias, first


def _restore_version(world: World, user: User | None, key: str, state: tuple[Alias, int]) -> Alias:
    alias, history_id = state
    return restore_version(alias, history_id, version=alias.version, user=user)


PATHS: dict[str, tuple[Setup, Act]] = {
    "create_alias": (_none, _create),
    "update_alias-key": (_seed, _key_change),
    "update_alias-enable": (_disabled, _enable),
    "bulk-enable": (_disabled, _bulk_enable),
    "bulk-restore": (_trashed, _bulk_restore),
    "add_pasted": (_none, _paste),
    "import_map": (_none, _import),
    "restore_version": (_old_version, _restore_version),
    "restore_alias": (_trashed, _restore),
}

ROLES = ["admin", "command-line", "editor"]


def _user(world: World, role: str) -> User | None:
    return {"admin": world.admin, "command-line": None, "editor": world.editor}[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_key_form_by_path_by_role(world: World, case: Case, path: str, role: str) -> None:
    setup, act = PATHS[path]
    user = _user(world, role)
    expected = case.editor if role == "editor" else case.admin
    state = setup(world, case.key)
    before = snapshot()
    owners_before = sorted(MailDomain.objects.values_list("name", "domain_id"))
    extra_before = Domain.objects.get(pk=world.own.pk).extra_domains
    if expected == REFUSED:
        with pytest.raises(AliasError) as caught:
            act(world, user, case.key, state)
        _assert_refusal_says_why(caught.value, path)
        assert snapshot() == before, f"a refused {path} changed something"
        return
    alias = act(world, user, case.key, state)
    alias.refresh_from_db()
    assert alias.domain_id == world.own.pk
    assert alias.key == case.key
    assert alias.enabled and alias.deleted_at is None
    own = Domain.objects.get(pk=world.own.pk)
    owners = sorted(MailDomain.objects.values_list("name", "domain_id"))
    if expected == OK:
        assert owners == owners_before, "a key of an owned mail domain (or a bare key) claimed something"
        assert own.extra_domains == extra_before
    else:
        assert role != "editor", "editors never widen the map's mail domains"
        assert MailDomain.objects.get(name=expected).domain_id == world.own.pk
        assert expected in own.extra_domains.split()
        assert sorted([*owners_before, (expected, world.own.pk)]) == owners


def _assert_refusal_says_why(exc: AliasError, path: str) -> None:
    if path == "add_pasted":
        assert isinstance(exc, PasteRefused)
        assert any(p.startswith("line 1:") for p in exc.problems), exc.problems
    elif path == "import_map":
        assert isinstance(exc, ImportRefused)
        assert [p.line for p in exc.problems if p.severity == "error"] == [1]
    else:
        assert isinstance(exc, KeyNotAllowed), repr(exc)
    assert str(exc)


# ---------------------------------------------------------------------------------------
# Role addresses, when an admin lets editors change them


@pytest.mark.parametrize("key", ["postmaster@own.example", "abuse@own.example", "ABUSE@bücher.example"])
@pytest.mark.parametrize("path", ["create_alias", "update_alias-key", "add_pasted", "import_map", "bulk-enable"])
def test_editors_write_role_addresses_when_the_map_allows_it(world: World, key: str, path: str) -> None:
    Domain.objects.filter(pk=world.own.pk).update(editors_role_addresses=True)
    world.own.refresh_from_db()
    setup, act = PATHS[path]
    alias = act(world, world.editor, key, setup(world, key))
    assert Alias.objects.get(pk=alias.pk).key == key


def test_role_addresses_of_another_map_stay_refused_when_editors_may_change_their_own(world: World) -> None:
    Domain.objects.filter(pk=world.own.pk).update(editors_role_addresses=True)
    world.own.refresh_from_db()
    with pytest.raises(KeyNotAllowed):
        create_alias(world.own, "postmaster@victim.example", DEST, user=world.editor)


# ---------------------------------------------------------------------------------------
# Aliases an editor may see but not touch


PROTECTED = ["postmaster@own.example", "root", "victim.example", "x@sub.own.example", "info@unowned.example"]


@pytest.mark.parametrize("key", PROTECTED)
@pytest.mark.parametrize(
    "change",
    [
        "edit-destinations",
        "edit-comment",
        "edit-key",
        "toggle-off",
        "delete",
        "bulk-disable",
        "bulk-delete",
        "bulk-enable",
        "restore-version",
        "restore",
    ],
)
def test_editor_may_not_touch_an_alias_whose_key_they_could_not_write(world: World, key: str, change: str) -> None:
    trashed = change == "restore"
    alias = legacy_row(world.own, key, enabled=change != "bulk-enable", deleted=trashed)
    if change == "restore-version":
        alias.destinations, alias.version = "new@example.org", 2
        alias.save()  # a second history entry, written past the rule like the first
    assert untouchable_reason(world.editor, alias)
    before = snapshot()
    user, v = world.editor, alias.version
    actions: dict[str, Callable[[], object]] = {
        "edit-destinations": lambda: update_alias(alias, version=v, user=user, destinations="me@example.org"),
        "edit-comment": lambda: update_alias(alias, version=v, user=user, comment="mine"),
        "edit-key": lambda: update_alias(alias, version=v, user=user, key="mine@own.example"),
        "toggle-off": lambda: update_alias(alias, version=v, user=user, enabled=False),
        "delete": lambda: update_alias(alias, version=v, user=user, deleted_at=timezone.now()),
        "bulk-disable": lambda: bulk_change(world.own, [alias.pk], "disable", user=user),
        "bulk-delete": lambda: bulk_change(world.own, [alias.pk], "delete", user=user),
        "bulk-enable": lambda: bulk_change(world.own, [alias.pk], "enable", user=user),
        "restore-version": lambda: restore_version(
            alias,
            alias.history.order_by("history_id").first().history_id,
            version=v,
            user=user,  # type: ignore[attr-defined]
        ),
        "restore": lambda: restore_alias(alias, version=v, user=user),
    }
    with pytest.raises(KeyNotAllowed):
        actions[change]()
    assert snapshot() == before


def test_a_bulk_change_with_one_protected_alias_changes_none_of_them(world: World) -> None:
    mine = create_alias(world.own, "mine@own.example", DEST, user=world.editor)
    protected = legacy_row(world.own, "postmaster@own.example")
    before = snapshot()
    with pytest.raises(KeyNotAllowed, match="nothing changed"):
        bulk_change(world.own, [mine.pk, protected.pk], "disable", user=world.editor)
    assert snapshot() == before


@pytest.mark.parametrize("key", ["info@victim.example", "info@unowned.example", "root", "postmaster@own.example"])
@pytest.mark.parametrize("action", ["disable", "delete"])
def test_admins_may_always_switch_off_and_delete(world: World, key: str, action: str) -> None:
    alias = legacy_row(world.own, key)
    for user in (world.admin, None):
        bulk_change(world.own, [alias.pk], action, user=user)
        alias.refresh_from_db()
        assert (not alias.enabled) if action == "disable" else alias.deleted_at is not None
        Alias.objects.filter(pk=alias.pk).update(enabled=True, deleted_at=None)
        alias.refresh_from_db()
        off = update_alias(alias, version=alias.version, user=user, enabled=False)
        assert not off.enabled
        Alias.objects.filter(pk=alias.pk).update(enabled=True)
        alias.refresh_from_db()
        gone = update_alias(alias, version=alias.version, user=user, deleted_at=timezone.now())
        assert gone.deleted_at is not None
        Alias.objects.filter(pk=alias.pk).update(deleted_at=None)
        alias.refresh_from_db()


def test_admin_may_edit_the_comment_of_a_foreign_legacy_alias_but_not_switch_it_on(world: World) -> None:
    alias = legacy_row(world.own, "info@victim.example", enabled=False)
    alias = update_alias(alias, version=alias.version, user=world.admin, comment="settle this")
    assert alias.comment == "settle this"
    before = snapshot()
    with pytest.raises(KeyNotAllowed, match=r"belongs to the map of victim\.example"):
        update_alias(alias, version=alias.version, user=world.admin, enabled=True)
    assert snapshot() == before


def test_restore_version_refused_changes_nothing_even_from_the_trash(world: World) -> None:
    """A version with a refused key, restored while the alias is in the trash: both steps or none."""
    alias = legacy_row(world.own, "info@victim.example")
    first = alias.history.get().history_id  # type: ignore[attr-defined]
    alias.key, alias.key_folded, alias.version, alias.deleted_at = (
        "seed@own.example",
        "seed@own.example",
        2,
        timezone.now(),
    )
    alias.save()
    before = snapshot()
    with pytest.raises(KeyNotAllowed):
        restore_version(alias, first, version=alias.version, user=world.editor)
    assert snapshot() == before, "restore_version took the alias out of the trash although the version was refused"


# ---------------------------------------------------------------------------------------
# The input policy's name pattern applies to every key form


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("info@own.example", True),
        ("INFO@own.example", False),
        ("@own.example", False),  # a catch-all's name is empty
        ('"we ird"@own.example', False),  # read unquoted: "we ird"
        ("info@bücher.example", True),
        ("x-1@own.example", False),
    ],
)
@pytest.mark.parametrize("path", ["create_alias", "update_alias-key", "add_pasted"])
@pytest.mark.parametrize("role", ["admin", "editor"])
def test_name_pattern_applies_to_every_key_form(world: World, key: str, allowed: bool, path: str, role: str) -> None:
    Domain.objects.filter(pk=world.own.pk).update(localpart_pattern="[a-z]+")
    world.own.refresh_from_db()
    setup, act = PATHS[path]
    state = setup(world, key)
    if isinstance(state, Alias):
        state.domain.refresh_from_db()
    user = _user(world, role)
    before = snapshot()
    if allowed:
        assert act(world, user, key, state).key == key
        return
    with pytest.raises(AliasError, match=r"pattern|problem") as caught:
        act(world, user, key, state)
    if isinstance(caught.value, PasteRefused):
        assert "pattern" in caught.value.problems[0]
    else:
        assert caught.value.field == "key"
    assert snapshot() == before


@pytest.mark.parametrize("key", ["root", "victim.example"])
def test_name_pattern_applies_to_bare_keys_of_admins(world: World, key: str) -> None:
    Domain.objects.filter(pk=world.own.pk).update(localpart_pattern="[a-z]{5,}")
    world.own.refresh_from_db()
    with pytest.raises(AliasError, match="pattern"):
        create_alias(world.own, key, DEST, user=world.admin)


# ---------------------------------------------------------------------------------------
# Claims: who owns which mail domain


def test_admin_claim_adds_the_mail_domain_and_a_second_map_can_not_claim_it(world: World) -> None:
    alias = create_alias(world.own, "info@unowned.example", DEST, user=world.admin)
    assert alias.claimed == ["unowned.example"]  # type: ignore[attr-defined]
    world.own.refresh_from_db()
    assert "unowned.example" in world.own.extra_domains.split()
    assert MailDomain.objects.get(name="unowned.example").domain == world.own
    before = snapshot()
    for user in (world.admin, None):
        with pytest.raises(KeyNotAllowed, match=r"belongs to the map of own\.example"):
            create_alias(world.victim, "x@unowned.example", DEST, user=user)
        with pytest.raises(KeyNotAllowed):
            claim_mail_domains(world.victim, ["unowned.example"], user=user, reason="test")
        with pytest.raises(KeyNotAllowed):
            claim_mail_domains(world.victim, ["UNOWNED.example."], user=user, reason="test")
    with pytest.raises(AliasError, match=r"mail domain of the map of own\.example"):
        create_domain("unowned.example")
    assert snapshot() == before


def test_claiming_an_idn_in_either_spelling_is_one_mail_domain(world: World) -> None:
    create_alias(world.own, "a@xn--caf-dma.example", DEST, user=world.admin)
    assert MailDomain.objects.get(name="café.example").domain == world.own
    with pytest.raises(KeyNotAllowed):
        create_alias(world.victim, "b@café.example", DEST, user=world.admin)
    with pytest.raises(AliasError):
        create_domain("café.example")


def test_two_domains_never_own_one_mail_domain_at_the_database_level(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MailDomain.objects.create(name=OWN, domain=world.victim)
    with pytest.raises(IntegrityError), transaction.atomic():
        MailDomain.objects.create(name=OWN_IDN, domain=world.victim)
    assert MailDomain.objects.get(name=OWN).domain == world.own


def test_every_domain_owns_its_own_name_and_its_extra_domains(world: World) -> None:
    assert sorted(MailDomain.objects.filter(domain=world.own).values_list("name", flat=True)) == [OWN_IDN, OWN]
    assert world.own.extra_domains.split() == [OWN_IDN]
    assert sorted(MailDomain.objects.filter(domain=world.victim).values_list("name", flat=True)) == [VICTIM_IDN, VICTIM]


def test_an_editor_paste_never_widens(world: World) -> None:
    before = snapshot()
    with pytest.raises(PasteRefused) as caught:
        add_pasted(
            world.own,
            f"ok@own.example\t{DEST}\nx@unowned.example\t{DEST}\ny@sub.own.example\t{DEST}\n",
            user=world.editor,
        )
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 2", "line 3"]
    assert "an administrator can add it" in caught.value.problems[0]
    assert snapshot() == before


def test_an_editor_import_never_widens_and_lists_the_lines(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(f"ok@own.example\t{DEST}\nx@unowned.example\t{DEST}\n@victim.example\t{DEST}\nroot\t{DEST}\n")
    before = snapshot()
    with pytest.raises(ImportRefused) as caught:
        import_map(src, OWN, user=world.editor)
    assert [p.line for p in caught.value.problems] == [2, 3, 4]
    assert snapshot() == before


def test_an_editor_import_of_another_domain_is_refused(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(f"x@victim.example\t{DEST}\n")
    before = snapshot()
    with pytest.raises(PermissionDenied):
        import_map(src, VICTIM, user=world.editor)
    assert snapshot() == before


def test_admin_import_of_a_legacy_multi_domain_map_claims_its_domains_and_says_so(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(
        "# the old /etc/postfix/virtual\n"
        f"info@hub.example\t{DEST}\n"
        f"sales@one.example\t{DEST}\n"
        f"@two.example\t{DEST}\n"
        f"x@ONE.example\t{DEST}\n"
        f"three.example\tanything\n"
        f"root\t{DEST}\n"
        f"#off@four.example\t{DEST}\n"
    )
    report = import_map(src, "hub.example", map_file=world.tmp / "hub.example", user=world.admin)
    hub = Domain.objects.get(name="hub.example")
    assert hub.extra_domains.split() == ["one.example", "two.example"]
    assert sorted(MailDomain.objects.filter(domain=hub).values_list("name", flat=True)) == [
        "hub.example",
        "one.example",
        "two.example",
    ]
    warnings = [(p.line, p.message) for p in report.problems if p.severity == "warning"]
    assert (3, "one.example is now a mail domain of this map (its keys start on this line)") in warnings
    assert (4, "two.example is now a mail domain of this map (its keys start on this line)") in warnings
    assert not MailDomain.objects.filter(name__in=["three.example", "four.example"]).exists()
    assert report.created == 7


def test_command_line_import_claims_like_an_admin(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(f"a@one.example\t{DEST}\nb@two.example\t{DEST}\nc@three.example\t{DEST}\n")
    report = import_map(src, "legacy.example", map_file=world.tmp / "legacy.example")
    legacy = Domain.objects.get(name="legacy.example")
    assert legacy.extra_domains.split() == ["one.example", "three.example", "two.example"]
    assert sorted(p.line for p in report.problems) == [1, 2, 3]


def test_admin_import_with_keys_of_another_map_is_refused_with_their_line_numbers(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(
        f"a@one.example\t{DEST}\n"
        f"b@victim.example\t{DEST}\n"
        f"c@one.example\t{DEST}\n"
        f"@VICTIM.example\t{DEST}\n"
        f"d@xn--mnchen-3ya.example\t{DEST}\n"
        f'"q"@victim.example\t{DEST}\n'
        f"#e@victim.example\t{DEST}\n"
    )
    before = snapshot()
    for user in (world.admin, None):
        with pytest.raises(ImportRefused) as caught:
            import_map(src, "legacy.example", map_file=world.tmp / "legacy.example", user=user)
        lines = [p.line for p in caught.value.problems]
        assert lines == [2, 4, 5, 6]
        assert all("belongs to the map of victim.example" in p.message for p in caught.value.problems)
        assert "line 2" in str(caught.value)
        assert snapshot() == before
    assert not Domain.objects.filter(name="legacy.example").exists()


def test_authorize_key_is_the_rule(world: World) -> None:
    """The service function itself, the one every path asks."""
    assert authorize_key(world.editor, world.own, "a@own.example") is None
    assert authorize_key(None, world.own, "a@new.example") == "new.example"
    assert authorize_key(world.admin, world.own, "a@NEW.example") == "new.example"
    with pytest.raises(KeyNotAllowed, match="only administrators"):
        authorize_key(world.editor, world.own, "root")
    with pytest.raises(KeyNotAllowed, match="administrators only"):
        authorize_key(world.editor, world.own, "postmaster@own.example")
    with pytest.raises(KeyNotAllowed, match=r"belongs to the map of victim\.example"):
        authorize_key(None, world.own, "a@victim.example")


# ---------------------------------------------------------------------------------------
# An editor's import with --replace takes the whole file: it must not reach protected aliases


def test_editor_import_replace_does_not_delete_protected_aliases(world: World) -> None:
    legacy_row(world.own, "postmaster@own.example")
    legacy_row(world.own, "root")
    src = world.tmp / "virtual"
    src.write_text(f"mine@own.example\t{DEST}\n")
    before = snapshot()
    with pytest.raises((KeyNotAllowed, ImportRefused, PermissionDenied)):
        import_map(src, OWN, user=world.editor, replace=True)
    assert snapshot() == before


def test_editor_import_replace_does_not_rewrite_protected_aliases_through_disabled_lines(world: World) -> None:
    legacy_row(world.own, "postmaster@own.example")
    src = world.tmp / "virtual"
    src.write_text("#postmaster@own.example\tme@example.org\n")
    before = snapshot()
    with pytest.raises((KeyNotAllowed, ImportRefused, PermissionDenied)):
        import_map(src, OWN, user=world.editor, replace=True)
    assert snapshot() == before


def test_admin_import_replace_still_takes_the_whole_file(world: World) -> None:
    legacy_row(world.own, "postmaster@own.example")
    src = world.tmp / "virtual"
    src.write_text(f"root\t{DEST}\n#postmaster@own.example\tme@example.org\n")
    report = import_map(src, OWN, user=world.admin, replace=True)
    assert report.updated == 1 and report.created == 1
    assert not Alias.objects.get(domain=world.own, key="postmaster@own.example").enabled


# ---------------------------------------------------------------------------------------
# What an editor can write, the deploy never calls foreign (the two rules agree)

_PIECES = [
    "info",
    "x",
    "@",
    '"',
    "\\",
    ".",
    "+",
    "%",
    " ",
    "own.example",
    "victim.example",
    "OWN.EXAMPLE",
    "xn--bcher-kva.example",
    "bücher.example",
    "münchen.example",
    "sub.",
    "[192.0.2.1]",
    "postmaster",
    "example",
]


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6))
def test_an_editor_can_write_nothing_the_deploy_would_call_foreign(world: World, pieces: list[str]) -> None:
    key = "".join(pieces)
    owned = set(MailDomain.objects.filter(domain=world.own).values_list("name", flat=True))
    with transaction.atomic():
        try:
            create_alias(world.own, key, DEST, user=world.editor)
        except AliasError:
            written = False
        else:
            written = True
        transaction.set_rollback(True)
    if written:
        stored = key.strip()
        form = key_form(stored)
        assert not form.bare and form.domain in owned, stored
        assert not form.role_address, stored
        assert ownership_findings([Entry(stored, DEST, True, "", 1)], owned) == [], stored
        parsed = parse_virtual(f"{stored}\t{DEST}\n")
        assert [e.key for e in parsed.entries] == [stored], stored


@hyp_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6))
def test_what_an_admin_writes_the_map_owns_afterwards(world: World, pieces: list[str]) -> None:
    key = "".join(pieces)
    with transaction.atomic():
        try:
            create_alias(world.own, key, DEST, user=world.admin)
        except AliasError:
            owned = None
        else:
            owned = set(MailDomain.objects.filter(domain=world.own).values_list("name", flat=True))
        transaction.set_rollback(True)
    if owned is not None:
        stored = key.strip()
        found = ownership_findings([Entry(stored, DEST, True, "", 1)], owned)
        if key_form(stored).bare:
            assert [(f.severity, f.code[:5]) for f in found] == [("warning", "bare-")], stored
        else:
            assert found == [], stored


# ---------------------------------------------------------------------------------------
# The command line acts as an admin


def test_cli_import_claims_and_says_so(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(f"a@legacy.example\t{DEST}\nb@one.example\t{DEST}\n")
    out = io.StringIO()
    call_command("import", str(src), "--domain", "legacy.example", "--map-file", str(world.tmp / "legacy"), stdout=out)
    assert "line 2: one.example is now a mail domain of this map" in out.getvalue()
    assert MailDomain.objects.get(name="one.example").domain.name == "legacy.example"


def test_cli_import_refuses_keys_of_another_map_with_their_lines(world: World) -> None:
    src = world.tmp / "virtual"
    src.write_text(
        f"a@legacy.example\t{DEST}\nb@victim.example\t{DEST}\nc@legacy.example\t{DEST}\n@victim.example\tx\n"
    )
    err = io.StringIO()
    before = snapshot()
    with pytest.raises(CommandError, match="2 problem"):
        call_command(
            "import", str(src), "--domain", "legacy.example", "--map-file", str(world.tmp / "legacy"), stderr=err
        )
    assert "line 2:" in err.getvalue() and "line 4:" in err.getvalue()
    assert snapshot() == before
