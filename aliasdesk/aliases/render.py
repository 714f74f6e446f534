"""Turn a domain's rows into the exact text of its map file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from operator import is_, itemgetter

from django.db import connection, transaction

from aliasdesk.aliases.aliasdomains import generated_findings, generated_rows
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import map_ownership
from aliasdesk.aliases.postfix_fit import MapFit
from aliasdesk.postfix.maps.columns import RowColumns, render_columns
from aliasdesk.postfix.maps.validate import Finding
from aliasdesk.postfix.maps.virtual import Row, render_head, render_tail


@dataclass
class RenderedMap:
    """One consistent snapshot of a domain, rendered."""

    domain: Domain
    serial: int
    text: str
    columns: RowColumns  # the rows, a list per field
    # What the validation needs to know about other maps (see aliases.ownership.MapOwnership).
    owned: frozenset[str] = frozenset()
    tolerated: frozenset[str] = frozenset()
    shared: dict[str, str] = field(default_factory=dict)
    # Findings of the whole map that its text alone does not show (an alias domain's warnings).
    notes: list[Finding] = field(default_factory=list)
    # How main.cf treats the map (aliases.postfix_fit); set by a deploy, None for an export.
    fit: MapFit | None = None

    @property
    def alias_count(self) -> int:
        return len(self.columns.keys)

    @cached_property
    def rows(self) -> list[Row]:
        return self.columns.rows()

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


BATCH = 50_000


def _select_rows(enabled: str = "enabled", comment: str = "{comment}") -> str:
    """The live aliases of a domain in file order: key, destinations, then ``enabled`` and
    ``comment`` as SQL expressions of those columns."""
    quote = connection.ops.quote_name
    comment = comment.format(comment=quote("comment"))
    return (
        f"SELECT {quote('key')}, destinations, {enabled}, {comment} FROM {quote(Alias._meta.db_table)} "
        "WHERE domain_id = %s AND deleted_at IS NULL ORDER BY id"
    )


def fetch_rows(domain_id: int) -> list[Row]:
    """The live aliases of a domain in file order, as plain tuples.

    A plain cursor: for 500,000 rows the ORM's per-row conversion costs twice the query.
    """
    with connection.cursor() as cursor:
        cursor.execute(_select_rows(), [domain_id])
        return [(k, d, bool(e), c) for k, d, e, c in cursor.fetchall()]


def fetch_columns(domain_id: int, batch: Callable[[RowColumns], None] | None = None) -> RowColumns:
    """``fetch_rows`` as columns; ``batch`` is handed them as they come, BATCH rows at a time.

    The usual row (switched on, no comment) comes with NULL for both: the driver makes no
    object for them, and a batch without comments gets its empty ones in one step.
    """
    sql = _select_rows("CASE WHEN enabled THEN NULL ELSE 0 END", "NULLIF({comment}, '')")
    columns = RowColumns.empty()
    with connection.cursor() as cursor:
        cursor.execute(sql, [domain_id])
        while chunk := cursor.fetchmany(BATCH):
            size, off, notes = len(chunk), list(map(itemgetter(2), chunk)), list(map(itemgetter(3), chunk))
            part = RowColumns(
                list(map(itemgetter(0), chunk)),
                list(map(itemgetter(1), chunk)),
                [True] * size if off.count(None) == size else list(map(is_, off, repeat(None))),
                [""] * size if not any(notes) else [note or "" for note in notes],
            )
            columns.extend(part)
            if batch is not None:
                batch(part)
    return columns


def _mailbox_addresses() -> list[str]:
    """The mailboxes of virtual_mailbox_maps where main.cf can be read and they can be listed:
    an expanded alias domain does not reach a target mailbox without an alias line."""
    from aliasdesk.aliases.postfix_fit import postfix_config, postfix_postmap
    from aliasdesk.postfix.maps.mailboxes import Mailboxes

    config = postfix_config()
    return list(Mailboxes(config, postfix_postmap())) if config is not None else []


def render_map(domain: Domain, sink: Callable[[str], None] | None = None) -> RenderedMap:
    """Render the domain from one snapshot: the domain row is locked while it is read.

    An alias domain's rows are generated from its target's, read in the same transaction
    (a change of the target bumps the alias domain's serial, so it waits for this lock).
    ``sink`` is handed the text piece by piece while the rows are still being read (a
    deploy starts postmap on it); the pieces make up ``text``.
    """
    notes: list[Finding] = []
    pieces: list[str] = []

    def add(piece: str) -> None:
        pieces.append(piece)
        if sink is not None and piece:
            sink(piece)

    def add_rows(batch: RowColumns) -> None:
        add(render_columns(batch, first=len(pieces) == 1))  # after the head

    with transaction.atomic():
        locked = Domain.objects.select_for_update().get(pk=domain.pk)
        add(render_head(locked.header))
        if locked.alias_of_id is not None:
            columns = RowColumns.of(generated_rows(locked))
            notes = generated_findings(locked, _mailbox_addresses())
            add_rows(columns)
        else:
            columns = fetch_columns(domain.pk, add_rows)
    add(render_tail(locked.footer))
    text = "".join(pieces)
    context = map_ownership(locked, columns)
    return RenderedMap(
        domain=locked,
        serial=locked.serial,
        text=text,
        columns=columns,
        owned=context.owned,
        tolerated=context.tolerated,
        shared=context.shared,
        notes=notes,
    )
