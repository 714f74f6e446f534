"""``aliasdesk dbimport``: a file of ``dbexport`` into an empty, migrated database.

Nothing is written unless everything can be: the database must be migrated and hold no
data; the whole file is read and checked first (format and version, every table and
column known to this aliasdesk, every row complete and every value of its column's type,
row counts as the header says, the file not cut short); then every row goes in within
one transaction, foreign keys are checked once at the end, and the id sequences are set
past the highest id (PostgreSQL; MariaDB's AUTO_INCREMENT and SQLite's sqlite_sequence
follow explicit ids by themselves), so new rows get fresh ids.

Derived data is not in the file: after the rows are in, the Postfix lookup table is
rebuilt when the exported database kept one or this one keeps one (the lookup file on
SQLite); the live checks come back with the next ``postfix-config --sync``.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.management.color import no_style
from django.db import DatabaseError, connection, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext

from aliasdesk.aliases.models import VirtualEntry, VirtualSync
from aliasdesk.aliases.virtual_store import ENABLED_MARK, table_database
from aliasdesk.aliases.virtual_table import sync_all
from aliasdesk.dbmove.tables import (
    FORMAT,
    VERSION,
    DbMoveError,
    Table,
    decoder,
    derived_models,
    internal_type,
    moved_tables,
    natural_target,
    needs_preparing,
)

BATCH = 2000


@dataclass
class FileTable:
    """A table as the file has it: which field each column fills, and how many rows."""

    table: Table
    rows: int
    fields: list[models.Field[Any, Any]]  # in the file's column order
    decoders: list[Callable[[Any], Any]]
    prepared: list[bool]  # whether each value goes through get_db_prep_save
    missing: list[models.Field[Any, Any]]  # fields the file has no column for: their default
    natural: dict[int, dict[tuple[Any, ...], Any]] = field(default_factory=dict)


@dataclass
class Plan:
    tables: list[FileTable]
    postfix_lookup: bool


def _open(path: Path) -> IO[str]:
    raw = path.open("rb")
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    binary: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw  # type: ignore[assignment]
    return io.TextIOWrapper(binary, encoding="utf-8", newline="\n")


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """The file's lines as JSON values, numbered; a damaged file raises DbMoveError."""
    try:
        with _open(path) as text:
            for number, raw in enumerate(text, 1):
                if not raw.endswith("\n"):
                    raise DbMoveError(gettext("%(file)s: line %(line)s is cut short") % {"file": path, "line": number})
                try:
                    yield number, json.loads(raw)
                except ValueError as exc:
                    raise DbMoveError(
                        gettext("%(file)s: line %(line)s is not JSON (%(error)s)")
                        % {"file": path, "line": number, "error": exc}
                    ) from exc
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DbMoveError(
            gettext("%(file)s: the gzip file is damaged or cut short (%(error)s)") % {"file": path, "error": exc}
        ) from exc
    except UnicodeDecodeError as exc:
        raise DbMoveError(gettext("%(file)s: not UTF-8 text (%(error)s)") % {"file": path, "error": exc}) from exc
    except OSError as exc:
        raise DbMoveError(
            gettext("%(file)s: cannot read it (%(error)s)") % {"file": path, "error": exc.strerror or exc}
        ) from exc


def _plan(path: Path, header: Any) -> Plan:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DbMoveError(gettext("%(file)s: not a file of 'aliasdesk dbexport'") % {"file": path})
    if header.get("version") != VERSION:
        raise DbMoveError(
            gettext("%(file)s: format version %(version)s; this aliasdesk reads version %(ours)s")
            % {"file": path, "version": repr(header.get("version")), "ours": VERSION}
        )
    known = {t.name: t for t in moved_tables()}
    listed = header.get("tables")
    if not isinstance(listed, list):
        raise DbMoveError(gettext("%(file)s: the header lists no tables") % {"file": path})
    tables = []
    for entry in listed:
        name = entry.get("table") if isinstance(entry, dict) else None
        if name not in known:
            raise DbMoveError(
                gettext("%(file)s: unknown table %(table)s (an export of a newer aliasdesk?)")
                % {"file": path, "table": repr(name)}
            )
        table = known[name]
        by_column = {f.column: f for f in table.fields}
        columns, rows = entry.get("columns"), entry.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise DbMoveError(
                gettext("%(file)s: table %(table)s: bad columns or row count in the header")
                % {"file": path, "table": name}
            )
        unknown = [c for c in columns if c not in by_column]
        if unknown or len(set(columns)) != len(columns):
            raise DbMoveError(
                gettext("%(file)s: table %(table)s: unknown or repeated column %(column)s")
                % {"file": path, "table": name, "column": repr((unknown or columns)[0])}
            )
        fields = [by_column[c] for c in columns]
        missing = [f for f in table.fields if f.column not in columns]
        for f in missing:
            if not (f.has_default() or f.null):
                raise DbMoveError(
                    gettext("%(file)s: table %(table)s has no column %(column)s, which needs a value")
                    % {"file": path, "table": name, "column": f.column}
                )
        kinds = [internal_type(f) for f in fields] + [internal_type(f) for f in missing]
        decoders = [decoder(f, k) for f, k in zip(fields, kinds, strict=False)]
        tables.append(FileTable(table, rows, fields, decoders, [needs_preparing(k) for k in kinds], missing))
    if len({t.table.name for t in tables}) != len(tables):
        raise DbMoveError(gettext("%(file)s: a table is listed twice") % {"file": path})
    return Plan(tables, bool(header.get("postfix_lookup")))


def _natural_keys(plan: Plan) -> None:
    """Look up, in this database, the permissions and content types rows name by natural key."""
    for ft in plan.tables:
        for i, f in enumerate(ft.fields):
            target = natural_target(f)
            if target is not None:
                ft.natural[i] = {tuple(o.natural_key()): o.pk for o in target._default_manager.all()}  # type: ignore[attr-defined]


def _rows(path: Path, plan: Plan) -> Iterator[tuple[FileTable, list[Any]]]:
    """Every row of the file, decoded and checked, with its table."""
    lines = _lines(path)
    next(lines)  # the header
    for ft in plan.tables:
        number, marker = next(lines, (None, None))
        if marker != {"table": ft.table.name}:
            if number:
                text = gettext("%(file)s: expected the rows of %(table)s at line %(line)s")
            else:
                text = gettext("%(file)s: expected the rows of %(table)s at the end of the file")
            raise DbMoveError(text % {"file": path, "table": ft.table.name, "line": number})
        for _ in range(ft.rows):
            number, row = next(lines, (None, None))
            if not isinstance(row, list):
                raise DbMoveError(
                    gettext("%(file)s: table %(table)s has fewer rows than its %(rows)s (cut short?)")
                    % {"file": path, "table": ft.table.name, "rows": ft.rows}
                )
            if len(row) != len(ft.fields):
                raise DbMoveError(
                    gettext("%(file)s: line %(line)s: %(values)s values for %(columns)s columns")
                    % {"file": path, "line": number, "values": len(row), "columns": len(ft.fields)}
                )
            values = []
            for i, (f, decode, value) in enumerate(zip(ft.fields, ft.decoders, row, strict=True)):
                try:
                    decoded = decode(value)
                    if i in ft.natural and decoded is not None:
                        if decoded not in ft.natural[i]:
                            raise ValueError(gettext("%(key)s is not in this database") % {"key": list(decoded)})
                        decoded = ft.natural[i][decoded]
                except ValueError as exc:
                    raise DbMoveError(f"{path}: line {number}, {ft.table.name}.{f.column}: {exc}") from exc
                values.append(decoded)
            yield ft, values
    number, _ = next(lines, (None, None))
    if number is not None:
        raise DbMoveError(
            gettext("%(file)s: line %(line)s: more than the header announces") % {"file": path, "line": number}
        )


def check_target() -> None:
    """Refuse a database that is not migrated or holds data."""
    try:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise DbMoveError(gettext("the database is not migrated: run 'aliasdesk migrate' first"))
        for table in moved_tables():
            if table.model._base_manager.exists():
                raise DbMoveError(
                    gettext(
                        "the database is not empty (table %(table)s has rows): "
                        "dbimport goes only into an empty, migrated database"
                    ) % {"table": table.name}
                )
    except DatabaseError as exc:
        raise DbMoveError(
            gettext("the database cannot be read (%(error)s); is it migrated? run 'aliasdesk migrate'") % {"error": exc}
        ) from exc


def check_file(path: Path) -> Plan:
    """Read and check the whole file; nothing is written."""
    number, header = next(_lines(path), (None, None))
    if number is None:
        raise DbMoveError(gettext("%(file)s: the file is empty") % {"file": path})
    plan = _plan(path, header)
    _natural_keys(plan)
    for _ in _rows(path, plan):
        pass
    return plan


def _insert(ft: FileTable, batch: list[list[Any]]) -> None:
    fields = ft.fields + ft.missing
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(ft.table.name)} ({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    defaults = [f.get_default() for f in ft.missing]
    db = connections[connection.alias]  # the wrapper itself: the proxy costs a lookup per value
    preparers = [f.get_db_prep_save if prepare else None for f, prepare in zip(fields, ft.prepared, strict=True)]
    params = [
        [v if prep is None else prep(v, db) for prep, v in zip(preparers, row + defaults, strict=True)]
        for row in batch
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _write(path: Path, plan: Plan) -> None:
    with transaction.atomic():
        check_target()  # again, inside the transaction: nobody wrote in the meantime
        for model in derived_models():
            model._base_manager.all()._raw_delete(connection.alias)
        with connection.constraint_checks_disabled():
            current: FileTable | None = None
            batch: list[list[Any]] = []
            for ft, values in _rows(path, plan):
                if ft is not current or len(batch) >= BATCH:
                    if current is not None and batch:
                        _insert(current, batch)
                    current, batch = ft, []
                batch.append(values)
            if current is not None and batch:
                _insert(current, batch)
        connection.check_constraints(table_names=[ft.table.name for ft in plan.tables])
        resets = connection.ops.sequence_reset_sql(no_style(), [ft.table.model for ft in plan.tables])
        with connection.cursor() as cursor:
            for sql in resets:
                cursor.execute(sql)


def rebuild_lookup(wanted: bool) -> None:
    """Fill the Postfix lookup table anew when it is to be kept (see the module docstring)."""
    using = table_database(create=wanted)
    if using is None:
        return
    with transaction.atomic(using=using):
        VirtualEntry.objects.using(using).all()._raw_delete(using)
        VirtualSync.objects.using(using).all().delete()
        VirtualSync.objects.using(using).create(domain_id=ENABLED_MARK, serial=0)
    sync_all()


def import_database(path: str) -> dict[str, int]:
    """Check, then load the file at ``path``; returns the row count of each table."""
    source = Path(path)
    check_target()
    plan = check_file(source)
    try:
        _write(source, plan)
    except DatabaseError as exc:
        raise DbMoveError(
            gettext("nothing imported: the database refused a row (%(error)s)") % {"error": exc}
        ) from exc
    rebuild_lookup(plan.postfix_lookup)
    return {ft.table.name: ft.rows for ft in plan.tables}
