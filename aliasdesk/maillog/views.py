"""The traffic dashboard: a page of totals and top lists, and the JSON its two charts draw."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET

from aliasdesk.accounts.access import sees_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import get_domain_for_user, visible_domains
from aliasdesk.aliases.models import Domain
from aliasdesk.maillog import dashboard
from aliasdesk.maillog.dashboard import Scope

TOP_DAYS = 7  # reasons, peers and the per-domain table
ALIAS_DAYS = 30

_CARDS = [
    ("received", gettext_lazy("Received"), gettext_lazy("Messages accepted by the mail server")),
    (
        "delivered",
        gettext_lazy("Delivered"),
        gettext_lazy("Deliveries that succeeded (one message can go to several places)"),
    ),
    ("forwarded", gettext_lazy("Forwarded"), gettext_lazy("Deliveries that handed the message on to another address")),
    (
        "deferred",
        gettext_lazy("Deferred"),
        gettext_lazy("Delivery attempts that failed for now and will be retried"),
    ),
    (
        "bounced",
        gettext_lazy("Bounced"),
        gettext_lazy("Deliveries that failed for good: the sender got the message back"),
    ),
    (
        "rejected",
        gettext_lazy("Rejected"),
        gettext_lazy("Messages refused before they were accepted (spam lists, unknown addresses)"),
    ),
]
_PROBLEMS = ("deferred", "bounced", "rejected")
_REASONS = [
    ("deferred", gettext_lazy("Deferral reasons")),
    ("bounced", gettext_lazy("Bounce reasons")),
    ("rejected", gettext_lazy("Reject reasons")),
]


def get_scope_for_user(request: HttpRequest) -> tuple[Scope, Domain | None]:
    """Whose numbers the user gets: the one place the dashboard decides it.

    ``?domain=`` narrows to one domain the user may see (404 for any other);
    ``?host=`` narrows server-wide numbers to one mail host and is only for
    people who see everything (404 for anyone else). Without either, those
    people get the whole server, everyone else the domains granted to them.
    """
    user = current_user(request)
    everything = sees_everything(user)
    host = request.GET.get("host", "").strip()
    if host and not everything:
        raise Http404(gettext("no such host"))
    name = request.GET.get("domain", "").strip()
    if name:
        domain = get_domain_for_user(request, name)
        return Scope.of_domains(Domain.objects.filter(pk=domain.pk)), domain
    if everything:
        return Scope.server(host), None
    return Scope.of_domains(visible_domains(user)), None


def _cards(current: dict[str, int], previous: dict[str, int]) -> list[dict[str, Any]]:
    """A card per count of the scope, with the change from the 24 hours before.

    ``tone`` is "bad" when a problem count grew, "good" when it shrank, "" for volume.
    """
    cards = []
    for name, label, help_text in _CARDS:
        if name not in current:
            continue
        now, before = current[name], previous[name]
        change = round((now - before) * 100 / before) if before else None
        tone = ""
        if change and name in _PROBLEMS:
            tone = "bad" if change > 0 else "good"
        cards.append({"name": name, "label": label, "help": help_text, "value": now, "previous": before,
                      "change": abs(change) if change else None, "up": bool(change and change > 0), "tone": tone})
    return cards


@login_required
@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    scope, domain = get_scope_for_user(request)
    user = current_user(request)
    everything = sees_everything(user)
    mine = visible_domains(user)
    day = dashboard.last_hours()
    week = dashboard.last_hours(count=24 * TOP_DAYS)
    since_week = dashboard.last_days(count=TOP_DAYS)[0]
    current, previous = dashboard.totals(scope, day), dashboard.totals(scope, dashboard.last_hours(back=1))
    filters = {k: v for k, v in (("domain", domain.name if domain else ""), ("host", scope.host)) if v}
    context: dict[str, Any] = {
        "nav": "traffic",
        "scope": scope,
        "domain": domain,
        "host": scope.host,
        "everything": everything,
        "domain_names": list(mine.order_by("name").values_list("name", flat=True)),
        "has_domains": everything or mine.exists(),
        "hosts": dashboard.hosts() if everything else [],
        "cards": _cards(current, previous),
        "bytes": current if scope.is_server else None,
        "chart_query": urlencode(filters),
        "top_aliases": dashboard.top_aliases(
            scope.domains if scope.domains is not None else mine, dashboard.last_days(count=ALIAS_DAYS)[0]
        ),
        "top_days": TOP_DAYS,
        "alias_days": ALIAS_DAYS,
        "status": dashboard.ingestion_status(),
        "tz": timezone.get_current_timezone_name(),
    }
    if scope.is_server:
        context["reasons"] = [
            (title, dashboard.top_reasons(kind, since_week, host=scope.host)) for kind, title in _REASONS
        ]
        context["peers_to"] = dashboard.top_peers("to", since_week, host=scope.host)
        context["peers_from"] = dashboard.top_peers("from", since_week, host=scope.host)
        context["domain_rows"] = dashboard.domain_table(mine, week)
    return render(request, "maillog/dashboard.html", context)


@login_required
@require_GET
def traffic_json(request: HttpRequest) -> JsonResponse:
    """``{"labels", "series": {name: points}, "scope": "server" | "domains", "partial"}`` for
    ``?range=24h`` or ``30d``.

    Domain scopes have no ``rejected`` series: rejected mail never reached an alias. The last
    point is the current hour (or today) and still counting: ``partial`` says so, and the chart
    draws it apart rather than as a drop in traffic.
    """
    scope, _ = get_scope_for_user(request)
    span = request.GET.get("range", "24h")
    if span == "24h":
        window = dashboard.last_hours()
        labels, series = window.labels, dashboard.hourly_series(scope, window)
    elif span == "30d":
        labels, series = dashboard.daily_series(scope, dashboard.last_days(count=30))
    else:
        return JsonResponse({"error": gettext("range must be 24h or 30d")}, status=400)
    response = JsonResponse(
        {"labels": labels, "series": series, "scope": scope.name, "range": span, "partial": True}
    )
    response["Cache-Control"] = "private, no-cache"
    return response
