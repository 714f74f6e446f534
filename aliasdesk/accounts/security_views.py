"""Two-factor login pages (/account/2fa/) and the administrators' reset and unlock buttons."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login

from aliasdesk.accounts import lockouts, twofactor
from aliasdesk.accounts.access import require_admin
from aliasdesk.accounts.current import current_user
from aliasdesk.accounts.models import User

NEW_CODES = "aliasdesk_new_recovery_codes"  # session key: codes shown once, on the next page


def _me(request: HttpRequest) -> User:
    return current_user(request)


def _page(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user = _me(request)
    device = twofactor.app_device(user)
    pending = None if device else twofactor.pending_device(user)
    context: dict[str, Any] = {
        "device": device,
        "pending": pending,
        "required": twofactor.required_for(user),
        "codes_left": twofactor.recovery_codes_left(user) if device else 0,
        "new_codes": request.session.pop(NEW_CODES, None),
        "nav": "",
        **extra,
    }
    if pending is not None:
        context.update(qr=twofactor.qr_svg(pending), secret=twofactor.secret_text(pending))
    return render(request, "accounts/two_factor.html", context, status=status)


@login_required
@require_GET
@never_cache
def two_factor(request: HttpRequest) -> HttpResponse:
    """Whether two-factor login is on; setting it up; recovery codes; switching it off."""
    return _page(request)


@login_required
@require_POST
@sensitive_post_parameters("code")
def enrol(request: HttpRequest) -> HttpResponse:
    """``start``: a new secret and its QR code; ``confirm``: the first code from the app."""
    user = _me(request)
    if twofactor.is_enrolled(user):
        return redirect("two-factor")
    if request.POST.get("action") == "start" or twofactor.pending_device(user) is None:
        twofactor.start_enrolment(user)
        return redirect("two-factor")
    device = twofactor.pending_device(user)
    assert device is not None
    codes = twofactor.confirm_enrolment(user, device, request.POST.get("code", ""))
    if codes is None:
        return _page(request, 422, error=_("That code is not right. Type the six digits your app shows now."))
    device.refresh_from_db()
    otp_login(request, device)  # this session is now verified by it
    request.session[NEW_CODES] = codes
    messages.success(request, _("Two-factor login is on. From now on you sign in with your password and a code."))
    return redirect("two-factor")


def _is_verified(request: HttpRequest) -> bool:
    return bool(current_user(request).is_verified())  # type: ignore[attr-defined]  # django_otp's


@login_required
@require_POST
def new_codes(request: HttpRequest) -> HttpResponse:
    """Ten new recovery codes (the old ones stop working), shown once."""
    user = _me(request)
    if not twofactor.is_enrolled(user) or not _is_verified(request):
        return _page(request, 403, error=_("Sign in with your code first."))
    request.session[NEW_CODES] = twofactor.regenerate_recovery_codes(user)
    messages.success(request, _("New recovery codes: the old ones no longer work."))
    return redirect("two-factor")


@login_required
@require_POST
@sensitive_post_parameters("proof")
def remove(request: HttpRequest) -> HttpResponse:
    """Switch two-factor login off, after a current code, a recovery code or the password."""
    user = _me(request)
    if not twofactor.is_enrolled(user):
        return redirect("two-factor")
    proof = request.POST.get("proof", "")
    proven = twofactor.verify_code(user, proof) is not None
    if not proven and proof:
        proven = authenticate(request, username=user.get_username(), password=proof) == user
    if not proven:
        return _page(
            request, 422, remove_error=_("That is neither a current code, a recovery code nor your password.")
        )
    twofactor.remove_devices(user)
    if twofactor.required_for(user):
        messages.success(request, _("Two-factor login is off. You must set it up again before you can go on."))
    else:
        messages.success(request, _("Two-factor login is off."))
    return redirect("two-factor")


@login_required
@require_POST
def admin_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    """An administrator removes a user's two-factor devices (a lost phone)."""
    require_admin(request)
    target = get_object_or_404(User, pk=user_id)
    if twofactor.reset_devices(target, by=_me(request)):
        messages.success(request, _(
            "Two-factor login of %(user)s is reset: they set it up again "
            "at their next sign-in (if required) or on their Two-factor login page."
        ) % {"user": target.username})
    else:
        messages.info(request, _("%(user)s had no two-factor login.") % {"user": target.username})
    return redirect("user-edit", target.pk)


@login_required
@require_POST
def admin_unlock(request: HttpRequest, user_id: int) -> HttpResponse:
    """An administrator lifts a lockout (and forgets the failed sign-ins) from every address."""
    require_admin(request)
    target = get_object_or_404(User, pk=user_id)
    if lockouts.unlock(target, by=_me(request)):
        messages.success(
            request, _("%(user)s may sign in again: their failed sign-ins are forgotten.") % {"user": target.username}
        )
    else:
        messages.info(request, _("%(user)s had no failed sign-ins to forget.") % {"user": target.username})
    return redirect("user-edit", target.pk)
