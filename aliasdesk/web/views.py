"""Pages put together from several apps: the list of domains, the audit log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from aliasdesk.accounts.access import require_reader_of_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.accounts.models import User
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.search import alias_counts_many
from aliasdesk.deploys.overview import postmap_missing, with_deploy_state
from aliasdesk.web.audit import KINDS, AuditFilter, audit_page, decode_cursor


@login_required
@require_GET
def domain_list(request: HttpRequest) -> HttpResponse:
    """The domains this user may see: their alias counts and deploy state."""
    domains = with_deploy_state(visible_domains(current_user(request)).select_related("alias_of").order_by("name"))
    counts = alias_counts_many([(d.pk, d.created_at, d.serial) for d in domains])
    for domain in domains:
        domain.n_enabled = counts[domain.pk]["enabled"]  # type: ignore[attr-defined]
        domain.n_disabled = counts[domain.pk]["disabled"]  # type: ignore[attr-defined]
    context = {"domains": domains, "nav": "domains", "postmap_missing": postmap_missing()}
    return render(request, "aliases/domain_list.html", context)


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """Every change to aliases and domains, newest first, filtered, in pages."""
    require_reader_of_everything(request)
    wanted = AuditFilter.from_params(request.GET)
    before = decode_cursor(request.GET.get("before", ""))
    after = None if before else decode_cursor(request.GET.get("after", ""))
    page = audit_page(wanted, before=before, after=after)
    return render(
        request,
        "accounts/audit.html",
        {
            "page": page,
            "filter": wanted,
            "kinds": KINDS,
            "users": User.objects.order_by("username").values_list("username", flat=True),
            "domains": Domain.objects.order_by("name").values_list("name", "deleted_at"),
            "paged": before is not None or after is not None,
            "nav": "audit",
        },
    )
