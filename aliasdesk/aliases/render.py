"""Turn a domain's rows into the exact text of its map file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction

from aliasdesk.aliases.aliasdomains import generated_findings, generated_rows
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import map_ownership
from aliasdesk.aliases.postfix_fit import MapFit
from aliasdesk.postfix.maps.validate import Finding
from aliasdesk.postfix.maps.virtual import Row, render_head, render_rows, render_tail


@dataclass
class RenderedMap:
    """One consistent snapshot of a domain, rendered."""

    domain: Domain
    serial: int
    text: str
    rows: list[Row]
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
        return len(self.rows)

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


BATCH = 50_000


def fetch_rows(domain_id: int, batch: Callable[[list[Row]], None] | None = None) -> list[Row]:
    """The live aliases of a domain in file order, as plain tuples; ``batch`` is handed
    them as they come, BATCH at a time.

    A plain cursor: for 500,000 rows the ORM's per-row conversion costs twice the query.
    """
    quote = connection.ops.quote_name
    table = quote(Alias._meta.db_table)
    sql = (
        f"SELECT {quote('key')}, destinations, enabled, {quote('comment')} FROM {table} "
        "WHERE domain_id = %s AND deleted_at IS NULL ORDER BY id"
    )
    rows: list[Row] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [domain_id])
        while chunk := cursor.fetchmany(BATCH):
            part = [(k, d, bool(e), c) for k, d, e, c in chunk]
            rows += part
            if batch is not None:
                batch(part)
    return rows


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

    def add_rows(batch: list[Row]) -> None:
        add(render_rows(batch, first=len(pieces) == 1))  # after the head

    with transaction.atomic():
        locked = Domain.objects.select_for_update().get(pk=domain.pk)
        add(render_head(locked.header))
        if locked.alias_of_id is not None:
            rows = generated_rows(locked)
            notes = generated_findings(locked, _mailbox_addresses())
            add(render_rows(rows, first=True))
        else:
            rows = fetch_rows(domain.pk, add_rows)
    add(render_tail(locked.footer))
    text = "".join(pieces)
    context = map_ownership(locked, rows)
    return RenderedMap(
        domain=locked,
        serial=locked.serial,
        text=text,
        rows=rows,
        owned=context.owned,
        tolerated=context.tolerated,
        shared=context.shared,
        notes=notes,
    )
