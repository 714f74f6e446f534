"""Deploy pages: preview with diff and findings, the deploy button, the history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from aliasdesk.accounts.access import can_edit, get_domain_for_user
from aliasdesk.deploys.engine import deploy_domain


@login_required
def deploy_preview(request: HttpRequest, name: str) -> HttpResponse:
    """GET: what a deploy would change (diff, findings). POST: deploy."""
    if request.method == "POST":
        domain = get_domain_for_user(request, name, write=True)
        force = request.POST.get("force") == "1"
        result = deploy_domain(domain, user=request.user, force=force)  # type: ignore[arg-type]
        if result.ok:
            messages.success(request, f"{domain.name}: {result.message}.")
        else:
            messages.error(request, f"{domain.name}: deploy failed: {result.message}")
        return redirect("deploy-history", domain.name)
    domain = get_domain_for_user(request, name)
    preview = deploy_domain(domain, dry_run=True)
    return render(
        request,
        "deploys/preview.html",
        {
            "domain": domain,
            "preview": preview,
            "editable": can_edit(request.user, domain),  # type: ignore[arg-type]
            "drift": "drift" in preview.message,
            "nav": "domains",
            "tab": "deploy",
        },
    )


@login_required
def deploy_history(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name)
    page = Paginator(domain.deploys.select_related("user"), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "deploys/history.html",
        {
            "domain": domain,
            "page": page,
            "editable": can_edit(request.user, domain),  # type: ignore[arg-type]
            "nav": "domains",
            "tab": "deploys",
        },
    )
