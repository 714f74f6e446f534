"""Account pages: users and their grants (adding and taking away grants: ``aliasdesk.aliases.grant_views``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from aliasdesk.accounts import login_views, services
from aliasdesk.accounts.access import require_admin
from aliasdesk.accounts.current import current_user
from aliasdesk.accounts.domains import domain_grants
from aliasdesk.accounts.models import Grant, User


@login_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    users = User.objects.prefetch_related("grants__domain").order_by("username")
    return render(request, "accounts/users.html", {"users": users, "nav": "users"})


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    context: dict[str, Any] = {"roles": User.Role.choices, "form": {"role": User.Role.EDITOR}, "nav": "users"}
    if request.method == "POST":
        form = request.POST
        context["form"] = {"username": form.get("username", ""), "role": form.get("role", "")}
        try:
            user = services.create_user(
                form.get("username", ""), form.get("role", ""), form.get("password", ""), form.get("password2", "")
            )
        except services.AccountError as exc:
            context.update(error=str(exc), error_field=exc.field or "role")
            return render(request, "accounts/user_new.html", context, status=422)
        messages.success(
            request, _("Created %(user)s (%(role)s).") % {"user": user.username, "role": user.get_role_display()}
        )
        return redirect("user-edit", user.pk)
    return render(request, "accounts/user_new.html", context)


def edit_context(request: HttpRequest, target: User, **extra: Any) -> dict[str, Any]:
    """What accounts/user_edit.html and its grants section (accounts/_grants.html) show."""
    grants = list(target.grants.select_related("domain").order_by("domain__name"))
    granted = {g.domain_id: g.role for g in grants}
    domains = domain_grants().grantable()
    return {
        "target": target,
        "roles": User.Role.choices,
        "grant_roles": Grant.Role.choices,
        "grants": grants,
        "grantable": [(d, granted.get(d.pk, "")) for d in domains],
        "sees_all": target.is_admin or target.role == User.Role.AUDITOR,
        "is_self": target.pk == request.user.pk,
        "ldap_enabled": settings.LDAP_ENABLED,
        "recheck_minutes": settings.LDAP_RECHECK_MINUTES,
        "nav": "users",
        **extra,
    }


def _target(user_id: int) -> User:
    return get_object_or_404(User, pk=user_id)


@login_required
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: the user's role, state, password and grants. POST: save role and active flag."""
    require_admin(request)
    target = _target(user_id)
    if request.method == "POST":
        try:
            target = services.update_user(
                target,
                role=request.POST.get("role", ""),
                is_active=request.POST.get("is_active") == "on",
                by=current_user(request),
            )
        except services.AccountError as exc:
            context = edit_context(request, target, error=str(exc), error_field=exc.field or "role")
            return render(request, "accounts/user_edit.html", context, status=422)
        if target.is_active:
            text = _("Saved %(user)s: %(role)s, active.")
        else:
            text = _("Saved %(user)s: %(role)s, deactivated.")
        messages.success(request, text % {"user": target.username, "role": target.get_role_display()})
        return redirect("user-edit", target.pk)
    return render(request, "accounts/user_edit.html", edit_context(request, target))


@login_required
@require_POST
def user_password(request: HttpRequest, user_id: int) -> HttpResponse:
    require_admin(request)
    target = _target(user_id)
    try:
        services.reset_password(target, request.POST.get("password", ""), request.POST.get("password2", ""))
    except services.AccountError as exc:
        context = edit_context(request, target, password_error=str(exc))
        return render(request, "accounts/user_edit.html", context, status=422)
    if target.pk == request.user.pk:
        update_session_auth_hash(request, target)  # stay signed in after changing one's own password
    messages.success(request, _("New password set for %(user)s.") % {"user": target.username})
    return redirect("user-edit", target.pk)


@login_required
@require_POST
def user_source(request: HttpRequest, user_id: int) -> HttpResponse:
    """Convert an account between local and directory sign-in."""
    require_admin(request)
    target = _target(user_id)
    try:
        services.convert_user(target, request.POST.get("to", ""), by=current_user(request))
    except services.AccountError as exc:
        context = edit_context(request, target, source_error=str(exc))
        return render(request, "accounts/user_edit.html", context, status=422)
    if request.POST.get("to") == User.Source.DIRECTORY:
        messages.success(request, _(
            "%(user)s now signs in against the directory; "
            "role and domains follow the directory groups from their next sign-in."
        ) % {"user": target.username})
    else:
        messages.success(
            request, _("%(user)s is now a local account: set a password below for them.") % {"user": target.username}
        )
    return redirect("user-edit", target.pk)


_password_change = login_views.PasswordChangeView.as_view()


@login_required
def password_change(request: HttpRequest) -> HttpResponseBase:
    """Django's password change, except for directory users: the directory keeps theirs."""
    if current_user(request).is_directory:
        return render(request, "accounts/password_directory.html")
    return _password_change(request)
