"""Two-factor login: a TOTP app (django-otp) plus single-use recovery codes.

A user is enrolled when they hold a confirmed TOTP device; the recovery codes live in one
static device beside it. Enrolment, removal and an administrator's reset are recorded in
the audit log. ALIASDESK_2FA_REQUIRED says who must be enrolled (``required_for``).
"""

from __future__ import annotations

import segno
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import User

RECOVERY_CODES = 10
APP_DEVICE = "Authenticator app"
RECOVERY_DEVICE = "Recovery codes"


def required_for(user: User) -> bool:
    """Whether ALIASDESK_2FA_REQUIRED makes this user sign in with a second factor."""
    mode = settings.TWO_FACTOR_REQUIRED
    return mode == "all" or (mode == "admins" and user.is_admin)


def app_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def is_enrolled(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def recovery_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def start_enrolment(user: User) -> TOTPDevice:
    """A new, unconfirmed app device with a fresh secret (earlier unconfirmed ones go)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def secret_text(device: TOTPDevice) -> str:
    """The secret as an app wants it typed: base32, in groups of four."""
    import base64

    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// link as an inline SVG QR code, made here (never by a remote service).

    segno writes only geometry and colour attributes, no ``style``, so it passes a strict
    Content-Security-Policy.
    """
    code = segno.make(device.config_url, error="m")
    return str(code.svg_inline(scale=5, border=2, dark="#000", light="#fff", title=gettext("QR code for your app")))


def _normalise(code: str) -> str:
    return "".join(code.split()).lower()


@transaction.atomic
def confirm_enrolment(user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the app device with a code from the app; the new recovery codes, or None
    when the code is wrong (the device stays unconfirmed)."""
    if device.user_id != user.pk or device.confirmed or not device.verify_token(_normalise(code)):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    record_event("2fa.enrolled", actor=user, subject=user)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def regenerate_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    codes = _new_recovery_codes(user)
    record_event("2fa.codes", actor=user, subject=user)
    return codes


def looks_like_app_code(code: str) -> bool:
    """Six digits (recovery codes are eight letters and digits)."""
    code = _normalise(code)
    return len(code) == 6 and code.isdigit()


def verify_code(user: User, code: str) -> Device | None:
    """The device that accepts this code: the app's six digits, or a recovery code (used up
    by this). None when no device accepts it."""
    code = _normalise(code)
    if not code:
        return None
    devices: list[Device]
    if looks_like_app_code(code):
        devices = [*TOTPDevice.objects.filter(user=user, confirmed=True)]
    else:  # a recovery code: it must not count against the app's throttling
        devices = [*StaticDevice.objects.filter(user=user, confirmed=True)]
    for device in devices:
        if verify_token(user, device.persistent_id, code) is not None:
            return device
    return None


def seconds_to_wait(user: User) -> int:
    """After wrong codes django-otp refuses even the right one for a while (1, 2, 4… s)."""
    from django.utils import timezone

    device = app_device(user)
    if device is None or device.throttling_failure_timestamp is None:
        return 0
    allowed, info = device.verify_is_allowed()
    if allowed or not info or "locked_until" not in info:
        return 0
    return max(1, int((info["locked_until"] - timezone.now()).total_seconds() + 0.999))


def _delete_devices(user: User) -> int:
    return sum(model.objects.filter(user=user).delete()[0] for model in (TOTPDevice, StaticDevice))


@transaction.atomic
def remove_devices(user: User) -> None:
    """The user switches two-factor login off (after proving it is them)."""
    _delete_devices(user)
    record_event("2fa.removed", actor=user, subject=user)


@transaction.atomic
def reset_devices(user: User, *, by: User | None) -> bool:
    """An administrator (or the command line, ``by`` None) removes a user's devices, for a
    lost phone; the user enrols again at the next sign-in if 2FA is required. False when the
    user had none."""
    had = is_enrolled(user)
    _delete_devices(user)
    if had:
        record_event("2fa.reset", actor=by, subject=user, detail="" if by else "command line")
    return had
