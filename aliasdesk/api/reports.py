"""Reports: where mail to an address ends up (the resolve page), the unused aliases, and the
traffic numbers of the dashboard."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Literal

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from aliasdesk.accounts.access import sees_everything
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.lookup import alias_domain_names, hidden_answers, managed_table
from aliasdesk.api.auth import domain_for, user_of
from aliasdesk.api.schemas import Resolution, UnusedPage, answers
from aliasdesk.maillog import dashboard
from aliasdesk.maillog.report_views import DEFAULT_DAYS, unused_aliases_in
from aliasdesk.maillog.traffic import MAX_UNUSED_DAYS, logs_last_read, unused_since
from aliasdesk.postfix.maps.resolve import explain, resolve

router = Router(tags=["reports"])

PAGE_SIZE = 100


class ResolveParams(Schema):
    address: str = Field(..., min_length=1, max_length=512, description="the address mail is sent to")


class UnusedParams(Schema):
    days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_UNUSED_DAYS, description="no mail logged for this many days")
    domain: str | None = Field(None, max_length=253, description="one domain (default: every one the token sees)")
    page: int = Field(1, ge=1, le=1_000_000)


@router.get(
    "/resolve",
    response=answers({200: Resolution}, 422),
    summary="Where mail to an address ends up, step by step, through the maps the token may see",
)
def resolve_address(request: HttpRequest, params: Query[ResolveParams]) -> dict[str, Any]:
    address = params.address.strip()
    user = user_of(request)
    table, domains = managed_table(visible_domains(user))
    resolution = resolve(address or params.address, table, alias_domains=alias_domain_names(domains))
    hidden = [] if sees_everything(user) else hidden_answers(resolution, domains)
    return {
        **resolution.to_dict(),
        "explanation": explain(resolution),
        "maps": [d.name for d in domains],
        "hidden": [dataclasses.asdict(h) for h in hidden],
    }


@router.get(
    "/reports/unused",
    response=answers({200: UnusedPage}, 404, 422),
    summary="Aliases switched on for a while with no mail logged (from the mail-log counters)",
)
def unused(request: HttpRequest, params: Query[UnusedParams]) -> dict[str, Any]:
    domains = visible_domains(user_of(request))
    if params.domain:
        domain = domain_for(request, params.domain)
        domains = domains.filter(pk=domain.pk)
    columns = ("id", "key", "domain__name", "destinations", "created_at", "usage__last_seen")
    paginator = Paginator(unused_aliases_in(domains, params.days).values(*columns), PAGE_SIZE)
    page = paginator.get_page(params.page)
    rows = list(page.object_list) if page.number == params.page else []
    return {
        "days": params.days,
        "since": unused_since(params.days),
        "logs_last_read": logs_last_read(),
        "count": paginator.count,
        "page": params.page,
        "pages": paginator.num_pages,
        "results": [
            {
                "id": row["id"],
                "key": row["key"],
                "domain": row["domain__name"],
                "destinations": [d for d in row["destinations"].split(", ") if d],
                "created_at": row["created_at"],
                "last_seen": row["usage__last_seen"],
            }
            for row in rows
        ],
    }


class StatsParams(Schema):
    range: Literal["24h", "30d"] = Field("24h", description="the last 24 hours (per hour) or 30 days (per day)")
    domain: str | None = Field(None, max_length=253, description="one domain (default: what the token sees)")
    host: str | None = Field(None, max_length=253, description="one mail host (whole-server readers only)")


class Stats(Schema):
    scope: Literal["server", "domains"]
    range: str
    domain: str | None
    host: str | None
    totals: dict[str, int] = Field(..., description="sums over the range, named as on the dashboard")
    labels: list[str] = Field(..., description="one per hour (24h) or day (30d)")
    series: dict[str, list[int]] = Field(..., description="a point per label for each count")
    logs_last_read: datetime.datetime | None = None


@router.get(
    "/stats",
    response=answers({200: Stats}, 404, 422),
    summary="Mail counts of the dashboard: received, delivered, forwarded, deferred, bounced, rejected",
)
def stats(request: HttpRequest, params: Query[StatsParams]) -> dict[str, Any]:
    """Administrators and auditors (with a token for every domain) get the whole server's
    numbers, optionally of one host; everyone else the domains they may see, or one of them."""
    user = user_of(request)
    everything = sees_everything(user)
    if params.host and not everything:
        raise Http404(_("no such host"))
    if params.domain:
        domain = domain_for(request, params.domain)
        scope = dashboard.Scope.of_domains(visible_domains(user).filter(pk=domain.pk))
    elif everything:
        scope = dashboard.Scope.server(params.host or "")
    else:
        scope = dashboard.Scope.of_domains(visible_domains(user))
    if params.range == "24h":
        window = dashboard.last_hours()
        labels, series = window.labels, dashboard.hourly_series(scope, window)
    else:
        window = dashboard.last_hours(count=24 * 30)
        labels, series = dashboard.daily_series(scope, dashboard.last_days(count=30))
    return {
        "scope": scope.name,
        "range": params.range,
        "domain": params.domain.lower() if params.domain else None,
        "host": params.host or None,
        "totals": dashboard.totals(scope, window),
        "labels": labels,
        "series": series,
        "logs_last_read": logs_last_read(),
    }
