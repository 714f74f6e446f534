"""Granting a user a domain and taking it away, on the user's page (accounts/_grants.html)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aliasdesk.accounts.access import require_admin
from aliasdesk.accounts.models import Grant, User
from aliasdesk.accounts.services import AccountError
from aliasdesk.accounts.views import edit_context
from aliasdesk.aliases.grants import grant_domain, revoke_grant
from aliasdesk.aliases.models import Domain


def _grants_response(request: HttpRequest, target: User, **extra: Any) -> HttpResponse:
    """htmx swaps the grants section in place; without htmx, back to the page."""
    if request.headers.get("HX-Request"):
        return render(request, "accounts/_grants.html", edit_context(request, target, **extra))
    if extra.get("grant_error"):
        return render(request, "accounts/user_edit.html", edit_context(request, target, **extra), status=422)
    if extra.get("grant_done"):
        messages.success(request, str(extra["grant_done"]))
    return redirect("user-edit", target.pk)


@login_required
@require_POST
def grant_add(request: HttpRequest, user_id: int) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(User, pk=user_id)
    domain = Domain.objects.filter(pk=request.POST.get("domain") or 0, deleted_at__isnull=True).first()
    if domain is None:
        return _grants_response(request, target, grant_error=_("choose a domain"))
    role = request.POST.get("role", "")
    try:
        grant_domain(target, domain, role)
    except AccountError as exc:
        return _grants_response(request, target, grant_error=str(exc))
    if role == Grant.Role.EDITOR:
        done = _("{user} is now editor of {domain}.")
    else:
        done = _("{user} is now viewer of {domain}.")
    return _grants_response(request, target, grant_done=done.format(user=target.username, domain=domain.name))


@login_required
@require_POST
def grant_revoke(request: HttpRequest, user_id: int, domain_id: int) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(User, pk=user_id)
    domain = get_object_or_404(Domain, pk=domain_id)
    try:
        revoke_grant(target, domain)
    except AccountError as exc:
        return _grants_response(request, target, grant_error=str(exc))
    return _grants_response(request, target, grant_done=_("{user} no longer has {domain}.").format(
        user=target.username, domain=domain.name))
