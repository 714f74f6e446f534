"""``aliasdesk dbexport``: the whole database as JSON Lines, the same bytes from any engine.

The file: a header line ``{"format": "aliasdesk-dbexport", "version": 1, "postfix_lookup":
…, "tables": [{"table", "columns", "rows"}, …]}``; then, table by table in the header's
order, a line ``{"table": NAME}`` and one JSON array per row in primary-key order, the
values in the header's column order (see :mod:`aliasdesk.dbmove.tables` for how each type
is written). A name ending in ``.gz`` gives a gzip file (without a time stamp, so it too is
the same for the same data).

Everything is read in one snapshot of the database (a read-only repeatable-read
transaction; on SQLite a deferred one, which lets writers go on in WAL mode) and in chunks
by primary key, so a large database streams through in constant memory.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction

from aliasdesk.aliases.virtual_store import table_database
from aliasdesk.dbmove.tables import FORMAT, VERSION, Table, encoder, internal_type, moved_tables, natural_target

CHUNK = 5000


def line(value: Any) -> str:
    """One line of the file: compact, keys sorted, UTF-8 as it is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


@contextmanager
def snapshot() -> Iterator[None]:
    """One consistent, read-only view of the database for the whole export (inside a
    transaction already, e.g. a test's: that one's view)."""
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "sqlite":
        # Django's atomic() would BEGIN IMMEDIATE and hold the write lock for the whole export.
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                cursor.execute("COMMIT")
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if connection.vendor == "postgresql":
                cursor.execute("SET TRANSACTION READ ONLY")
        yield


def _natural_keys(table: Table) -> dict[int, dict[Any, list[Any]]]:
    """For each column that names a permission or content type: id -> natural key."""
    found = {}
    for i, field in enumerate(table.fields):
        target = natural_target(field)
        if target is not None:
            found[i] = {obj.pk: list(obj.natural_key()) for obj in target._default_manager.all()}  # type: ignore[attr-defined]
    return found


def table_rows(table: Table) -> Iterator[list[Any]]:
    """The table's rows as the file holds them, in primary-key order, a chunk at a time."""
    natural = _natural_keys(table)
    encoders = [
        natural[i].__getitem__ if i in natural else encoder(f, internal_type(f)) for i, f in enumerate(table.fields)
    ]
    if natural:  # a null foreign key stays null
        encoders = [(lambda v, e=e: None if v is None else e(v)) if i in natural else e for i, e in enumerate(encoders)]
    pk = table.pk
    pk_index = table.fields.index(pk)
    names = [f.attname for f in table.fields]
    manager = table.model._base_manager
    last = None
    while True:
        query = manager.order_by(pk.attname)
        if last is not None:
            query = query.filter(**{f"{pk.attname}__gt": last})
        chunk = list(query.values_list(*names)[:CHUNK])
        for row in chunk:
            yield [encode(value) for encode, value in zip(encoders, row, strict=True)]
        if len(chunk) < CHUNK:
            return
        last = chunk[-1][pk_index]


def write_export(out: IO[str]) -> dict[str, int]:
    """Write the whole database to ``out``; returns the row count of each table."""
    tables = moved_tables()
    with snapshot():
        counts = {t.name: t.model._base_manager.count() for t in tables}
        out.write(
            line(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "postfix_lookup": table_database() is not None,
                    "tables": [{"table": t.name, "columns": t.columns, "rows": counts[t.name]} for t in tables],
                }
            )
        )
        for table in tables:
            out.write(line({"table": table.name}))
            written = 0
            for row in table_rows(table):
                out.write(line(row))
                written += 1
            assert written == counts[table.name], f"{table.name} changed during the export"
    return counts


def export_database(path: str) -> dict[str, int]:
    """Write the export to ``path`` (``-``: standard output): a temporary file renamed into
    place when complete, so a failed export never leaves a file that looks whole."""
    if path == "-":
        return write_export(sys.stdout)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as raw:
            if target.name.endswith(".gz"):
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed, _text(packed) as out:
                    counts = write_export(out)
            else:
                with _text(raw) as out:
                    counts = write_export(out)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return counts


@contextmanager
def _text(binary: IO[bytes] | gzip.GzipFile) -> Iterator[IO[str]]:
    wrapper = io.TextIOWrapper(binary, encoding="utf-8", newline="\n", write_through=False)
    try:
        yield wrapper
        wrapper.flush()
    finally:
        wrapper.detach()
