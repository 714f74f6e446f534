"""What the traffic dashboard shows, as plain data: totals, series and top lists.

Everything is summed in the database, whatever the size of the counter tables.
A :class:`Scope` says whose mail is counted. Server-wide numbers come from the
per-host tables (:class:`HostHour`, :class:`ReasonDay`, :class:`PeerDay`),
which hold every domain's mail, managed or not; they are for people who see
everything. A domain scope counts only mail to the aliases of the given
domains (:class:`DomainHour`, :class:`AliasDay`) and never reads the per-host
tables. Who gets which scope is decided by the views, through
:mod:`aliasdesk.accounts.access`.

Hours are stored in UTC; labels and days are in the site's zone (TIME_ZONE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import dateformat, timezone
from django.utils.translation import pgettext

from aliasdesk.aliases.models import Domain
from aliasdesk.maillog.models import AliasDay, DomainHour, HostHour, LogSource, PeerDay, ReasonDay

__all__ = [
    "DOMAIN_SERIES", "REASON_KINDS", "SERVER_SERIES", "Scope", "Window", "daily_series", "domain_table",
    "hosts", "hourly_series", "ingestion_status", "last_days", "last_hours", "top_aliases", "top_peers",
    "top_reasons", "totals",
]

SERVER_SERIES = ("received", "delivered", "deferred", "bounced", "rejected")
# Rejects happen before a message has a recipient alias: no domain's counters hold them.
DOMAIN_SERIES = ("received", "delivered", "deferred", "bounced")
REASON_KINDS = ("deferred", "bounced", "rejected")

# Name on the dashboard -> column of HostHour ("deferred" there counts deferral lines, as pflogsumm).
_SERVER_COLUMNS = {
    "received": "received", "delivered": "delivered", "forwarded": "forwarded", "deferred": "deferrals",
    "bounced": "bounced", "rejected": "rejected", "bytes_received": "bytes_received",
    "bytes_delivered": "bytes_delivered",
}
_DOMAIN_COLUMNS = {name: name for name in DOMAIN_SERIES}


@dataclass(frozen=True)
class Scope:
    """Whose mail is counted: the whole server (``domains`` None), optionally one host, or some domains."""

    domains: QuerySet[Domain] | None = None
    host: str = ""

    @classmethod
    def server(cls, host: str = "") -> Scope:
        return cls(None, host)

    @classmethod
    def of_domains(cls, domains: QuerySet[Domain]) -> Scope:
        return cls(domains)

    @property
    def is_server(self) -> bool:
        return self.domains is None

    @property
    def name(self) -> str:
        return "server" if self.is_server else "domains"

    @property
    def series(self) -> tuple[str, ...]:
        return SERVER_SERIES if self.is_server else DOMAIN_SERIES

    def hours(self) -> QuerySet[Any]:
        """The hourly counter rows of this scope."""
        if self.domains is None:
            rows: QuerySet[Any] = HostHour.objects.all()
            return rows.filter(host=self.host) if self.host else rows
        return DomainHour.objects.filter(domain__in=self.domains.values("pk"))

    def columns(self) -> dict[str, str]:
        return _SERVER_COLUMNS if self.is_server else _DOMAIN_COLUMNS


@dataclass(frozen=True)
class Window:
    """A stretch of time: hours from ``start`` (UTC, inclusive) to ``end`` (exclusive)."""

    start: datetime
    end: datetime
    labels: list[str] = field(default_factory=list)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def last_hours(now: datetime | None = None, count: int = 24, *, back: int = 0) -> Window:
    """The ``count`` clock hours up to and including the current one (``back`` windows earlier)."""
    end = _hour_floor(now or timezone.now()) + timedelta(hours=1) - timedelta(hours=count * back)
    start = end - timedelta(hours=count)
    labels = [f"{timezone.localtime(start + timedelta(hours=i)):%H:%M}" for i in range(count)]
    return Window(start, end, labels)


def last_days(now: datetime | None = None, count: int = 30) -> list[date]:
    """The ``count`` days up to and including today, in the site's zone."""
    today = timezone.localdate(now or timezone.now())
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day))


def _day_label(day: date) -> str:
    # Translators: a day on the dashboard's chart, in Django's date format ("Dec 3"; German: "3. Dez").
    return dateformat.format(day, pgettext("chart day", "M j"))


def totals(scope: Scope, window: Window) -> dict[str, int]:
    """Sums over the window; server scopes add forwarded and the bytes."""
    columns = scope.columns()
    rows = scope.hours().filter(hour__gte=window.start, hour__lt=window.end)
    sums = rows.aggregate(**{name: Sum(column) for name, column in columns.items()})
    return {name: int(sums[name] or 0) for name in columns}


def hourly_series(scope: Scope, window: Window) -> dict[str, list[int]]:
    """One point per hour of the window, zero where nothing was logged."""
    names = scope.series
    columns = scope.columns()
    points = {name: [0] * len(window.labels) for name in names}
    rows = (
        scope.hours().filter(hour__gte=window.start, hour__lt=window.end)
        .values("hour").order_by().annotate(**{f"n_{name}": Sum(columns[name]) for name in names})
    )
    for row in rows:
        index = int((row["hour"] - window.start).total_seconds() // 3600)
        if 0 <= index < len(window.labels):
            for name in names:
                points[name][index] += int(row[f"n_{name}"] or 0)
    return points


def daily_series(scope: Scope, days: list[date]) -> tuple[list[str], dict[str, list[int]]]:
    """Labels and one point per day (site zone), zero where nothing was logged.

    The database sums per hour (at most 24 rows a day, whatever the number of
    hosts or domains); the hours are put into local days here, which needs no
    time-zone support from the database.
    """
    names = scope.series
    columns = scope.columns()
    index = {day: i for i, day in enumerate(days)}
    points = {name: [0] * len(days) for name in names}
    rows = (
        scope.hours().filter(hour__gte=_day_start(days[0]), hour__lt=_day_start(days[-1] + timedelta(days=1)))
        .values("hour").order_by().annotate(**{f"n_{name}": Sum(columns[name]) for name in names})
    )
    for row in rows:
        i = index.get(timezone.localdate(row["hour"]))
        if i is not None:
            for name in names:
                points[name][i] += int(row[f"n_{name}"] or 0)
    return [_day_label(day) for day in days], points


def top_reasons(kind: str, since: date, *, host: str = "", limit: int = 10) -> list[tuple[str, int]]:
    """Server-wide: the most logged reasons of one kind since a day, as (reason, times)."""
    rows = ReasonDay.objects.filter(day__gte=since, kind=kind)
    if host:
        rows = rows.filter(host=host)
    top = rows.values("reason").order_by().annotate(n=Sum("count")).order_by("-n", "reason")[:limit]
    return [(row["reason"], int(row["n"])) for row in top]


def top_peers(direction: str, since: date, *, host: str = "", limit: int = 10) -> list[tuple[str, int]]:
    """Server-wide: sender (``from``) or recipient (``to``) domains by messages, as (domain, messages)."""
    rows = PeerDay.objects.filter(day__gte=since, direction=direction)
    if host:
        rows = rows.filter(host=host)
    top = rows.values("domain").order_by().annotate(n=Sum("messages")).order_by("-n", "domain")[:limit]
    return [(row["domain"], int(row["n"])) for row in top]


_SUMS = {"n_received": Sum("received"), "n_delivered": Sum("delivered"), "n_deferred": Sum("deferred"),
         "n_bounced": Sum("bounced")}


def _counts(row: Any) -> dict[str, int]:
    return {name: int(row[f"n_{name}"] or 0) for name in DOMAIN_SERIES}


def top_aliases(domains: QuerySet[Domain], since: date, *, limit: int = 10) -> list[dict[str, Any]]:
    """The aliases of ``domains`` that received most since a day: key, domain and the four counts."""
    rows: QuerySet[Any] = (
        AliasDay.objects.filter(day__gte=since, alias__domain__in=domains.values("pk"), alias__deleted_at__isnull=True)
        .values("alias_id", "alias__key", "alias__domain__name").order_by()
    )
    top = rows.annotate(**_SUMS).filter(n_received__gt=0).order_by("-n_received", "alias__key")[:limit]
    return [{"id": row["alias_id"], "key": row["alias__key"], "domain": row["alias__domain__name"], **_counts(row)}
            for row in top]


def domain_table(domains: QuerySet[Domain], window: Window, *, limit: int = 20) -> list[dict[str, Any]]:
    """Mail to each of ``domains`` in the window, busiest first: name and the four counts."""
    rows: QuerySet[Any] = (
        DomainHour.objects.filter(hour__gte=window.start, hour__lt=window.end, domain__in=domains.values("pk"))
        .values("domain__name").order_by()
    )
    top = rows.annotate(**_SUMS).order_by("-n_received", "domain__name")[:limit]
    return [{"name": row["domain__name"], **_counts(row)} for row in top]


def hosts() -> list[str]:
    """The mail hosts whose logs were counted (HostHour holds a row per host and hour)."""
    return list(HostHour.objects.values_list("host", flat=True).distinct().order_by("host"))


def ingestion_status() -> dict[str, Any]:
    """How far log reading got: the sources (a handful of LogSource rows), their latest times and counts."""
    sources = list(LogSource.objects.defer("in_flight", "position"))  # in_flight can hold megabytes
    read = [s.last_read_at for s in sources if s.last_read_at]
    logged = [s.last_line_at for s in sources if s.last_line_at]
    return {
        "sources": sources,
        "last_read_at": max(read) if read else None,
        "last_line_at": max(logged) if logged else None,
        "lines": sum(s.lines for s in sources),
        "unparsed": sum(s.unparsed for s in sources),
        "notes": [f"{s.node}:{s.path}: {s.note}" for s in sources if s.note],
    }
