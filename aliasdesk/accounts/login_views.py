"""Signing in: the password, then (for enrolled users) a code; the lockout page; one's own
password change.

After a right password an enrolled user is NOT signed in: the session only remembers who
is half-way, for a few minutes, until the code from the app (or a recovery code) is right.
Wrong codes count as failed sign-ins for django-axes, like wrong passwords.
"""

from __future__ import annotations

import time
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from aliasdesk.accounts import twofactor
from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.forms import LoginForm
from aliasdesk.accounts.models import User
from aliasdesk.accounts.signals import REASON

PENDING = "aliasdesk_2fa_pending"  # session key: the user half-way through signing in
PENDING_SECONDS = 300


def _next_url(request: HttpRequest) -> str:
    """Where to go after signing in: ``next`` if it stays on this site."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure()):
        return wanted
    return str(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters()
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """Step one: user name and password (through every authentication backend, axes first)."""
    next_url = _next_url(request)
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user: User = form.get_user()
        if twofactor.is_enrolled(user):
            request.session[PENDING] = {
                "user": user.pk,
                "backend": getattr(user, "backend", ""),
                "next": next_url,
                "since": time.time(),
            }
            return redirect("login-code")
        auth_login(request, user)
        if twofactor.required_for(user):
            return redirect("two-factor")  # enrol now; the middleware allows nothing else
        return redirect(next_url)
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    data = request.session.get(PENDING)
    if not isinstance(data, dict) or time.time() - float(data.get("since", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=int(data.get("user") or 0), is_active=True).first()
    return (user, data) if user is not None else None


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """Step two: a code from the app, or one recovery code (which is then used up)."""
    pending = _pending(request)
    if pending is None:
        messages.warning(request, _("Your sign-in took too long or was not started: sign in again."))
        return redirect("login")
    user, data = pending
    context: dict[str, Any] = {"username": user.username}
    if request.method == "POST":
        credentials = {"username": user.username}
        if not AxesProxyHandler.is_allowed(request, credentials):
            request.session.pop(PENDING, None)
            return locked_out(request, None, credentials)
        code = request.POST.get("code", "")
        wait = twofactor.seconds_to_wait(user) if twofactor.looks_like_app_code(code) else 0
        if wait:
            context["error"] = ngettext(
                "Several wrong codes in a row: wait %(wait)s second and try again.",
                "Several wrong codes in a row: wait %(wait)s seconds and try again.",
                wait,
            ) % {"wait": wait}
            return render(request, "accounts/login_code.html", context, status=429)
        device = twofactor.verify_code(user, code)
        if device is not None:
            del request.session[PENDING]
            user.otp_device = device  # type: ignore[attr-defined]  # django-otp marks the session verified
            auth_login(request, user, backend=data.get("backend") or None)
            if device._meta.model_name == "staticdevice":
                left = twofactor.recovery_codes_left(user)
                messages.warning(request, ngettext(
                    "You signed in with a recovery code; %(left)s left. "
                    "Make new ones under Two-factor login if you are running short.",
                    "You signed in with a recovery code; %(left)s left. "
                    "Make new ones under Two-factor login if you are running short.",
                    left,
                ) % {"left": left})
            return redirect(data.get("next") or settings.LOGIN_REDIRECT_URL)
        user_login_failed.send(
            sender=__name__, credentials={**credentials, REASON: "wrong two-factor code"}, request=request
        )
        if getattr(request, "axes_locked_out", False):
            request.session.pop(PENDING, None)
            return locked_out(request, None, credentials)
        context["error"] = _("That code is not right. Type the six digits your app shows now, or a recovery code.")
        return render(request, "accounts/login_code.html", context, status=422)
    return render(request, "accounts/login_code.html", context)


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """The sign-in page saying plainly that this account is locked from this address
    (django-axes calls this, AXES_LOCKOUT_CALLABLE)."""
    context = {
        "form": LoginForm(request),
        "next": _next_url(request),
        "locked_out": True,
        "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES,
    }
    return render(request, "accounts/login.html", context, status=429)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's page (old password, new one twice, the validators' messages), audited."""

    template_name = "accounts/password.html"
    success_url = "/password/done/"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user: User = form.user
        record_event("password.set", actor=user, subject=user, request=self.request, detail="own password")
        return response
