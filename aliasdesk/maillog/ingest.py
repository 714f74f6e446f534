"""Read mail logs into the traffic counters, a piece at a time (``aliasdesk logingest``).

Each piece of new log lines is counted in memory (:class:`TrafficCounter`) and
stored in one transaction together with the file position after it, so a
crash, a kill or a second ingester at any moment can neither lose nor double a
line: either the counts and the new position are both stored, or neither is.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aliasdesk.aliases.models import Alias
from aliasdesk.maillog.models import AliasDay, AliasUsage, DomainHour, HostHour, LogSource, PeerDay, ReasonDay
from aliasdesk.postfix.maillog.count import ADDRESS_FIELDS, HOUR_FIELDS, TrafficCounter
from aliasdesk.postfix.maillog.follow import LogPosition, Piece, is_rotated_name, read_new
from aliasdesk.postfix.maps.resolve import split_extension

__all__ = [
    "IngestBusy", "IngestConflict", "IngestReport", "NotALiveLog", "check_live_log", "ingest_log", "prune_counters",
    "reader_lock",
]

CHUNK = 400
RETRIES = 5


class IngestBusy(Exception):
    """Another ``logingest`` on this machine is reading the same file right now."""


class NotALiveLog(Exception):
    """logingest was given a rotated file: its lines would be counted again when rotation renames it."""


class IngestConflict(Exception):
    """The stored position moved while this piece was being counted: another reader stored it."""


@dataclass
class IngestReport:
    path: str
    lines: int = 0
    unparsed: int = 0
    pieces: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.path}: {self.lines} new lines"
        if self.unparsed:
            text += f" ({self.unparsed} not Postfix log lines)"
        return "; ".join([text, *self.notes])


def ingest_log(path: str, *, node: str | None = None, start_at_end: bool = False,
               max_bytes: int = 8 << 20, locked: bool = False) -> IngestReport:
    """Count the lines added to the log at ``path`` since the last run, across rotations.

    ``node`` names the machine whose file this is (default: this host's name),
    so several mail hosts can ingest their own ``/var/log/mail.log`` into one
    shared database. ``start_at_end`` makes a first run skip what is already in
    the file. ``locked``: the caller holds :func:`reader_lock` for this file.
    """
    check_live_log(path)
    real = os.path.abspath(path)
    node = node or socket.gethostname()
    report = IngestReport(real)
    with nullcontext() if locked else reader_lock(node, real):
        source, _ = LogSource.objects.get_or_create(node=node, path=real)
        position = LogPosition.from_dict(source.position) if source.position else None
        in_flight: dict[str, Any] = source.in_flight or {}
        tz = _log_timezone()
        for piece in read_new(real, position, max_bytes=max_bytes, start_at_end=start_at_end):
            counter = TrafficCounter(in_flight=in_flight, reference=_mtime(piece.source), tz=tz)
            counter.feed(piece.lines)
            _store_with_retries(source.pk, position, piece, counter)
            position, in_flight = piece.position, counter.in_flight()
            report.pieces += 1
            report.lines += counter.lines
            report.unparsed += counter.unparsed
            if piece.note:
                report.notes.append(piece.note)
    return report


def check_live_log(path: str) -> None:
    """Refuse a rotated file as a source: after its next rename it would be a new file, read again."""
    if is_rotated_name(path):
        raise NotALiveLog(_(
            "%(path)s is a rotated log: name the live file (e.g. /var/log/mail.log); rotated files are "
            "read from it as needed. For old logs use `aliasdesk logstats`."
        ) % {"path": path})


@contextmanager
def reader_lock(node: str | None, path: str) -> Iterator[None]:
    """Be the only ``logingest`` of this file on this machine, or raise IngestBusy."""
    node = node or socket.gethostname()
    path = os.path.abspath(path)
    lock_dir = settings.DATA_DIR / "logingest"
    lock_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(f"{node}\0{path}".encode()).hexdigest()[:24]
    with open(lock_dir / f"{name}.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestBusy(
            _("%(path)s: another logingest is reading this file; try again when it ends") % {"path": path}
        ) from None
        yield


def _log_timezone() -> ZoneInfo:
    return ZoneInfo(settings.LOG_TIME_ZONE or settings.TIME_ZONE)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _store_with_retries(source_id: int, before: LogPosition | None, piece: Piece, counter: TrafficCounter) -> None:
    for attempt in range(RETRIES):
        try:
            with transaction.atomic():
                _store(source_id, before, piece, counter)
            return
        except (IntegrityError, DatabaseError):
            # Two ingesters (of different files) created the same new counter
            # row, or SQLite was busy: the transaction is gone, try it again.
            if attempt == RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _store(source_id: int, before: LogPosition | None, piece: Piece, counter: TrafficCounter) -> None:
    # in_flight is not read back: it can be large, and this process already holds it.
    source = LogSource.objects.select_for_update().defer("in_flight").get(pk=source_id)
    stored = LogPosition.from_dict(source.position) if source.position else None
    if stored != before:
        raise IngestConflict(
            _("%(path)s: another reader stored a newer position; nothing was counted twice") % {"path": source.path}
        )
    _add(HostHour, ("hour", "host"), counter.hosts, HOUR_FIELDS)
    _add(ReasonDay, ("day", "host", "kind", "reason"), _by_day(counter.reasons), ("count",))
    _add(PeerDay, ("day", "host", "direction", "domain"), _by_day(counter.peers), ("messages",))
    _store_aliases(counter)
    hours = [hour for hour, _ in counter.hosts]
    source.position = piece.position.to_dict()
    source.in_flight = counter.in_flight()
    source.lines += counter.lines
    source.unparsed += counter.unparsed
    source.last_read_at = timezone.now()
    if hours:
        source.last_line_at = max([*hours, *([source.last_line_at] if source.last_line_at else [])])
    if piece.note:
        source.note = piece.note[:512]
    source.save(update_fields=["position", "in_flight", "lines", "unparsed", "last_read_at", "last_line_at", "note"])


def _by_day(rows: dict[tuple[Any, ...], int]) -> dict[tuple[Any, ...], list[int]]:
    """Hour-keyed counts (hour first in the key) summed per day in the site's zone."""
    days: dict[tuple[Any, ...], list[int]] = {}
    day_of = _day_finder()
    for (hour, *rest), count in rows.items():
        key = (day_of(hour), *rest)
        if key in days:
            days[key][0] += count
        else:
            days[key] = [count]
    return days


def _day_finder() -> Callable[[datetime], date]:
    """The site-zone date of an hour, remembered: a piece has few distinct hours and many rows."""
    days: dict[datetime, date] = {}

    def day_of(hour: datetime) -> date:
        day = days.get(hour)
        if day is None:
            day = days[hour] = timezone.localtime(hour).date()
        return day

    return day_of


def _store_aliases(counter: TrafficCounter) -> None:
    if not counter.addresses:
        return
    owners = _aliases_for({address for _, address in counter.addresses})
    per_day: dict[tuple[Any, ...], list[int]] = {}
    per_domain: dict[tuple[Any, ...], list[int]] = {}
    usage: dict[tuple[Any, ...], list[Any]] = {}
    day_of = _day_finder()
    for (hour, address), counts in counter.addresses.items():
        owner = owners.get(address)
        if owner is None:
            continue
        alias_id, domain_id = owner
        for table, key in ((per_day, (alias_id, day_of(hour))), (per_domain, (domain_id, hour))):
            row = table.setdefault(key, [0] * len(ADDRESS_FIELDS))
            for i, value in enumerate(counts):
                row[i] += value
        first, last = counter.first_seen.get(address, hour), counter.last_seen.get(address, hour)
        entry = usage.setdefault((alias_id,), [first, last, 0, 0, 0, 0])
        entry[0] = min(entry[0], first)
        entry[1] = max(entry[1], last)
        for i, value in enumerate(counts):
            entry[2 + i] += value
    _add(AliasDay, ("alias_id", "day"), per_day, ADDRESS_FIELDS)
    _add(DomainHour, ("domain_id", "hour"), per_domain, ADDRESS_FIELDS)
    _add(AliasUsage, ("alias_id",), usage, ("first_seen", "last_seen", *ADDRESS_FIELDS),
         earliest=("first_seen",), latest=("last_seen",))


def _aliases_for(addresses: set[str]) -> dict[str, tuple[int, int]]:
    """The managed alias that Postfix would have used for each address: (alias id, domain id).

    Postfix's virtual lookup order: the address, the address without its
    extension (``user+tag@`` -> ``user@``), then the domain's catch-all ``@domain``.
    Only enabled aliases count: a switched-off key does not route mail.
    """
    delimiter = settings.RECIPIENT_DELIMITER
    candidates: dict[str, list[str]] = {}
    for address in addresses:
        keys = [address]
        if delimiter and (stripped := split_extension(address, delimiter)) is not None:
            keys.append(stripped[0])
        if "@" in address:
            keys.append("@" + address.rsplit("@", 1)[1])
        candidates[address] = keys
    wanted = sorted({key for keys in candidates.values() for key in keys})
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = (
            Alias.objects.filter(key_folded__in=wanted[start : start + CHUNK], enabled=True,
                                 deleted_at__isnull=True, domain__deleted_at__isnull=True)
            .order_by("-id")
            .values_list("key_folded", "id", "domain_id")
        )
        for key, alias_id, domain_id in rows:
            found[key] = (alias_id, domain_id)  # the oldest alias wins when two domains hold one key
    owners = {}
    for address, keys in candidates.items():
        for key in keys:
            if key in found:
                owners[address] = found[key]
                break
    return owners


def _add(model: type[models.Model], keys: Sequence[str], rows: dict[tuple[Any, ...], list[Any]],
         fields: Sequence[str], *, earliest: Sequence[str] = (), latest: Sequence[str] = ()) -> None:
    """Add ``rows`` (key tuple -> values in ``fields`` order) to the counter rows, creating missing ones.

    Existing rows are incremented in SQL (``SET n = n + %s``): one statement for
    all of them, and no lost update if another ingester adds to the same row.
    Fields named in ``earliest`` / ``latest`` keep the earlier / later value instead.
    """
    if not rows:
        return
    manager = model._default_manager
    quote = connection.ops.quote_name
    assignments, repeats = [], []
    for name, column in zip(fields, _columns(model, fields), strict=True):
        c = quote(column)
        if name in earliest or name in latest:
            assignments.append(f"{c} = CASE WHEN {c} {'>' if name in earliest else '<'} %s THEN %s ELSE {c} END")
            repeats.append(2)
        else:
            assignments.append(f"{c} = {c} + %s")
            repeats.append(1)
    update = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE {quote(str(model._meta.pk.column))} = %s"
    )
    adapt = _adapter(model, fields)
    items = list(rows.items())
    for start in range(0, len(items), CHUNK):
        chunk = dict(items[start : start + CHUNK])
        lookup = {f"{name}__in": {key[i] for key in chunk} for i, name in enumerate(keys)}
        existing = {tuple(found[1:]): found[0] for found in manager.filter(**lookup).values_list("pk", *keys)}
        changes: list[list[Any]] = []
        created: list[list[Any]] = []
        for key, values in chunk.items():
            pk = existing.get(key)
            if pk is None:
                created.append([*key, *values])
            elif any(values):
                params = [v for v, n in zip(adapt(values), repeats, strict=True) for _ in range(n)]
                changes.append([*params, pk])
        if changes:
            with connection.cursor() as cursor:
                cursor.executemany(update, changes)
        if created:
            _insert(model, [*keys, *fields], created)


def _insert(model: type[models.Model], names: Sequence[str], rows: list[list[Any]]) -> None:
    """INSERT rows of plain values (dates and times adapted for the database)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in _columns(model, names))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
    adapt = _adapter(model, names)
    params = [adapt(row) for row in rows]
    with connection.cursor() as cursor:
        for start in range(0, len(params), CHUNK):
            cursor.executemany(sql, params[start : start + CHUNK])


def _adapter(model: type[models.Model], names: Sequence[str]) -> Callable[[Sequence[Any]], list[Any]]:
    """A function that adapts the dates and times of a row for raw SQL, once per distinct value."""
    adapters: list[Callable[[Any], Any] | None] = []
    for name in names:
        field = model._meta.get_field(name.removesuffix("_id"))
        if isinstance(field, models.DateTimeField):
            adapters.append(connection.ops.adapt_datetimefield_value)
        elif isinstance(field, models.DateField):
            adapters.append(connection.ops.adapt_datefield_value)
        else:
            adapters.append(None)
    cache: dict[Any, Any] = {}

    def adapt(row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for i, adapter in enumerate(adapters):
            if adapter is not None:
                value = values[i]
                if value not in cache:
                    cache[value] = adapter(value)
                values[i] = cache[value]
        return values

    return adapt


def _columns(model: type[models.Model], names: Sequence[str]) -> list[str]:
    return [str(model._meta.get_field(name.removesuffix("_id")).column) for name in names]  # type: ignore[union-attr]


def prune_counters(now: datetime | None = None) -> dict[str, int]:
    """Forget per-domain hours older than 60 days and daily rows older than TRAFFIC_KEEP_DAYS.

    Per-host hours are kept: a year of them is under 9,000 rows per host, and
    the all-time counters ``/metrics`` reports are their sums.
    """
    now = now or timezone.now()
    keep = settings.TRAFFIC_KEEP_DAYS
    day = timezone.localtime(now).date() - timedelta(days=keep)
    removed = {
        "domain_hours": DomainHour.objects.filter(hour__lt=now - timedelta(days=min(keep, 60))).delete()[0],
        "alias_days": AliasDay.objects.filter(day__lt=day).delete()[0],
        "reason_days": ReasonDay.objects.filter(day__lt=day).delete()[0],
        "peer_days": PeerDay.objects.filter(day__lt=day).delete()[0],
    }
    return removed
