"""The functions that change webhooks: administrators only, each change in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Domain
from aliasdesk.webhooks import transport
from aliasdesk.webhooks.events import queue_ping
from aliasdesk.webhooks.models import EVENTS, Delivery, Hook
from aliasdesk.webhooks.signing import new_secret


class HookError(Exception):
    """Bad input for a hook; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class HookInput:
    url: str
    domain: str = ""  # a domain's name, or "" for every domain
    events: tuple[str, ...] = ()
    description: str = ""
    enabled: bool = True
    allow_private: bool = False


def _require_admin(user: User | None) -> None:
    if user is not None and not user.is_admin:
        raise PermissionDenied(_("only administrators manage webhooks"))


def _clean(data: HookInput) -> dict[str, Any]:
    url = data.url.strip()
    if len(url) > 2000:
        raise HookError(_("the URL is longer than 2000 characters"), "url")
    try:
        target = transport.parse_url(url)
    except transport.Refused as exc:
        raise HookError(str(exc), "url") from exc
    problem = transport.literal_problem(target.host)
    if problem and not data.allow_private:
        raise HookError(_("%(problem)s: tick “allow private addresses” to send there") % {"problem": problem}, "url")
    unknown = [e for e in data.events if e not in EVENTS]
    if unknown:
        raise HookError(_("unknown event %(event)s") % {"event": repr(unknown[0])}, "events")
    if not data.events:
        raise HookError(_("choose at least one event"), "events")
    domain = None
    if data.domain.strip():
        domain = Domain.objects.filter(name=data.domain.strip().lower(), deleted_at__isnull=True).first()
        if domain is None:
            raise HookError(_("no domain %(name)s") % {"name": repr(data.domain.strip())}, "domain")
    description = data.description.strip()
    if len(description) > 200:
        raise HookError(_("the description is longer than 200 characters"), "description")
    return {
        "url": url,
        "domain": domain,
        "events": [e for e in EVENTS if e in data.events],
        "description": description,
        "enabled": data.enabled,
        "allow_private": data.allow_private,
    }


def _shown(hook: Hook) -> dict[str, Any]:
    """What the audit log keeps of a hook (never its secret)."""
    return {
        "url": hook.url,
        "domain": hook.domain.name if hook.domain_id and hook.domain else "",
        "events": ", ".join(hook.events),
        "enabled": hook.enabled,
        "allow_private": hook.allow_private,
        "description": hook.description,
    }


def _audit(action: str, hook: Hook, user: User | None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> None:
    record_event(action, actor=user, subject_name=hook.url[:150], domain=hook.domain, before=before, after=after)


@transaction.atomic
def create_hook(data: HookInput, *, user: User | None = None) -> Hook:
    """A new hook with a new secret (the caller shows ``hook.secret`` once)."""
    _require_admin(user)
    hook = Hook.objects.create(**_clean(data), secret=new_secret(), created_by=user)
    _audit("webhook.created", hook, user, after=_shown(hook))
    return hook


@transaction.atomic
def update_hook(hook: Hook, data: HookInput, *, user: User | None = None) -> Hook:
    _require_admin(user)
    before = _shown(hook)
    for name, value in _clean(data).items():
        setattr(hook, name, value)
    hook.save()
    after = _shown(hook)
    if before != after:
        changed = [k for k in after if before[k] != after[k]]
        _audit("webhook.changed", hook, user, {k: before[k] for k in changed}, {k: after[k] for k in changed})
    return hook


@transaction.atomic
def delete_hook(hook: Hook, *, user: User | None = None) -> None:
    """The hook and its deliveries go (the audit log keeps that it existed)."""
    _require_admin(user)
    _audit("webhook.deleted", hook, user, before=_shown(hook))
    hook.delete()


@transaction.atomic
def rotate_secret(hook: Hook, *, user: User | None = None) -> str:
    """A new secret for the hook, from the next attempt on; returns it (shown once)."""
    _require_admin(user)
    hook.secret = new_secret()
    hook.save(update_fields=["secret", "updated_at"])
    _audit("webhook.secret", hook, user)
    return hook.secret


def send_test(hook: Hook, *, user: User | None = None) -> Delivery:
    """Queue a ``ping`` delivery for the hook (sent by the worker, as any other)."""
    _require_admin(user)
    return queue_ping(hook, user.get_username() if user is not None else "")


def retry_delivery(delivery: Delivery, *, user: User | None = None) -> bool:
    """A failed delivery gets one more attempt, as soon as a worker runs; False if it had not failed."""
    _require_admin(user)
    again = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.FAILED)
    return bool(again.update(status=Delivery.Status.PENDING, next_attempt_at=timezone.now(), finished_at=None))
