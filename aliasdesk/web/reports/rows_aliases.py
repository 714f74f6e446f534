"""Reports on aliases: a domain's aliases (all, or the grid's current view), those expiring,
those without mail, and one line per domain. Each is one function that builds a Report
whose rows are read lazily, in batches, when a format writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from django.db.models import Max, QuerySet, Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from aliasdesk.aliases.alias_csv import in_batches
from aliasdesk.aliases.grid_view import describe
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import AliasQuery, alias_counts_many, search_aliases
from aliasdesk.deploys.overview import with_deploy_state
from aliasdesk.maillog.models import AliasDay, AliasUsage
from aliasdesk.maillog.report_views import unused_aliases_in
from aliasdesk.maillog.traffic import TRAFFIC_DAYS, traffic_for
from aliasdesk.web.reports.formats import Cell, Report

MAIL_RECEIVED = format_lazy(gettext_lazy("Mail received, {days} days"), days=TRAFFIC_DAYS)
ALIAS_COLUMNS = (
    gettext_lazy("Address"), gettext_lazy("Destinations"), gettext_lazy("On/off"), gettext_lazy("Comment"),
    gettext_lazy("Valid until"), gettext_lazy("Last change"), gettext_lazy("Changed by"), MAIL_RECEIVED,
    gettext_lazy("Last seen"),
)
ALIAS_WIDTHS = (36, 48, 7, 30, 12, 20, 14, 12, 20)
ALIAS_FIELDS = ("key", "destinations", "enabled", "comment", "valid_until", "updated_at", "updated_by__username")


def view_rows(domain: Domain, query: AliasQuery | None) -> tuple[QuerySet[Alias], bool]:
    """The aliases of the view, and whether they can be read in id order by keyset."""
    if query is None:
        return Alias.objects.filter(domain=domain, deleted_at__isnull=True), True
    return search_aliases(domain, query, dense=True), not query.words and query.order == "file"


def alias_report(domain: Domain, query: AliasQuery | None = None) -> Report:
    """Every live alias of the domain in file order, or the grid's view (``query``), with
    its mail of the last TRAFFIC_DAYS days and the last time the logs showed any."""
    rows, keyset = view_rows(domain, query)
    notes = describe(query) if query is not None else []

    def lines() -> Iterator[tuple[Cell, ...]]:
        on_off, never = {True: _("on"), False: _("off")}, _("never")
        for batch in in_batches(rows, ALIAS_FIELDS, keyset=keyset, size=2000):
            traffic = traffic_for(row[0] for row in batch)
            for pk, key, destinations, enabled, comment, valid_until, updated, by in batch:
                mail = traffic[pk]
                yield (key, destinations, on_off[bool(enabled)], comment, valid_until, updated, by,
                       mail.received, mail.last_seen or never)

    scope = domain.name
    return Report(gettext_lazy("Aliases"), scope, ALIAS_COLUMNS, lines(), f"aliases-{domain.name}",
                  notes=notes or [_("every live alias")], widths=ALIAS_WIDTHS)


EXPIRING_COLUMNS = (
    gettext_lazy("Domain"), gettext_lazy("Address"), gettext_lazy("Destinations"), gettext_lazy("On/off"),
    gettext_lazy("Valid until"), gettext_lazy("Days left"), gettext_lazy("Comment"),
)


def expiring_report(domains: QuerySet[Domain], days: int, scope: str) -> Report:
    """Live aliases whose valid-until date comes within ``days`` days (or has passed and the
    alias still waits for a deploy to switch it off), soonest first."""
    today = timezone.localdate()
    rows = (
        Alias.objects.filter(domain__in=domains, deleted_at__isnull=True, valid_until__lte=today + timedelta(days=days))
        .order_by("valid_until", "domain__name", "key_folded")
        .values_list("domain__name", "key", "destinations", "enabled", "valid_until", "comment")
    )

    def lines() -> Iterator[tuple[Cell, ...]]:
        on_off = {True: _("on"), False: _("off")}
        for name, key, destinations, enabled, valid_until, comment in rows.iterator(chunk_size=2000):
            left = (valid_until - today).days if valid_until else None
            yield name, key, destinations, on_off[bool(enabled)], valid_until, left, comment

    last_day = f"{today + timedelta(days=days):%Y-%m-%d}"
    return Report(gettext_lazy("Expiring aliases"), scope, EXPIRING_COLUMNS, lines(), f"expiring-{scope}-{days}d",
                  notes=[_("valid until %(day)s or earlier") % {"day": last_day}],
                  widths=(20, 36, 44, 7, 12, 9, 30))


UNUSED_COLUMNS = (
    gettext_lazy("Domain"), gettext_lazy("Address"), gettext_lazy("Destinations"), gettext_lazy("Created"),
    gettext_lazy("Last seen"),
)


def unused_report(domains: QuerySet[Domain], days: int, scope: str) -> Report:
    """Aliases switched on for over ``days`` days with no mail logged in that time
    (the unused page's list, maillog/report_views.py)."""
    rows = unused_aliases_in(domains, days).values_list(
        "domain__name", "key", "destinations", "created_at", "usage__last_seen"
    )

    def lines() -> Iterator[tuple[Cell, ...]]:
        never = _("never")
        for name, key, destinations, created, last_seen in rows.iterator(chunk_size=2000):
            yield name, key, destinations, created, last_seen or never

    notes = [ngettext("switched on, no mail in the logs for %(days)s day",
                      "switched on, no mail in the logs for %(days)s days", days) % {"days": days}]
    return Report(gettext_lazy("Unused aliases"), scope, UNUSED_COLUMNS, lines(), f"unused-{scope}-{days}d",
                  notes=notes, widths=(20, 36, 48, 20, 20))


SUMMARY_COLUMNS = (
    gettext_lazy("Domain"), gettext_lazy("Alias domain of"), gettext_lazy("Aliases on"), gettext_lazy("Off"),
    gettext_lazy("In trash"), gettext_lazy("Expiring"), gettext_lazy("Map"), gettext_lazy("State"),
    gettext_lazy("Last deploy"), gettext_lazy("Last deploy outcome"), MAIL_RECEIVED, gettext_lazy("Last seen"),
)


def _state(domain: Any) -> str:
    if domain.pending is None:
        state = _("not deployed yet")
    elif domain.pending:
        state = ngettext("%(count)s change not deployed", "%(count)s changes not deployed", domain.pending) % {
            "count": domain.pending
        }
    else:
        state = _("deployed")
    return _("edited by hand; %(state)s") % {"state": state} if domain.drift else state


def _traffic_by_domain(ids: list[int], since: date) -> dict[int, tuple[int, Any]]:
    """Mail received since ``since`` and the last time any was seen, per domain: two grouped queries."""
    received = dict(
        AliasDay.objects.filter(alias__domain_id__in=ids, day__gte=since)
        .values("alias__domain_id").annotate(n=Sum("received")).order_by().values_list("alias__domain_id", "n")
    )
    seen = dict(
        AliasUsage.objects.filter(alias__domain_id__in=ids)
        .values("alias__domain_id").annotate(last=Max("last_seen")).order_by().values_list("alias__domain_id", "last")
    )
    return {pk: (int(received.get(pk) or 0), seen.get(pk)) for pk in ids}


def summary_report(domains: QuerySet[Domain], scope: str) -> Report:
    """One line per domain: aliases on and off, deployed or not, the last deploy, its mail."""

    def lines() -> Iterator[tuple[Cell, ...]]:
        listed = with_deploy_state(domains.select_related("alias_of").order_by("name"))
        for start in range(0, len(listed), 200):
            part = listed[start : start + 200]
            counts = alias_counts_many([(d.pk, d.created_at, d.serial) for d in part])
            mail = _traffic_by_domain([d.pk for d in part], timezone.localdate() - timedelta(days=TRAFFIC_DAYS - 1))
            for d in part:
                n, last = counts[d.pk], d.last_deploy  # type: ignore[attr-defined]
                yield (
                    d.name, d.alias_of.name if d.alias_of else "", n["enabled"], n["disabled"], n["deleted"],
                    n["expiring"], f"{d.map_type}:{d.map_path}", _state(d),
                    last.created_at if last else _("never"), last.get_status_display() if last else "",
                    mail[d.pk][0], mail[d.pk][1] or _("never"),
                )

    return Report(gettext_lazy("Domains"), scope, SUMMARY_COLUMNS, lines(), f"domains-{scope}",
                  widths=(24, 18, 10, 8, 8, 8, 40, 24, 20, 14, 12, 20))

