"""Reports drawn from the mail logs: aliases nobody has written to for a while."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import get_domain_for_user, visible_domains
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.maillog.traffic import MAX_UNUSED_DAYS, logs_last_read, unused_filter, unused_since

DAY_CHOICES = (30, 90, 180, 365)
DEFAULT_DAYS = 90
PAGE_SIZE = 100
COLUMNS = ("key", "domain__name", "destinations", "created_at", "usage__last_seen")
CSV_HEADER = ("address", "domain", "destinations", "created", "last_seen")
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _days(text: str | None) -> tuple[int, str]:
    """The number of days asked for, and what was wrong with it (then the default)."""
    if text is None or not text.strip():
        return DEFAULT_DAYS, ""
    try:
        days = int(text.strip()[:6])
    except ValueError:
        days = 0
    if not 0 < days <= MAX_UNUSED_DAYS:
        return DEFAULT_DAYS, _("“%(text)s” is not a number of days from 1 to %(max)s: showing %(days)s days.") % {
            "text": text[:20], "max": MAX_UNUSED_DAYS, "days": DEFAULT_DAYS
        }
    return days, ""


def unused_aliases_in(domains: QuerySet[Domain], days: int) -> QuerySet[Alias]:
    """Aliases of ``domains`` switched on for over ``days`` days, with no mail logged in that time.

    Grouped by domain in the order domains were added, by key within each: the order of
    the (domain, key) index, so a page is read without sorting every match first
    (before any log is read, every alias matches: half a million on a large site).
    """
    return (
        Alias.objects.filter(domain__in=domains)
        .filter(unused_filter(unused_since(days)))
        .order_by("domain_id", "key_folded")
    )


@login_required
@require_GET
def unused_aliases(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Across every domain the user may see, or one (``domain``): the aliases without mail for ``days`` days."""
    days, problem = _days(request.GET.get("days"))
    visible = visible_domains(current_user(request))
    domains = visible
    domain = None
    if name := request.GET.get("domain", "").strip():
        domain = get_domain_for_user(request, name)
        domains = domains.filter(pk=domain.pk)
    rows = unused_aliases_in(domains, days)
    if request.GET.get("format") == "csv":
        return _csv_response(rows, days, domain)
    page = Paginator(rows.values("id", *COLUMNS), PAGE_SIZE).get_page(request.GET.get("page"))
    params = {"days": days, **({"domain": domain.name} if domain else {})}
    context: dict[str, Any] = {
        "nav": "traffic",
        "days": days,
        "problem": problem,
        "day_choices": DAY_CHOICES,
        "max_days": MAX_UNUSED_DAYS,
        "domain": domain,
        "domain_names": list(visible.order_by("name").values_list("name", flat=True)),
        "page": page,
        "params": params,
        # the download menu's links (aliasdesk/web/reports): the same days and domain
        "download_query": urlencode(params),
        "last_read": logs_last_read(),
        "since": unused_since(days),
    }
    return render(request, "maillog/unused.html", context)


def csv_cell(value: object) -> str:
    """The value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    """A file for csv.writer that hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def _csv_response(rows: QuerySet[Alias], days: int, domain: Domain | None) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for row in rows.values_list(*COLUMNS).iterator(chunk_size=2000):
            key, domain_name, destinations, created, last_seen = row
            yield writer.writerow(
                [csv_cell(key), csv_cell(domain_name), csv_cell(destinations), csv_cell(created),
                 csv_cell(last_seen) if last_seen else "never"]
            )

    scope = re.sub(r"[^a-z0-9.-]", "_", domain.name) if domain else "all-domains"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="unused-aliases-{scope}-{days}d.csv"'
    return response
