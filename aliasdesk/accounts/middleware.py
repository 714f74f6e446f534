"""The read-only demo: every change refused in one place, whatever the view. And the
confinement of users who must still set up two-factor login."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect

from aliasdesk.accounts import twofactor

ALWAYS_ALLOWED = ("/login/", "/login/code/", "/logout/")


class ReadOnlyDemoMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.DEMO_READONLY
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and request.path not in ALWAYS_ALLOWED
        ):
            return HttpResponseForbidden("This demo is read-only: nothing can be changed.", content_type="text/plain")
        return self.get_response(request)


class TwoFactorMiddleware:
    """A signed-in user whom ALIASDESK_2FA_REQUIRED obliges to use two-factor login and whose
    session is not verified by it may do nothing but enrol (or sign out): every other page
    sends them to /account/2fa/. A session that predates an enrolment made elsewhere is
    sent back to the sign-in instead. Requests with no session user (the API's tokens,
    /healthz, /metrics) pass."""

    ALLOWED = ("/account/2fa/", "/logout/", "/static/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[union-attr,attr-defined]
            and twofactor.required_for(user)  # type: ignore[arg-type]
            and not request.path.startswith(self.ALLOWED)
        ):
            if twofactor.is_enrolled(user):  # type: ignore[arg-type]
                logout(request)
                return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.path})}")
            return redirect("two-factor")
        return self.get_response(request)
