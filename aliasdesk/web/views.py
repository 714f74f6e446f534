"""Pages put together from several apps."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from aliasdesk.accounts.access import visible_domains
from aliasdesk.aliases.search import alias_counts_many
from aliasdesk.deploys.overview import with_deploy_state


@login_required
@require_GET
def domain_list(request: HttpRequest) -> HttpResponse:
    """The domains this user may see: their alias counts and deploy state."""
    domains = with_deploy_state(visible_domains(request.user).order_by("name"))  # type: ignore[arg-type]
    counts = alias_counts_many([(d.pk, d.created_at, d.serial) for d in domains])
    for domain in domains:
        domain.n_enabled = counts[domain.pk]["enabled"]  # type: ignore[attr-defined]
        domain.n_disabled = counts[domain.pk]["disabled"]  # type: ignore[attr-defined]
    return render(request, "aliases/domain_list.html", {"domains": domains, "nav": "domains"})
