"""Sign-ins, sign-outs, failures and lockouts into the audit log.

Django and django-axes announce these only as signals; each handler records one event
through ``record_event``. ``connect`` is called once, from the app's ready().
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import User

# A view that sends user_login_failed itself (a wrong two-factor code) says why under this key.
REASON = "aliasdesk_reason"


def _user_named(name: str) -> User | None:
    return User.objects.filter(username=name).first() if name else None


def on_logged_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    device = getattr(user, "otp_device", None)
    detail = ""
    if device is not None:
        detail = "with a recovery code" if device._meta.model_name == "staticdevice" else "with a two-factor code"
    record_event("login", actor=user, subject=user, request=request, detail=detail)


def on_logged_out(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None and user.is_authenticated:
        record_event("logout", actor=user, subject=user, request=request)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    name = str(credentials.get("username") or "")
    subject = _user_named(name)
    if getattr(request, "axes_locked_out", False):
        detail = "refused: locked out"
    elif credentials.get(REASON):
        detail = str(credentials[REASON])
    elif subject is None:
        detail = "no such user"
    elif not subject.is_active:
        detail = "user deactivated"
    else:
        detail = "wrong password"
    record_event("login.failed", subject=subject, subject_name=name, request=request, detail=detail)


def on_locked_out(sender: Any, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any) -> None:
    # axes sends this again for every attempt while locked; only the failure that locks counts.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    name = username or ""
    record_event(
        "lockout",
        subject=_user_named(name),
        subject_name=name,
        request=request,
        detail=f"after {request.axes_failures_since_start} failures",  # type: ignore[attr-defined]
    )


def connect() -> None:
    """Our handlers first: a failure is recorded before the lockout it causes. Importing
    axes.signals connects axes' own handlers, so it comes after."""
    user_logged_in.connect(on_logged_in, dispatch_uid="aliasdesk-audit-login")
    user_logged_out.connect(on_logged_out, dispatch_uid="aliasdesk-audit-logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="aliasdesk-audit-login-failed")
    from axes.signals import user_locked_out

    user_locked_out.connect(on_locked_out, dispatch_uid="aliasdesk-audit-lockout")
