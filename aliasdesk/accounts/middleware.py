"""Request-wide account rules: the read-only demo, the confinement of users who must still set
up two-factor login, and directory users checked again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aliasdesk.accounts import twofactor
from aliasdesk.accounts.models import User

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
            text = _("This demo is read-only: nothing can be changed.")
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": text}, status=403)
            return HttpResponseForbidden(text, content_type="text/plain")
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in user's own language choice wins over the browser's Accept-Language, which
    LocaleMiddleware has already applied (sign-in pages and the API's token users keep it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = getattr(request.user, "language", "")
        if chosen and chosen in dict(settings.LANGUAGES):
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen:
            response.headers.setdefault("Content-Language", chosen)
        return response


class TwoFactorMiddleware:
    """A signed-in user whom ALIASDESK_2FA_REQUIRED obliges to use two-factor login and whose
    session is not verified by it may do nothing but enrol (or sign out): every other page
    sends them to /account/2fa/. A session that predates an enrolment made elsewhere is
    sent back to the sign-in instead. Requests with no session user (the API's tokens,
    /healthz, /metrics) pass."""

    ALLOWED = ("/account/2fa/", "/logout/", "/static/", "/healthz", "/favicon.ico")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[attr-defined]  # django_otp's
            and twofactor.required_for(user)
            and not request.path.startswith(self.ALLOWED)
        ):
            if twofactor.is_enrolled(user):
                logout(request)
                return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.path})}")
            return redirect("two-factor")
        return self.get_response(request)


RETRY_KEY = "aliasdesk_directory_retry_at"
RETRY_SECONDS = 60


class DirectoryRecheckMiddleware:
    """Checks an open session of a directory user against the directory again once the last
    check is ALIASDESK_LDAP_RECHECK_MINUTES old: role and grants follow the groups, and
    someone gone from the directory or from every role group is signed out.

    When the directory cannot be asked, the session goes on for at most one more interval
    (asking again at most once a minute meanwhile), then it is signed out too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            settings.LDAP_ENABLED
            and user is not None
            and user.is_authenticated
            and getattr(user, "is_directory", False)
        ):
            self.recheck(request, user)
        return self.get_response(request)

    def recheck(self, request: HttpRequest, user: User) -> None:
        now = timezone.now()
        interval = timedelta(minutes=settings.LDAP_RECHECK_MINUTES)
        checked = user.directory_checked_at
        if checked is not None and now - checked < interval:
            return
        in_grace = checked is not None and now - checked < 2 * interval
        if in_grace and now.timestamp() < request.session.get(RETRY_KEY, 0):
            return
        from aliasdesk.accounts.directory import Recheck, recheck_user  # imports python-ldap

        outcome = recheck_user(user)
        if outcome is Recheck.OK:
            request.session.pop(RETRY_KEY, None)
            user.refresh_from_db()
            return
        if outcome is Recheck.UNAVAILABLE and in_grace:
            request.session[RETRY_KEY] = now.timestamp() + RETRY_SECONDS
            return
        if outcome is Recheck.UNAVAILABLE:
            message = _("The directory could not be reached to confirm your account, so you were signed out.")
        else:
            message = _("Your directory account no longer gives access to aliasdesk, so you were signed out.")
        logout(request)
        messages.warning(request, message)
