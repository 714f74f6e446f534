"""The data CSV of a domain's aliases: the exact export that an import reads back.

One line per alias under the header ``key,destinations,enabled,comment,valid_until,last_change``:
destinations joined by ", " in their order, ``on``/``off``, the comment as written (real
newlines inside quotes), the valid-until date as ISO ``YYYY-MM-DD`` or empty, and the time of
the alias's last change (UTC, ``YYYY-MM-DDTHH:MM:SSZ``), which an import does not read. UTF-8 without
a byte order mark, nothing added or escaped: a cell that starts with ``=`` stays as it is,
because re-importing it must give the same alias. (The reports' spreadsheet CSV is the
one that guards against formulas; see aliasdesk/web/reports.)
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from aliasdesk.aliases.models import Alias

DATA_HEADER = ("key", "destinations", "enabled", "comment", "valid_until", "last_change")
ENABLED = {True: "on", False: "off"}
BATCH = 5000
FIELDS = ("key", "destinations", "enabled", "comment", "valid_until", "updated_at")

DataRow = tuple[str, str, str, str, str, str]


def _day(value: date | str | None) -> str:
    """A valid-until date as the raw cursor hands it back (a date, or text on some drivers)."""
    if value is None or value == "":
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _moment(value: datetime | str | None) -> str:
    """A change time as the cursor hands it back (a datetime, or text on SQLite), in UTC."""
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_batches(rows: QuerySet[Alias], fields: Sequence[str], *, keyset: bool, size: int = BATCH) -> Iterator[list[Any]]:
    """(pk, *fields) of ``rows``, a list of up to ``size`` at a time.

    ``keyset``: in id order, each batch a fresh indexed query after the last id (no cursor
    stays open, and no driver holds the whole result, as MariaDB's does); otherwise in the
    queryset's own order through one chunked cursor.
    """
    if keyset:
        last = 0
        while batch := list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:size]):
            yield batch
            last = batch[-1][0]
        return
    found = rows.values_list("pk", *fields).iterator(chunk_size=size)
    while batch := list(islice(found, size)):
        yield batch


def data_rows(domain_id: int, aliases: QuerySet[Alias] | None = None, *, keyset: bool = True) -> Iterator[DataRow]:
    """The live aliases of the domain in file order, or those of ``aliases`` (in id order with
    ``keyset``, else in the queryset's order).

    Without ``aliases`` the rows come through a plain cursor, BATCH at a time after the last id
    read (as the deploy reads them, aliases/render.py, and on the same index): a
    500,000-alias domain streams in seconds and never sits in memory whole.
    """
    if aliases is not None:
        for batch in in_batches(aliases, FIELDS, keyset=keyset):
            for _, key, destinations, enabled, comment, valid_until, changed in batch:
                yield key, destinations, ENABLED[bool(enabled)], comment, _day(valid_until), _moment(changed)
        return
    quote = connection.ops.quote_name
    sql = (
        f"SELECT id, {quote('key')}, destinations, enabled, {quote('comment')}, valid_until, updated_at "
        f"FROM {quote(Alias._meta.db_table)} WHERE domain_id = %s AND deleted_at IS NULL AND id > %s "
        "ORDER BY id LIMIT %s"
    )
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [domain_id, last, BATCH])
            batch = cursor.fetchall()
        for _, key, destinations, enabled, comment, valid_until, changed in batch:
            yield key, destinations, ENABLED[bool(enabled)], comment, _day(valid_until), _moment(changed)
        if len(batch) < BATCH:
            return
        last = batch[-1][0]


class _Line:
    """A file for csv.writer that hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def data_csv_lines(rows: Iterable[DataRow]) -> Iterator[str]:
    """The CSV text, the header first, a line (or a few, for a multi-line comment) at a time."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow(DATA_HEADER)
    for row in rows:
        yield writer.writerow(row)
