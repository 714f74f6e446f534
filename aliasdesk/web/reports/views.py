"""The downloads: every report in every format, for whoever may see its rows.

A domain's reports ask get_domain_for_user (404 for a domain the user may not see); the
audit report asks require_reader_of_everything (admins and auditors); the reports across
domains read only visible_domains. Everything is GET and streamed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET

from aliasdesk.accounts.access import require_reader_of_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import get_domain_for_user, visible_domains
from aliasdesk.aliases.alias_csv import data_csv_lines, data_rows
from aliasdesk.aliases.grid_view import query_string
from aliasdesk.aliases.search import AliasQuery
from aliasdesk.maillog.report_views import DEFAULT_DAYS as UNUSED_DEFAULT_DAYS
from aliasdesk.maillog.traffic import MAX_UNUSED_DAYS
from aliasdesk.web.audit import AuditFilter
from aliasdesk.web.reports import formats, rows_aliases, rows_history
from aliasdesk.web.reports.formats import Report

EXPIRING_DEFAULT_DAYS = 30
MAX_DAYS = MAX_UNUSED_DAYS
VIEW_PARAMS = ("q", "show", "unused", "order")


def respond(request: HttpRequest, report: Report, fmt: str, back: str) -> HttpResponseBase:
    """The report in the format asked for (the URL's extension)."""
    if fmt == "csv":
        return formats.sheet_csv_response(report)
    if fmt == "xlsx":
        return formats.xlsx_response(report)
    if fmt == "ods":
        return formats.ods_response(report)
    return formats.print_response(request, report, back=back)


def _query(request: HttpRequest) -> AliasQuery | None:
    """The grid's view when the link carries one ("this view"), else None: every live alias."""
    if not any(request.GET.get(name) for name in VIEW_PARAMS):
        return None
    return AliasQuery.from_params(request.GET)


def _days(request: HttpRequest, default: int) -> int:
    try:
        days = int(request.GET.get("days", "").strip()[:6] or default)
    except ValueError:
        return default
    return days if 0 < days <= MAX_DAYS else default


@login_required
@require_GET
def aliases_data_csv(request: HttpRequest, name: str) -> HttpResponseBase:
    """The exact data CSV (aliases/alias_csv.py): what an import reads back to the same aliases."""
    domain = get_domain_for_user(request, name)
    query = _query(request)
    if query is None:
        rows = data_rows(domain.pk)
    else:
        found, keyset = rows_aliases.view_rows(domain, query)
        rows = data_rows(domain.pk, found, keyset=keyset)
    return formats.text_csv_response(data_csv_lines(rows), formats.dated_name(f"aliases-{domain.name}", "csv"))


@login_required
@require_GET
def aliases_report(request: HttpRequest, name: str, fmt: str) -> HttpResponseBase:
    """The aliases report: every live alias, or the grid's view, with its mail."""
    domain = get_domain_for_user(request, name)
    query = _query(request)
    report = rows_aliases.alias_report(domain, query)
    back = reverse("domain-detail", args=[domain.name])
    if query is not None and (params := query_string(query)):
        back += "?" + params
    return respond(request, report, fmt, back)


@login_required
@require_GET
def deploys_report(request: HttpRequest, name: str, fmt: str) -> HttpResponseBase:
    domain = get_domain_for_user(request, name)
    return respond(request, rows_history.deploy_report(domain), fmt, reverse("deploy-history", args=[domain.name]))


@login_required
@require_GET
def audit_report(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The audit log for the period, domain, user and kind the audit page's filter sets."""
    require_reader_of_everything(request)
    wanted = AuditFilter.from_params(request.GET)
    back = reverse("audit-log") + ("?" + wanted.query.rstrip("&") if wanted.params else "")
    return respond(request, rows_history.audit_report(wanted), fmt, back)


@login_required
@require_GET
def summary_report(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """One line per domain the user may see."""
    domains = visible_domains(current_user(request))
    return respond(request, rows_aliases.summary_report(domains, "all-domains"), fmt, reverse("domain-list"))


@login_required
@require_GET
def expiring_report(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """Aliases whose valid-until date comes within ``days`` days, in one domain or all visible."""
    domains = visible_domains(current_user(request))
    scope = "all-domains"
    back = reverse("domain-list")
    if name := request.GET.get("domain", "").strip():
        domain = get_domain_for_user(request, name)
        domains, scope = domains.filter(pk=domain.pk), domain.name
        back = reverse("domain-detail", args=[domain.name]) + "?show=expiring"
    report = rows_aliases.expiring_report(domains, _days(request, EXPIRING_DEFAULT_DAYS), scope)
    return respond(request, report, fmt, back)


@login_required
@require_GET
def unused_report(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The unused page's list (traffic/unused/), in one domain or all visible."""
    days = _days(request, UNUSED_DEFAULT_DAYS)
    domains = visible_domains(current_user(request))
    scope = "all-domains"
    back = {"days": str(days)}
    if name := request.GET.get("domain", "").strip():
        domain = get_domain_for_user(request, name)
        domains, scope = domains.filter(pk=domain.pk), domain.name
        back["domain"] = domain.name
    report = rows_aliases.unused_report(domains, days, scope)
    return respond(request, report, fmt, reverse("unused-aliases") + "?" + urlencode(back))
