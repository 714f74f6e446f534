"""Sign-in lockouts (django-axes' records), as administrators see and lift them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import User


@dataclass
class Failures:
    """Recent failed sign-ins of one account from one address."""

    address: str
    count: int
    last: datetime

    @property
    def until(self) -> datetime:
        return self.last + settings.AXES_COOLOFF_TIME

    @property
    def locked(self) -> bool:
        return self.count >= settings.LOGIN_FAILURES and self.until > timezone.now()


def failures_of(username: str) -> list[Failures]:
    """Per address, the failures that still count (within the lockout time), newest first."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    rows = (
        AccessAttempt.objects.filter(username=username, attempt_time__gt=since)
        .values("ip_address")
        .annotate(count=Sum("failures_since_start"), last=Max("attempt_time"))
        .order_by("-last")
    )
    return [Failures(r["ip_address"] or "", int(r["count"] or 0), r["last"]) for r in rows]


def is_locked(username: str) -> bool:
    return any(f.locked for f in failures_of(username))


@transaction.atomic
def unlock(user: User, *, by: User | None) -> int:
    """Forget the user's failed sign-ins from every address; how many records went."""
    removed = reset(username=user.get_username())
    if removed:
        record_event("unlock", actor=by, subject=user, detail="" if by else "command line")
    return int(removed)
