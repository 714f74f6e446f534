"""What the managed maps answer, kept in one SQL table that Postfix reads directly.

``aliasdesk postfix-config`` prints a ``sqlite:``/``pgsql:``/``mysql:`` table file for
``virtual_alias_maps`` whose query reads ``VirtualEntry``: one row per entry a deployed map
would hold (header entries, the live switched-on aliases, footer entries), with the key as
Postfix folds it and the place of the entry in Postfix's lookup order (the map's rank in
``virtual_alias_maps``, then its place in the file). The query takes the first row, so the
first of duplicate keys wins, and of two maps defining one key the one Postfix consults
first. Switched-off and deleted aliases have no row; an alias past its valid-until date
stops answering at the local midnight after it, before any deploy switches it off.

The one choke point is ``bump_serial``: every change of a domain or its aliases calls
``follow_after_commit``, and after the commit ``sync_domain`` brings that domain's rows up
to its serial, from the rows whose serial is above the one last synced (the same
bookkeeping the deploy's patches use). A header, footer or import change, rows written
around the services, or a sync that is behind in any other way rebuilds the domain's rows
instead; ``sync_all`` (``aliasdesk postfix-config --sync``) checks every domain. A failed
sync never fails the save: it is logged, and the next change or ``--sync`` repairs it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import connections, transaction
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain, VirtualEntry, VirtualSync
from aliasdesk.aliases.ownership import lookup_order, postfix_virtual_alias_maps
from aliasdesk.aliases.virtual_store import ENABLED_MARK, never_synced, table_database
from aliasdesk.postfix.maps.virtual import parse_virtual

logger = logging.getLogger(__name__)

HEADER, ALIASES, FOOTER = 0, 1, 2
BATCH = 5000
# More changed aliases than this since the last sync: rebuilding the domain's rows is cheaper.
REBUILD_ABOVE = 5000


def fold_key(key: str) -> str:
    """The key as Postfix folds it before it asks a table (``smtputf8_enable = yes``, the
    default: full Unicode case folding, so ``Straße`` is asked as ``strasse``)."""
    return key.casefold()


def expires_at(valid_until: datetime.date | None) -> int | None:
    """Unix seconds from which an alias valid until that day no longer answers: the local
    midnight after it, the moment ``expire_aliases`` would switch it off."""
    if valid_until is None:
        return None
    midnight = datetime.datetime.combine(
        valid_until + datetime.timedelta(days=1), datetime.time.min, tzinfo=timezone.get_default_timezone()
    )
    return int(midnight.timestamp())


# One row of VirtualEntry, in COLUMNS order: tuples, because a map may have 500,000 of them.
Row = tuple[str, str, int, int | None, int, int, int, int | None]
COLUMNS = ["lookup_key", "value", "domain_id", "alias_id", "map_rank", "section", "position", "expires_at"]


def text_entries(domain_id: int, rank: int, section: int, text: str) -> list[Row]:
    """The switched-on entries of a header or footer, in file order."""
    if not text:
        return []
    entries = [e for e in parse_virtual(text).entries if e.enabled]
    return [(fold_key(e.key), e.value, domain_id, None, rank, section, i, None) for i, e in enumerate(entries)]


def alias_entry(
    domain_id: int, rank: int, pk: int, key: str, destinations: str, valid_until: datetime.date | None
) -> Row:
    return (fold_key(key), destinations, domain_id, pk, rank, ALIASES, pk, expires_at(valid_until))


def map_ranks(using: str) -> dict[int, int]:
    """Each live domain's place in Postfix's lookup order (1 = consulted first).

    Read from ``virtual_alias_maps`` while it lists the managed map files (by name when
    Postfix's configuration cannot be read, as everywhere in aliasdesk). Once the SQL table
    has replaced them there, it lists none: the order last read (the ranks the table holds)
    is kept then, so mail goes where it went before the switch, and maps new since come
    after them, by name.
    """
    live = list(Domain.objects.filter(deleted_at__isnull=True).only("pk", "name", "map_path"))
    order = lookup_order(live)
    tables = postfix_virtual_alias_maps()
    if tables is not None and live and all(place == len(tables) for place, _name in order.values()):
        kept = dict(
            VirtualSync.objects.using(using).exclude(domain_id=ENABLED_MARK).values_list("domain_id", "map_rank")
        )
        order = {pk: (kept.get(pk, len(kept) + 1), name) for pk, (_place, name) in order.items()}
    return {d.pk: rank for rank, d in enumerate(sorted(live, key=lambda d: order[d.pk]), start=1)}


class FollowChange:
    """The callback that syncs a domain after a commit (one per domain and transaction)."""

    def __init__(self, domain_id: int, pending: dict[int, FollowChange]) -> None:
        self.domain_id = domain_id
        self.pending = pending

    def __call__(self) -> None:
        if self.pending.get(self.domain_id) is self:
            del self.pending[self.domain_id]
        sync_quietly(self.domain_id)


def follow_after_commit(domain_id: int) -> None:
    """Called where the domain's serial is bumped: sync its rows once the change commits.

    Once per domain and transaction: a paste of a thousand lines bumps the serial a thousand
    times, and one sync after the commit takes them all. (A callback of a rolled-back
    transaction or savepoint is gone from Django's list, so the next change registers anew.)
    """
    connection = transaction.get_connection()
    pending: dict[int, FollowChange] = connection.__dict__.setdefault("aliasdesk_virtual_pending", {})
    registered = pending.get(domain_id)
    if registered is not None and any(entry[1] is registered for entry in connection.run_on_commit):
        return
    callback = FollowChange(domain_id, pending)
    pending[domain_id] = callback
    transaction.on_commit(callback)


def sync_quietly(domain_id: int) -> None:
    """``sync_domain`` when the table is kept; a failure is logged, never raised to the save."""
    try:
        using = table_database()
        if using is not None and never_synced(using):
            sync_all()
        elif using is not None:
            sync_domain(using, domain_id)
    except Exception:  # the change is saved; the next sync catches up
        logger.exception(
            "The Postfix lookup table could not follow the change of domain #%s; it answers the old "
            "state until the next change or `aliasdesk postfix-config --sync`.",
            domain_id,
        )


def _insert(using: str, rows: Iterable[Row]) -> int:
    """Insert rows in batches with one parameterised INSERT (the ORM's bulk_create spends most
    of its time building SQL per object; this is the same SQL on every database)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(VirtualEntry._meta.db_table)} ({', '.join(quote(c) for c in COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )
    count = 0
    rows = iter(rows)
    with connection.cursor() as cursor:
        while batch := list(islice(rows, BATCH)):
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _live_alias_entries(domain_id: int, rank: int) -> Iterator[Row]:
    rows = (
        Alias.objects.filter(domain_id=domain_id, deleted_at__isnull=True, enabled=True)
        .order_by()
        .values_list("pk", "key", "destinations", "valid_until")
        .iterator(chunk_size=BATCH)
    )
    for pk, key, destinations, valid_until in rows:
        yield alias_entry(domain_id, rank, pk, key, destinations, valid_until)


def _generated_entries(domain_id: int, rank: int) -> Iterator[Row]:
    """An alias domain's lines, generated from its target's as its deploy renders them."""
    from aliasdesk.aliases.aliasdomains import generated_rows

    domain = Domain.objects.get(pk=domain_id)
    for position, (key, destinations, _enabled, _comment) in enumerate(generated_rows(domain), start=1):
        yield (fold_key(key), destinations, domain_id, None, rank, ALIASES, position, None)


def _rebuild(using: str, domain: DomainState, rank: int) -> None:
    VirtualEntry.objects.using(using).filter(domain_id=domain.pk).delete()
    _insert(using, text_entries(domain.pk, rank, HEADER, domain.header))
    if domain.alias_of is not None:
        _insert(using, _generated_entries(domain.pk, rank))
    else:
        _insert(using, _live_alias_entries(domain.pk, rank))
    _insert(using, text_entries(domain.pk, rank, FOOTER, domain.footer))


def _refresh_texts(using: str, domain: DomainState, rank: int) -> None:
    """Header and footer entries again, and no row for an alias that is gone (purged)."""
    mine = VirtualEntry.objects.using(using).filter(domain_id=domain.pk)
    mine.filter(section__in=[HEADER, FOOTER]).delete()
    _insert(using, text_entries(domain.pk, rank, HEADER, domain.header))
    _insert(using, text_entries(domain.pk, rank, FOOTER, domain.footer))
    kept = {pk for pk in mine.filter(section=ALIASES).values_list("alias_id", flat=True) if pk is not None}
    gone = sorted(kept - set(Alias.objects.filter(domain_id=domain.pk).values_list("pk", flat=True)))
    for start in range(0, len(gone), 500):
        mine.filter(alias_id__in=gone[start : start + 500]).delete()


Changed = tuple[int, str, str, bool, datetime.datetime | None, datetime.date | None]


def _apply_changes(using: str, domain_id: int, rank: int, changed: list[Changed]) -> None:
    """Replace the rows of the aliases changed since the last sync by their live state."""
    mine = VirtualEntry.objects.using(using).filter(domain_id=domain_id)
    ids = [row[0] for row in changed]
    for start in range(0, len(ids), 500):
        mine.filter(alias_id__in=ids[start : start + 500]).delete()
    _insert(
        using,
        (
            alias_entry(domain_id, rank, pk, key, destinations, valid_until)
            for pk, key, destinations, enabled, deleted_at, valid_until in changed
            if enabled and deleted_at is None
        ),
    )


@dataclass
class DomainState:
    pk: int
    serial: int
    rebuild_serial: int
    header: str
    footer: str
    alias_of: int | None = None


def _domain_state(domain_id: int) -> DomainState | None:
    """The domain as it is now, None when it is gone or deleted. The serial is read before any
    alias row: rows read afterwards hold at least every change up to it."""
    row = (
        Domain.objects.filter(pk=domain_id, deleted_at__isnull=True)
        .values_list("serial", "rebuild_serial", "header", "footer", "alias_of_id")
        .first()
    )
    return None if row is None else DomainState(domain_id, *row)


def rerank(using: str, ranks: dict[int, int]) -> None:
    """Give every synced domain's rows its current rank; drop the rows of domains gone."""
    for state in VirtualSync.objects.using(using).exclude(domain_id=ENABLED_MARK):
        rank = ranks.get(state.domain_id)
        entries = VirtualEntry.objects.using(using).filter(domain_id=state.domain_id)
        if rank is None:
            entries.delete()
            state.delete(using=using)
        elif rank != state.map_rank:
            entries.update(map_rank=rank)
            state.map_rank = rank
            state.save(using=using)


def sync_domain(using: str, domain_id: int, ranks: dict[int, int] | None = None) -> str:
    """Bring one domain's rows up to its serial; says what it did: ``current``, ``changes``,
    ``rebuilt`` or ``removed``.

    Syncs take turns (the bookkeeping row of domain 0 is locked; the SQLite lookup file's
    write lock does the same), and never lock the domain: edits go on meanwhile and are
    picked up by the sync their own commit starts.
    """
    with transaction.atomic(using=using):
        VirtualSync.objects.using(using).select_for_update().filter(domain_id=ENABLED_MARK).first()
        state = VirtualSync.objects.using(using).filter(domain_id=domain_id).first()
        domain = _domain_state(domain_id)
        if domain is None:
            VirtualEntry.objects.using(using).filter(domain_id=domain_id).delete()
            if state is not None:
                state.delete(using=using)
            return "removed"
        if state is not None and state.serial == domain.serial:
            return "current"
        if state is None:
            ranks = ranks or map_ranks(using)
            rerank(using, ranks)
            state = VirtualSync(domain_id=domain_id, serial=0, map_rank=ranks.get(domain_id, len(ranks) + 1))
        how = _bring_up_to_date(using, domain, state)
        state.serial = domain.serial
        state.save(using=using)
        return how


def _bring_up_to_date(using: str, domain: DomainState, state: VirtualSync) -> str:
    rank = state.map_rank
    # An alias domain has no rows of its own: its generated lines are made again whole.
    behind = state.serial == 0 or state.serial > domain.serial or domain.alias_of is not None
    if not behind and not Alias.objects.filter(domain_id=domain.pk, serial=0).exists():
        changed = list(
            Alias.objects.filter(domain_id=domain.pk, serial__gt=state.serial)
            .order_by()
            .values_list("pk", "key", "destinations", "enabled", "deleted_at", "valid_until")[: REBUILD_ABOVE + 1]
        )
        if len(changed) <= REBUILD_ABOVE:
            if domain.rebuild_serial > state.serial:
                _refresh_texts(using, domain, rank)
            _apply_changes(using, domain.pk, rank, changed)
            return "changes"
    _rebuild(using, domain, rank)
    return "rebuilt"


@dataclass
class SyncReport:
    domains: int
    rebuilt: int
    changed: int
    removed: int


def sync_all(*, create: bool = False) -> SyncReport | None:
    """Check every domain and bring the table up to date (ranks included); None while the
    table is not kept and ``create`` is off. What ``postfix-config`` and ``--sync`` run."""
    using = table_database(create=create)
    if using is None:
        return None
    ranks = map_ranks(using)
    with transaction.atomic(using=using):
        VirtualSync.objects.using(using).get_or_create(domain_id=ENABLED_MARK)
        mark = VirtualSync.objects.using(using).select_for_update().get(domain_id=ENABLED_MARK)
        stale = set(
            VirtualSync.objects.using(using).exclude(domain_id=ENABLED_MARK).values_list("domain_id", flat=True)
        ) - set(ranks)
        rerank(using, ranks)
        mark.serial += 1
        mark.save(using=using)
    outcomes = [sync_domain(using, pk, ranks) for pk in sorted(ranks)]
    return SyncReport(
        domains=len(ranks),
        rebuilt=outcomes.count("rebuilt"),
        changed=outcomes.count("changes"),
        removed=len(stale),
    )
