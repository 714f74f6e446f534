"""The functions that change domains and aliases. Every change goes through here.

Each change bumps the domain's ``serial`` in the same transaction, so the deploy
engine can tell "nothing changed" without rendering, and records history.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import idna
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.accounts.display import shorten
from aliasdesk.accounts.models import User
from aliasdesk.aliases.errors import AliasError as AliasError  # re-exported: callers catch it from here
from aliasdesk.aliases.limits import LimitExceeded as LimitExceeded  # re-exported, as AliasError
from aliasdesk.aliases.limits import check_destinations, check_room, destinations_problem, limits_of
from aliasdesk.aliases.models import Alias, Domain, MapType
from aliasdesk.aliases.ownership import KeyNotAllowed as KeyNotAllowed  # re-exported, as AliasError
from aliasdesk.aliases.ownership import (
    Owners,
    acts_as_admin,
    authorize_change,
    authorize_key,
    claim_mail_domains,
    register_own_name,
    require_editor,
)
from aliasdesk.aliases.paths import check_map_path
from aliasdesk.aliases.signals import map_changed
from aliasdesk.aliases.virtual_table import follow_after_commit
from aliasdesk.postfix.maps.keys import key_form
from aliasdesk.postfix.maps.validate import check_destination, check_key
from aliasdesk.postfix.maps.virtual import join_destinations, normalize_comment, parse_virtual, split_destinations

_DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Control characters; TAB, LF and CR are separators where addresses are typed, lines in comments.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


class StaleEdit(AliasError):
    """Someone else saved first. ``current`` is the row as it is now."""

    def __init__(self, current: Alias) -> None:
        values = {"key": current.key, "user": current.updated_by, "version": current.version,
                  "when": f"{current.updated_at:%Y-%m-%d %H:%M:%S}"}
        if current.updated_by:
            message = _("{key} was changed by {user} at {when} (now version {version}); reload and apply your "
                        "change again")
        else:
            message = _("{key} was changed by someone else at {when} (now version {version}); reload and apply "
                        "your change again")
        super().__init__(message.format(**values))
        self.current = current


def normalize_domain_name(name: str) -> str:
    """Lower-case a domain name and check it; internationalised names stay in UTF-8."""
    text = name.strip().rstrip(".").lower()
    if not text or any(ch.isspace() for ch in text) or len(text) > 253:
        raise AliasError(_("not a domain name: {name}").format(name=repr(name)))
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AliasError(_("not a domain name: {name} ({reason})").format(name=repr(name), reason=exc)) from exc
    if not all(_DOMAIN_LABEL_RE.match(label) for label in ascii_form.split(".")):
        raise AliasError(_("not a domain name: {name}").format(name=repr(name)))
    return text


def default_map_path(name: str) -> Path:
    return Path(settings.MAP_DIR) / name


def create_domain(
    name: str,
    *,
    map_path: str | Path | None = None,
    map_type: str | None = None,
    user: User | None = None,
    nodes: list[str] | None = None,
) -> Domain:
    name = normalize_domain_name(name)
    node_text = "\n".join(check_node_names(nodes or []))
    map_type = map_type or settings.MAP_TYPE
    if map_type not in MapType.values:
        raise AliasError(_("unknown map type {type}: use one of {types}").format(
            type=repr(map_type), types=", ".join(MapType.values)))
    path = check_map_path(map_path or default_map_path(name))
    if Domain.objects.filter(name=name).exists():
        raise AliasError(_("domain {name} exists already").format(name=name))
    if Domain.objects.filter(map_path=str(path)).exists():
        raise AliasError(_("{path} is already the map file of another domain").format(path=path))
    with transaction.atomic():
        domain = Domain(name=name, map_path=str(path), map_type=map_type, nodes=node_text)
        domain._history_user = user  # type: ignore[attr-defined]
        domain.save()
        register_own_name(domain)
    return domain


NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_node_names(names: list[str]) -> list[str]:
    """Node names (mail hosts, agent mode) as given, each checked, without repeats."""
    seen: list[str] = []
    for name in names:
        name = name.strip()
        if not NODE_NAME.fullmatch(name):
            raise AliasError(_("{name} is not a node name: letters, digits, '.', '_' and '-', up to 100").format(
                name=repr(name)), "nodes")
        if name not in seen:
            seen.append(name)
    return seen


def bump_serial(
    domain: Domain, *, rebuild: bool = False, user: User | None = None, announce: bool = True, rows: bool = False
) -> int:
    """Count one more change of the domain; returns the new serial for the rows it touches.

    It locks the domain row until the transaction ends, so serials are handed out in the
    order changes commit and a deploy's snapshot sees every change up to its serial.
    ``rebuild``: the change is not one of rows (header, footer, settings, an import): the
    next deploy builds the whole map instead of patching it. With the domain's "deploy on
    save", ``map_changed`` goes out after the commit (unless ``announce`` is off: the deploy
    engine's own changes). The domain's alias domains count the change too (see aliasdomains).
    After the commit, the lookup table of ``postfix-config`` follows the change, whatever
    ``announce`` says (aliasdesk.aliases.virtual_table).
    """
    # rebuild_serial is set first: MariaDB reads a column already assigned in the same UPDATE
    # (serial + 1, then + 1 again); PostgreSQL and SQLite read the old row either way.
    fields: dict[str, object] = {"rebuild_serial": F("serial") + 1} if rebuild else {}
    fields["serial"] = F("serial") + 1
    Domain.objects.filter(pk=domain.pk).update(**fields)
    follow_after_commit(domain.pk)  # the table Postfix may read directly (postfix-config)
    serial, on_save, alias_of = (
        Domain.objects.filter(pk=domain.pk).values_list("serial", "deploy_on_save", "alias_of_id").get()
    )
    if rows and alias_of is not None:
        # ``rows``: the caller writes alias rows. The domain became an alias domain after the
        # caller's check; now that its row is locked, refuse (see require_editor).
        domain.alias_of_id = alias_of
        require_editor(user, domain)
    if on_save and announce:
        _announce(domain.pk, user)
    # An alias domain's map is generated from this one's rows: it changes too, and is built whole.
    followers = Domain.objects.filter(alias_of_id=domain.pk, deleted_at__isnull=True)
    if followers.update(rebuild_serial=F("serial") + 1, serial=F("serial") + 1):  # in this order: see above
        for pk, follower_on_save in followers.values_list("pk", "deploy_on_save"):
            follow_after_commit(pk)
            if follower_on_save and announce:
                _announce(pk, user)
    return int(serial)


def _announce(pk: int, user: User | None) -> None:
    # After the commit, so the deploy sees the change; the deploy skips when an earlier
    # change of the same save already deployed it.
    transaction.on_commit(lambda: map_changed.send(sender=Domain, domain_id=pk, user=user))


def _require_text(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AliasError(_("the text contains characters that are not valid Unicode"), field) from exc


def clean_key(domain: Domain, key: str) -> str:
    """The key as it will be stored, or AliasError: nothing typed may inject a line or a comment."""
    _require_text(key, "key")
    key = key.strip()
    problem = check_key(key)
    if problem:
        raise AliasError(_("{key}: {problem}").format(key=shorten(key), problem=problem) if key else problem, "key")
    if domain.localpart_pattern:
        # Every key form: a catch-all's name is empty, a quoted one is read unquoted.
        local = key_form(key).local
        if not re.fullmatch(domain.localpart_pattern, local):
            if local:
                message = _("the name {name} does not match this domain's pattern for names: {pattern}")
            else:
                message = _("{key} (its name is empty) does not match this domain's pattern for names: {pattern}")
            raise AliasError(
                message.format(name=shorten(local), key=shorten(key), pattern=domain.localpart_pattern), "key"
            )
    return key


def clean_destinations(destinations: str | Iterable[str], domain: Domain | None = None) -> str:
    """Destinations as stored: the addresses in order, joined by ", "; each one checked."""
    texts = [destinations] if isinstance(destinations, str) else list(destinations)
    for text in texts:
        _require_text(text, "destinations")
        if _CONTROL_RE.search(text):
            raise AliasError(_("destinations contain a control character"), "destinations")
    tokens = [t for text in texts for t in split_destinations(text)]
    if not tokens:
        raise AliasError(_("give at least one destination address"), "destinations")
    for token in tokens:
        problem = check_destination(token)
        if problem:
            raise AliasError(_("{address}: {problem}").format(address=token, problem=problem), "destinations")
        if token.startswith("#"):
            raise AliasError(
                _("{address}: '#' would be read as an address, not a comment; use the comment field").format(
                    address=token), "destinations"
            )
    allowed = [d.strip().lower() for d in (domain.allowed_destination_domains if domain else "").split() if d.strip()]
    if allowed:
        for token in tokens:
            target = token.rsplit("@", 1)[1].lower() if "@" in token else ""
            if target and target not in allowed:
                raise AliasError(_("{address}: this domain may only forward to {domains}").format(
                    address=token, domains=", ".join(allowed)), "destinations")
    return join_destinations(tokens)


def clean_comment(comment: str) -> str:
    _require_text(comment, "comment")
    if _CONTROL_RE.search(comment):
        raise AliasError(_("the comment contains a control character"), "comment")
    return normalize_comment(comment)


def clean_alias(domain: Domain, key: str, destinations: str | Iterable[str], comment: str) -> tuple[str, str, str]:
    """Key, destinations and comment as a new alias stores them (the domain's input policy);
    AliasError names the first field refused. Creation, import and bulk creation share it."""
    return clean_key(domain, key), clean_destinations(destinations, domain), clean_comment(comment)


@transaction.atomic
def create_alias(
    domain: Domain,
    key: str,
    destinations: str | Iterable[str],
    *,
    user: User | None = None,
    enabled: bool = True,
    comment: str = "",
    valid_until: datetime.date | None = None,
    owners: Owners | None = None,
    reason: str = "",
    pk: int | None = None,
) -> Alias:
    """A new alias. ``reason`` goes into its history; ``pk`` recreates a purged alias under
    its old id (a rollback: the map keeps its order), refused when that id is taken."""
    require_editor(user, domain)
    key, dests, comment = clean_alias(domain, key, destinations, comment)
    # First: it locks the domain row, so imports and creations serialize.
    serial = bump_serial(domain, user=user, rows=True)
    claim = authorize_key(user, domain, key, owners=owners)
    if Alias.objects.filter(domain=domain, key_folded=key.lower(), deleted_at__isnull=True).exists():
        raise AliasError(_("{key} exists already in {domain}").format(key=key, domain=domain.name), "key")
    if pk is not None and Alias.objects.filter(pk=pk).exists():
        raise AliasError(
            _("{key}: another alias holds its old place in the map; it cannot be recreated there").format(key=key),
            "key",
        )
    limits = limits_of(domain)
    check_room(domain, 1, limits=limits)
    check_destinations(domain, dests, limits=limits, key=key)
    claimed = claim_mail_domains(domain, [claim], user=user, reason=f"keys of it written: {key}") if claim else []
    alias = Alias(
        pk=pk,
        domain=domain,
        key=key,
        key_folded=key.lower(),
        destinations=dests,
        enabled=enabled,
        comment=comment,
        valid_until=valid_until,
        serial=serial,
        created_by=user,
        updated_by=user,
    )
    alias._history_user = user  # type: ignore[attr-defined]
    if reason:
        alias._change_reason = reason  # type: ignore[attr-defined]
    alias.save(force_insert=pk is not None)
    alias.claimed = claimed  # type: ignore[attr-defined]
    return alias


def _makes_live(current: Alias, changes: dict[str, object]) -> bool:
    """Whether the (cleaned) change puts routing into the map: a switch-on, a restore, new destinations."""
    live_before = current.enabled and current.deleted_at is None
    live_after = bool(changes.get("enabled", current.enabled)) and changes.get("deleted_at", current.deleted_at) is None
    routing = "destinations" in changes and changes["destinations"] != current.destinations
    return live_after and (not live_before or routing)


@transaction.atomic
def update_alias(
    alias: Alias, *, version: int, user: User | None = None, reason: str = "", **changes: object
) -> Alias:
    """Apply ``changes`` if the row is still at ``version``; otherwise raise StaleEdit.

    Who may make the change is decided by ``authorize_change`` before anything is written;
    the domain's limits by ``_check_limits`` once the domain row is locked. ``reason`` goes
    into the history.
    """
    current = Alias.objects.select_for_update().select_related("domain").get(pk=alias.pk)
    if current.version != version:
        raise StaleEdit(current)
    new_key = clean_key(current.domain, str(changes["key"])) if "key" in changes else None
    if "destinations" in changes:
        changes["destinations"] = clean_destinations(changes["destinations"], current.domain)  # type: ignore[arg-type]
    claims = authorize_change(user, current, new_key=new_key, makes_live=_makes_live(current, changes))
    before = (current.enabled and current.deleted_at is None, current.deleted_at is not None, current.destinations)
    for name, value in changes.items():
        if name == "key":
            value = new_key
            current.key_folded = str(value).lower()
        elif name == "comment":
            value = clean_comment(str(value))
        elif name not in {"destinations", "enabled", "valid_until", "deleted_at"}:
            raise AliasError(f"{name} cannot be changed")
        setattr(current, name, value)
    current.version = version + 1
    current.updated_by = user
    current._history_user = user  # type: ignore[attr-defined]
    if reason:
        current._change_reason = reason  # type: ignore[attr-defined]
    current.serial = bump_serial(current.domain, user=user, rows=True)
    _check_limits(current, *before)
    current.save()
    current.claimed = (  # type: ignore[attr-defined]
        claim_mail_domains(current.domain, claims, user=user, reason=f"keys of it written: {current.key}")
        if claims
        else []
    )
    return current


def _check_limits(alias: Alias, was_live: bool, was_deleted: bool, old_destinations: str) -> None:
    """The domain's limits for a change already applied to ``alias`` in memory: a restore
    needs room, new destinations and a switch-on must fit. Switching off and deleting pass."""
    restoring = was_deleted and alias.deleted_at is None
    live = alias.enabled and alias.deleted_at is None
    if not (restoring or alias.destinations != old_destinations or (live and not was_live)):
        return
    limits = limits_of(alias.domain)
    if restoring:
        check_room(alias.domain, 1, limits=limits)
    check_destinations(alias.domain, alias.destinations, limits=limits, key=alias.key)


def soft_delete_alias(alias: Alias, *, version: int, user: User | None = None, reason: str = "") -> Alias:
    return update_alias(alias, version=version, user=user, reason=reason, deleted_at=timezone.now())


def restore_alias(
    alias: Alias, *, version: int, user: User | None = None, reason: str = "", **changes: object
) -> Alias:
    """Take the alias out of the trash (with ``changes`` in the same step: a rollback)."""
    folded = str(changes["key"]).strip().lower() if "key" in changes else alias.key_folded
    if (
        Alias.objects.filter(domain_id=alias.domain_id, key_folded=folded, deleted_at__isnull=True)
        .exclude(pk=alias.pk)
        .exists()
    ):
        key = changes.get("key", alias.key)
        raise AliasError(f"{key} exists again in {alias.domain}; cannot restore this one beside it")
    return update_alias(alias, version=version, user=user, reason=reason, **changes, deleted_at=None)


@dataclass
class Expired:
    domain: str
    keys: list[str]


@transaction.atomic
def expire_aliases(domain: Domain, today: object = None) -> list[str]:
    """Switch off the aliases whose valid-until date has passed, with history."""
    today = today or timezone.localdate()
    candidates = Alias.expiring_ids(domain.pk, today)  # type: ignore[arg-type]
    if not candidates:
        return []
    due = list(
        Alias.objects.select_for_update().filter(
            pk__in=candidates, enabled=True, deleted_at__isnull=True, valid_until__lt=today
        )
    )
    serial = bump_serial(domain, announce=False) if due else 0  # the deploy that called this goes on
    for alias in due:
        alias.enabled = False
        alias.version += 1
        alias.serial = serial
        alias._change_reason = f"expired (valid until {alias.valid_until})"  # type: ignore[attr-defined]
        alias.save()
    return [a.key for a in due]


def save_change(alias: Alias, user: User | None, reason: str, serial: int) -> None:
    """Save an alias changed outside update_alias: next version, who, why in its history, and
    the domain serial of the change (from ``bump_serial``)."""
    alias.version += 1
    alias.serial = serial
    alias.updated_by = user
    alias._history_user = user  # type: ignore[attr-defined]
    alias._change_reason = reason  # type: ignore[attr-defined]
    alias.save()


@transaction.atomic
def bulk_change(domain: Domain, ids: list[int], action: str, *, user: User | None = None) -> int:
    """Switch on, switch off, delete, restore or purge many aliases of one domain at once.

    All or nothing: when the user may not change one of the selected aliases, nothing changes.
    """
    require_editor(user, domain)
    if action == "purge" and not acts_as_admin(user):
        raise PermissionDenied(_("only administrators may purge the trash"))
    rows = list(Alias.objects.select_for_update().select_related("domain").filter(domain=domain, pk__in=ids))
    claims = _authorize_bulk(user, rows, action)
    if action == "purge":
        return _purge(domain, rows, user)
    if action == "restore":
        _refuse_restore_clashes(domain, rows)
    _check_bulk_limits(domain, rows, action)
    changed = 0
    now = timezone.now()
    serial = 0
    for alias in rows:
        if _bulk_apply(alias, action, now):
            serial = serial or bump_serial(domain, user=user)
            save_change(alias, user, f"bulk {action}", serial)
            changed += 1
    if claims:
        claim_mail_domains(domain, claims, user=user, reason=f"keys of it switched on (bulk {action})")
    return changed


def _check_bulk_limits(domain: Domain, rows: list[Alias], action: str) -> None:
    """A bulk restore needs room for all it restores; what a bulk switch-on or restore makes
    live must fit ``max_destinations``. All or nothing, as the rest of a bulk change."""
    if action not in ("enable", "restore"):
        return
    limits = limits_of(domain, lock=True)
    if not limits.any:
        return
    if action == "restore":
        check_room(domain, sum(1 for a in rows if a.deleted_at is not None), limits=limits,
                   what=_("the restore adds {count} more"))
    going_live = [
        a for a in rows
        if (action == "enable" and a.deleted_at is None and not a.enabled)
        or (action == "restore" and a.deleted_at is not None and a.enabled)
    ]
    problems = [p for a in going_live if (p := destinations_problem(limits, a.destinations, a.key))]
    if problems:
        raise LimitExceeded(nothing_changed(problems), "destinations")


def _purge(domain: Domain, rows: list[Alias], user: User | None) -> int:
    """Delete for good those of ``rows`` that are in the trash; how many."""
    gone = [a for a in rows if a.deleted_at is not None]
    # A row deleted since the last deploy is still in the map on disk: without the row
    # a patch could not find its line, so the next deploy rebuilds.
    deployed = Domain.objects.filter(pk=domain.pk).values_list("deployed_serial", flat=True).get()
    bump_serial(domain, rebuild=any(a.serial > deployed for a in gone), user=user)
    for alias in gone:
        alias._history_user = user  # type: ignore[attr-defined]
        alias._change_reason = "purged from trash"  # type: ignore[attr-defined]
        alias.delete()
    return len(gone)


def _refuse_restore_clashes(domain: Domain, rows: list[Alias]) -> None:
    live = set(Alias.objects.filter(domain=domain, deleted_at__isnull=True).values_list("key_folded", flat=True))
    clashes = [a.key for a in rows if a.deleted_at is not None and a.key_folded in live]
    if clashes:
        raise AliasError(_("cannot restore beside a live alias with the same key: {keys}").format(
            keys=", ".join(clashes[:5])))


def _bulk_apply(alias: Alias, action: str, now: datetime.datetime) -> bool:
    """Make one bulk ``action`` on ``alias`` in memory; False when it has nothing to do."""
    if action in ("enable", "disable"):
        if alias.deleted_at is not None or alias.enabled == (action == "enable"):
            return False
        alias.enabled = action == "enable"
    elif action == "delete":
        if alias.deleted_at is not None:
            return False
        alias.deleted_at = now
    elif action == "restore":
        if alias.deleted_at is None:
            return False
        alias.deleted_at = None
    else:
        raise AliasError(_("unknown action {action}").format(action=action))
    return True


def _authorize_bulk(user: User | None, rows: list[Alias], action: str) -> list[str]:
    owners = Owners()
    refused: list[str] = []
    claims: set[str] = set()
    for alias in rows:
        live_before = alias.enabled and alias.deleted_at is None
        makes_live = not live_before and (
            (action == "enable" and alias.deleted_at is None) or (action == "restore" and alias.enabled)
        )
        try:
            claims.update(authorize_change(user, alias, makes_live=makes_live, owners=owners))
        except KeyNotAllowed as exc:
            refused.append(str(exc))
    if refused:
        raise KeyNotAllowed(nothing_changed(refused))
    return sorted(claims)


def nothing_changed(problems: list[str]) -> str:
    """The refusal of an all-or-nothing change: its first three problems, and how many more."""
    listed = "; ".join(problems[:3])
    if len(problems) > 3:
        return _("nothing changed: {problems} (and {count} more)").format(problems=listed, count=len(problems) - 3)
    return _("nothing changed: {problems}").format(problems=listed)


@dataclass
class Pasted:
    """How many aliases a paste added, and the mail domains it claimed for the map."""

    added: int
    claimed: list[str]


class PasteRefused(AliasError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(ngettext("{count} problem; nothing was added", "{count} problems; nothing was added",
                                  len(problems)).format(count=len(problems)))
        self.problems = problems


@transaction.atomic
def add_pasted(domain: Domain, text: str, *, user: User | None = None) -> Pasted:
    """Add aliases written as map lines (``key  dest, dest``); all of them or none.

    The lines go through ``bulk_add.add_aliases``: the same checks as one alias at a time
    (clean_*, key ownership, limits, repeated keys), and one bulk insert of the rows and
    their history instead of a query and a history row per alias.
    """
    from aliasdesk.aliases.bulk_add import BulkRefused, NewAlias, add_aliases  # it builds on this module

    require_editor(user, domain)
    parsed = parse_virtual(text)
    numbered = [(p.line, str(p)) for p in parsed.problems if p.severity == "error"]
    problems = [text for _line, text in numbered]
    if not parsed.entries:
        raise PasteRefused(problems or [_("nothing to add: write one alias per line, the key then its destinations")])
    entries = parsed.entries
    items = [NewAlias(e.key, e.value, e.enabled, e.comment) for e in entries]
    lines = [e.line for e in entries]
    try:
        added = add_aliases(domain, items, user=user, reason="pasted", lines=lines,
                            what=_("the paste adds {count} more"))
    except BulkRefused as exc:
        by_line = [(lines[p.index], _("line {line}: {message}").format(line=lines[p.index], message=p.message))
                   for p in exc.problems if p.index >= 0]
        whole = [p.message for p in exc.problems if p.index < 0]
        problems = [text for _line, text in sorted([*numbered, *by_line], key=lambda t: t[0])] + whole
        raise PasteRefused(problems) from exc
    if problems:  # lines that are no entries: nothing of the paste stays
        raise PasteRefused(problems)
    return Pasted(added.added, sorted(added.claimed))


@dataclass
class Version:
    """One entry of an alias's history, with what changed against the one before."""

    record: object
    changes: list[tuple[str, object, object]]


TRACKED = ["key", "destinations", "enabled", "comment", "valid_until", "deleted_at"]


def alias_versions(alias: Alias) -> list[Version]:
    records = list(alias.history.select_related("history_user").order_by("history_id"))
    versions = []
    previous = None
    for record in records:
        changes: list[tuple[str, object, object]] = []
        for name in TRACKED:
            new: object = getattr(record, name)
            old: object = getattr(previous, name) if previous is not None else None
            if previous is None or old != new:
                changes.append((name, old, new))
        versions.append(Version(record, changes))
        previous = record
    versions.reverse()
    return versions


@transaction.atomic
def restore_version(alias: Alias, history_id: int, *, version: int, user: User | None = None) -> Alias:
    """Make the alias as it was in one history entry (itself recorded as a new change)."""
    record = alias.history.filter(history_id=history_id).first()
    if record is None:
        raise AliasError(_("no such version"))
    if record.deleted_at is None and alias.deleted_at is not None:
        restore_alias(alias, version=version, user=user)
        alias.refresh_from_db()
        version = alias.version
    return update_alias(
        alias,
        version=version,
        user=user,
        key=record.key,
        destinations=record.destinations,
        enabled=record.enabled,
        comment=record.comment,
        valid_until=record.valid_until,
    )
