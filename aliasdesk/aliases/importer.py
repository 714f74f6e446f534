"""Import a virtual(5) file into a domain: all of it, or nothing when it has errors.

Anything postmap accepts imports, with Postfix's meaning kept: of two entries
with the same key the first wins, so a later duplicate is imported switched off
and flagged. A file with real errors (an entry without a value, control
characters, text that is not UTF-8) imports nothing; every error is listed with
its line number.
"""

from __future__ import annotations

import hashlib
import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from aliasdesk.accounts.channel import with_channel
from aliasdesk.accounts.models import User
from aliasdesk.aliases.limits import alias_count, destinations_problem, final_count_problem, limits_of
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import (
    Owners,
    acts_as_admin,
    authorize_keys,
    claim_mail_domains,
    require_editor,
    untouchable_reason,
)
from aliasdesk.aliases.search import indexing_in_bulk
from aliasdesk.aliases.services import AliasError, bump_serial, create_domain, normalize_domain_name, save_change
from aliasdesk.aliases.signals import aliases_inserted
from aliasdesk.postfix.maps.virtual import (
    Entry,
    Problem,
    decode_map_bytes,
    join_destinations,
    parse_virtual,
    split_destinations,
)

MAX_IMPORT_BYTES = 512 * 1024 * 1024
BATCH = 5000


class ImportRefused(AliasError):
    """The file has errors; nothing was imported. ``problems`` lists every one."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{source}: {len(errors)} error(s), nothing imported: " + "; ".join(map(str, errors[:5])))
        self.problems = problems


@dataclass
class ImportReport:
    domain: Domain
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    disabled: int = 0
    problems: list[Problem] = field(default_factory=list)


def read_map_source(source: str | Path) -> tuple[bytes, str]:
    """The bytes of FILE (or stdin for '-'), refusing oversized and binary input."""
    name = str(source)
    if name == "-":
        data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise AliasError(f"{name}: no such file")
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise AliasError(f"{name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; refusing to import")
        data = path.read_bytes()
    if len(data) > MAX_IMPORT_BYTES:
        raise AliasError(f"{name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; refusing to import")
    return data, name


def normalize_value(value: str) -> str:
    """The destinations as stored and rendered: addresses joined by ", "."""
    if '"' not in value:
        return ", ".join(value.replace(",", " ").split())
    return join_destinations(split_destinations(value))


def prepare_entries(entries: list[Entry]) -> list[Problem]:
    """Keep Postfix's meaning for duplicates: later ones are switched off and say why.

    Changes ``entries`` in place (they can be hundreds of thousands).
    """
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for index, entry in enumerate(entries):
        value = normalize_value(entry.value)
        if entry.enabled:
            folded = entry.key.lower()
            first = seen.setdefault(folded, entry.line)
            if first != entry.line:
                note = f"duplicate of line {first}: Postfix uses the first, so this one is switched off"
                comment = f"{entry.comment}\n{note}" if entry.comment else note
                problems.append(
                    Problem(entry.line, f'duplicate key "{entry.key}" switched off (line {first} wins)', "warning")
                )
                entries[index] = Entry(entry.key, value, False, comment, entry.line)
                continue
        if value != entry.value:
            entries[index] = entry._replace(value=value)
    return problems


PARAMS_PER_INSERT = 10000


def _insert_rows(cursor: Any, table: str, columns: list[str], rows: list[Any]) -> None:
    """Insert rows in their order (their ids follow it).

    SQLite runs one prepared INSERT per row fastest (executemany), and PyMySQL turns an
    executemany into multi-row INSERTs itself; psycopg sends one statement per row, which
    costs PostgreSQL ~25x the time: there, a few hundred rows go in each INSERT.
    """
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    if connection.vendor != "postgresql":
        cursor.executemany(head + one, rows)
        return
    per = max(1, PARAMS_PER_INSERT // len(columns))
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        cursor.execute(head + ", ".join([one] * len(chunk)), [value for row in chunk for value in row])


def _history_layout(
    columns: list[str], reason: str, user_id: int | None, now: object
) -> tuple[list[str], Callable[[Sequence[Any], int], Any]]:
    """Columns of the history table, and a function that makes a history row from an alias row."""
    history = Alias.history.model
    special = {
        "history_date": now,
        "history_change_reason": with_channel(reason),
        "history_type": "+",
        "history_user_id": user_id,
    }
    consts = list(special.values())
    # Positions in (alias row..., alias id, *consts)
    index = {name: i for i, name in enumerate(columns)}
    index["id"] = len(columns)
    for offset, name in enumerate(special):
        index[name] = len(columns) + 1 + offset
    hist_columns, picks = [], []
    for column in history._meta.concrete_fields:
        if column.attname == "history_id":
            continue
        hist_columns.append(column.column)
        picks.append(index[column.attname])
    pick = operator.itemgetter(*picks)
    return hist_columns, lambda row, alias_id: pick((*row, alias_id, *consts))


def bulk_insert_aliases(
    domain: Domain, entries: list[Entry], user: User | None, reason: str, serial: int | None = None
) -> int:
    """Insert many new aliases and their "created" history rows.

    The ORM's bulk_create spends most of its time building SQL per object; one
    parameterised INSERT run with executemany is many times faster and is the same
    SQL on every database. Runs inside the caller's transaction, with the domain
    row locked, so the new ids are the domain's ids above the old maximum.
    Works in batches, so memory stays flat however large the file. The search
    index takes the new rows in one pass at the end (see indexing_in_bulk). Each batch is
    announced (``aliases_inserted``), as the ORM's history records are.
    """
    if not entries:
        return 0
    if serial is None:  # rows the last deploy never saw, without a change record a patch could use
        serial = bump_serial(domain, rebuild=True)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    user_id = user.pk if user else None
    values = {
        "domain_id": domain.pk,
        "valid_until": None,
        "deleted_at": None,
        "version": 1,
        "serial": serial,
        "created_at": now,
        "updated_at": now,
        "created_by_id": user_id,
        "updated_by_id": user_id,
    }
    columns = ["key", "key_folded", "destinations", "enabled", "comment", *values]
    fixed = tuple(values.values())
    hist_columns, history_row = _history_layout(columns, reason, user_id, now)
    quote = connection.ops.quote_name
    max_sql = f"SELECT MAX(id) FROM {quote(Alias._meta.db_table)}"
    # By id range alone: with the domain in the WHERE clause SQLite walks the domain's
    # whole key index for every batch (quadratic). Other domains' rows, inserted meanwhile
    # by other transactions on PostgreSQL or MariaDB, are left out here.
    ids_sql = f"SELECT id, domain_id FROM {quote(Alias._meta.db_table)} WHERE id > %s ORDER BY id"
    with indexing_in_bulk(), connection.cursor() as cursor:
        for start in range(0, len(entries), BATCH):
            rows = [
                (e.key, e.key.lower(), e.value, e.enabled, e.comment, *fixed) for e in entries[start : start + BATCH]
            ]
            cursor.execute(max_sql)
            before = cursor.fetchone()[0] or 0
            _insert_rows(cursor, Alias._meta.db_table, columns, rows)
            cursor.execute(ids_sql, [before])
            ids = [r[0] for r in cursor.fetchall() if r[1] == domain.pk]
            if len(ids) != len(rows):
                raise AliasError(f"import: wrote {len(rows)} rows to {domain}, read back {len(ids)}; nothing imported")
            history = [history_row(row, alias_id) for row, alias_id in zip(rows, ids, strict=True)]
            _insert_rows(cursor, Alias.history.model._meta.db_table, hist_columns, history)
            if aliases_inserted.has_listeners():  # the webhooks' outbox, in this transaction
                made = [(alias_id, *row[:1], *row[2:5]) for row, alias_id in zip(rows, ids, strict=True)]
                aliases_inserted.send(sender=Alias, domain=domain, user=user, reason=with_channel(reason), rows=made)
    return len(entries)


def import_map(
    source: str | Path,
    domain_name: str,
    *,
    map_file: str | Path | None = None,
    user: User | None = None,
    replace: bool = False,
) -> ImportReport:
    """Import FILE into the domain (created if needed).

    Without ``replace`` the entries are added, and a key the domain already has
    is an error. With ``replace`` the domain ends up holding exactly the file:
    changed aliases are updated, missing ones soft-deleted, header and footer taken.
    """
    data, name = read_map_source(source)
    source_sha = hashlib.sha256(data).hexdigest()
    text, problems = decode_map_bytes(data)
    del data
    parsed = parse_virtual(text)
    del text
    problems += parsed.problems
    entries = parsed.entries
    dup_problems = prepare_entries(entries)
    problems = [p for p in problems if not p.message.startswith("duplicate key")] + dup_problems
    if any(p.severity == "error" for p in problems):
        raise ImportRefused(name, sorted(problems, key=lambda p: p.line))

    domain_name = normalize_domain_name(domain_name)
    source_path = None if name == "-" else Path(source).resolve()
    with transaction.atomic():
        domain = Domain.objects.select_for_update().filter(name=domain_name).first()
        if domain is None:
            domain = create_domain(domain_name, map_path=map_file, user=user)
        elif map_file and Path(map_file).resolve() != Path(domain.map_path):
            raise AliasError(f"domain {domain_name} writes {domain.map_path}, not {map_file}")
        report = ImportReport(domain=domain, problems=sorted(problems, key=lambda p: p.line))
        report.problems += _claim_key_domains(domain, entries, user, name)
        _check_limits(domain, entries, replace, name)
        # An import may change any part of the map: the next deploy rebuilds it.
        serial = bump_serial(domain, rebuild=True, user=user)
        if replace:
            _replace(domain, entries, parsed.header, parsed.footer, user, report, serial)
        else:
            _append(domain, entries, parsed.header, parsed.footer, user, report, serial)
        if source_path is not None and source_path == Path(domain.map_path):
            # The file on disk is the one just read: it is known, not drift.
            Domain.objects.filter(pk=domain.pk).update(deployed_sha256=source_sha)
    report.disabled = sum(1 for e in entries if not e.enabled)
    domain.refresh_from_db()
    return report


def _claim_key_domains(domain: Domain, entries: list[Entry], user: User | None, source: str) -> list[Problem]:
    """The ownership rule for every enabled entry; an admin's import claims the mail domains nobody owns.

    Disabled entries route nothing; switching one on later goes through the rule (for
    editors they count all the same: they may not write such a key at all).
    """
    require_editor(user, domain)
    # An editor's disabled line still writes a key they may not touch: every line counts for them.
    every = not acts_as_admin(user)
    claims, refused = authorize_keys(user, domain, ((e.line, e.key) for e in entries if e.enabled or every))
    if refused:
        raise ImportRefused(source, [Problem(line, message) for line, message in refused])
    added = claim_mail_domains(domain, list(claims), user=user, reason=f"import of {source}")
    return [
        Problem(claims[name], f"{name} is now a mail domain of this map (its keys start on this line)", "warning")
        for name in added
    ]


def _check_limits(domain: Domain, entries: list[Entry], replace: bool, source: str) -> None:
    """The domain's limits for the whole file, before anything is written: too many aliases
    or an entry with too many destinations imports nothing. With ``replace``, entries whose
    destinations the domain holds already for that key are left alone (a limit lowered
    below the current use keeps what exists)."""
    limits = limits_of(domain, lock=True)
    if not limits.any:
        return
    problems: list[Problem] = []
    if replace:
        message = final_count_problem(limits, len(entries), "the file holds")
    else:
        message = final_count_problem(limits, alias_count(domain) + len(entries), "with this file there would be")
    if message:
        problems.append(Problem(0, message))
    if limits.max_destinations is not None:
        held: set[tuple[str, str]] = set()
        if replace:
            live = Alias.objects.filter(domain=domain, deleted_at__isnull=True)
            held = set(live.values_list("key_folded", "destinations"))
        for entry in entries:
            known = (entry.folded_key, entry.value) in held
            problem = "" if known else destinations_problem(limits, entry.value, entry.key)
            if problem:
                problems.append(Problem(entry.line, problem))
    if problems:
        raise ImportRefused(source, problems)


def _set_header_footer(domain: Domain, header: str, footer: str, user: User | None) -> None:
    if domain.header == header and domain.footer == footer:
        return
    domain.header, domain.footer = header, footer
    domain.version += 1
    domain._history_user = user  # type: ignore[attr-defined]
    domain._change_reason = "import"  # type: ignore[attr-defined]
    domain.save(update_fields=["header", "footer", "version", "updated_at"])


def _append(
    domain: Domain,
    entries: list[Entry],
    header: str,
    footer: str,
    user: User | None,
    report: ImportReport,
    serial: int,
) -> None:
    live = set(
        Alias.objects.filter(domain=domain, deleted_at__isnull=True, enabled=True).values_list("key_folded", flat=True)
    )
    clashes = [
        Problem(e.line, f'"{e.key}" exists already in {domain.name} (use --replace to take the whole file)')
        for e in entries
        if e.enabled and e.folded_key in live
    ]
    if clashes:
        raise ImportRefused(str(domain), clashes)
    _take_header_footer(domain, header, footer, user, report, always=False)
    report.created = bulk_insert_aliases(domain, entries, user, "import", serial)


def _replace(
    domain: Domain,
    entries: list[Entry],
    header: str,
    footer: str,
    user: User | None,
    report: ImportReport,
    serial: int,
) -> None:
    _take_header_footer(domain, header, footer, user, report, always=True)
    existing: dict[tuple[str, int], Alias] = {}
    counts: dict[str, int] = {}
    for alias in Alias.objects.filter(domain=domain, deleted_at__isnull=True).order_by("id"):
        n = counts.get(alias.key_folded, 0)
        counts[alias.key_folded] = n + 1
        existing[(alias.key_folded, n)] = alias
    counts = {}
    fresh: list[Entry] = []
    changed: list[tuple[Alias, tuple[str, str, bool, str]]] = []
    for entry in entries:
        n = counts.get(entry.folded_key, 0)
        counts[entry.folded_key] = n + 1
        match = existing.pop((entry.folded_key, n), None)
        if match is None:
            fresh.append(entry)
            continue
        wanted = (entry.key, entry.value, entry.enabled, entry.comment)
        if (match.key, match.destinations, match.enabled, match.comment) == wanted:
            report.unchanged += 1
            continue
        changed.append((match, wanted))
    removed = list(existing.values())
    if not acts_as_admin(user):
        # What --replace changes or removes must be the editor's to touch.
        owners = Owners()
        refused = [untouchable_reason(user, a, owners) for a in [m for m, _ in changed] + removed]
        refused = [r for r in refused if r]
        if refused:
            raise ImportRefused(str(domain), [Problem(0, reason) for reason in refused[:50]])
    for match, wanted in changed:
        match.key, match.destinations, match.enabled, match.comment = wanted
        save_change(match, user, "import --replace", serial)
        report.updated += 1
    now = timezone.now()
    for alias in removed:
        alias.deleted_at = now
        save_change(alias, user, "import --replace: not in the file", serial)
        report.removed += 1
    report.created = bulk_insert_aliases(domain, fresh, user, "import --replace", serial)


def _take_header_footer(
    domain: Domain, header: str, footer: str, user: User | None, report: ImportReport, *, always: bool
) -> None:
    """The file's header and footer become the domain's: always with --replace, else only when it has none.

    They are map text only admins edit: an editor's import keeps the domain's own.
    """
    if not header and not footer and not always:
        return
    if not acts_as_admin(user):
        if (header, footer) != (domain.header, domain.footer) and (header or footer or always):
            report.problems.append(
                Problem(0, "the header and footer are for administrators: the file's were not taken", "warning")
            )
        return
    if always or (not domain.header and not domain.footer):
        _set_header_footer(domain, header, footer, user)
    else:
        report.problems.append(
            Problem(0, "the domain has a header or footer already: the file's were not taken", "warning")
        )
