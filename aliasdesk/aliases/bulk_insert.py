"""Many new aliases and their "created" history rows in a few statements.

Every bulk path ends here (the importer, ``bulk_add.add_aliases``, paste, uploads): the
callers check rights, keys, input policy and limits first; this module only writes.
"""

from __future__ import annotations

import datetime
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from aliasdesk.accounts.channel import with_channel
from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import indexing_in_bulk
from aliasdesk.aliases.services import AliasError, bump_serial
from aliasdesk.aliases.signals import aliases_inserted
from aliasdesk.postfix.maps.virtual import Entry

BATCH = 5000
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
    domain: Domain,
    entries: list[Entry],
    user: User | None,
    reason: str,
    serial: int | None = None,
    valid_until: Mapping[int, datetime.date | None] | None = None,
) -> int:
    """Insert many new aliases and their "created" history rows.

    The ORM's bulk_create spends most of its time building SQL per object; one
    parameterised INSERT run with executemany is many times faster and is the same
    SQL on every database. Runs inside the caller's transaction, with the domain
    row locked, so the new ids are the domain's ids above the old maximum.
    Works in batches, so memory stays flat however large the file. The search
    index takes the new rows in one pass at the end (see indexing_in_bulk). Each batch is
    announced (``aliases_inserted``), as the ORM's history records are. ``valid_until`` gives
    an entry's end date by its line number (a CSV or XLSX column); without it there is none.
    """
    if not entries:
        return 0
    if serial is None:  # rows the last deploy never saw, without a change record a patch could use
        serial = bump_serial(domain, rebuild=True)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    user_id = user.pk if user else None
    values = {
        "domain_id": domain.pk,
        "deleted_at": None,
        "version": 1,
        "serial": serial,
        "created_at": now,
        "updated_at": now,
        "created_by_id": user_id,
        "updated_by_id": user_id,
    }
    columns = ["key", "key_folded", "destinations", "enabled", "comment", "valid_until", *values]
    ends = valid_until or {}
    adapt = connection.ops.adapt_datefield_value
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
                (e.key, e.key.lower(), e.value, e.enabled, e.comment, adapt(ends.get(e.line)), *fixed)
                for e in entries[start : start + BATCH]
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


