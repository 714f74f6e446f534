"""Administrators' sessions are shorter (ALIASDESK_ADMIN_SESSION_MINUTES).

An admin's stolen or forgotten session reaches every domain; it ends this many minutes
after it first served the admin (normally the sign-in), whatever happens meanwhile. Other
users' sessions last SESSION_COOKIE_AGE (ALIASDESK_SESSION_MINUTES).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

MARK = "aliasdesk_admin_session"


class AdminSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        session = request.session
        if user is not None and user.is_authenticated and getattr(user, "is_admin", False) and MARK not in session:
            lifetime = timedelta(minutes=settings.ADMIN_SESSION_MINUTES)
            if lifetime.total_seconds() < settings.SESSION_COOKIE_AGE:
                # A fixed moment, not an age: it does not move on when the session is saved again.
                session.set_expiry(timezone.now() + lifetime)
            session[MARK] = True
        return self.get_response(request)
