"""Security events for the audit log: sign-ins, lockouts, users, grants, two-factor changes.

Everything is recorded through ``record_event``; the audit page (audit.py) shows the
events beside alias and domain history.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy
from simple_history.models import HistoricalRecords

from aliasdesk.accounts.clientaddr import client_address
from aliasdesk.accounts.models import SecurityEvent, User

# action → what the audit log says
ACTIONS = {
    "login": gettext_lazy("signed in"),
    "login.failed": gettext_lazy("sign-in failed"),
    "lockout": gettext_lazy("locked out"),
    "unlock": gettext_lazy("unlocked"),
    "logout": gettext_lazy("signed out"),
    "user.created": gettext_lazy("user created"),
    "user.changed": gettext_lazy("user changed"),
    "password.set": gettext_lazy("password set"),
    "grant.added": gettext_lazy("domain granted"),
    "grant.changed": gettext_lazy("domain grant changed"),
    "grant.revoked": gettext_lazy("domain grant revoked"),
    "2fa.enrolled": gettext_lazy("two-factor login enrolled"),
    "2fa.removed": gettext_lazy("two-factor login removed"),
    "2fa.reset": gettext_lazy("two-factor login reset by an administrator"),
    "2fa.codes": gettext_lazy("new recovery codes"),
    "token.created": gettext_lazy("API token created"),
    "token.revoked": gettext_lazy("API token revoked"),
    "token.used_revoked": gettext_lazy("revoked API token used"),
    "webhook.created": gettext_lazy("webhook created"),
    "webhook.changed": gettext_lazy("webhook changed"),
    "webhook.deleted": gettext_lazy("webhook deleted"),
    "webhook.secret": gettext_lazy("webhook secret rotated"),
}


def current_request() -> HttpRequest | None:
    """The request being served in this thread (kept by simple-history's middleware), if any."""
    return getattr(HistoricalRecords.context, "request", None)


def record_event(
    action: str,
    *,
    actor: User | None = None,
    subject: User | None = None,
    subject_name: str = "",
    domain: Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
    request: HttpRequest | None = None,
) -> SecurityEvent:
    """Record one security event and return it.

    - ``action``: a key of ``ACTIONS`` (add one there for a new kind of event, e.g.
      "token.created" for API tokens).
    - ``actor``: who did it; by default the signed-in user of the request (None for the
      command line or an anonymous visitor).
    - ``subject``: the user it concerns (for a failed sign-in of an unknown name, leave it
      None and give ``subject_name``, the name that was tried).
    - ``domain``: the domain it concerns (grants), for the audit log's domain filter (an
      ``aliases.Domain``: accounts does not import the aliases app built on it).
    - ``before``/``after``: the changed fields, JSON-serialisable; never a password, a
      token or a two-factor secret.
    - ``detail``: a short note ("wrong two-factor code", "with a recovery code").
    - ``request``: where the client address comes from; by default the request being
      served, so services called from views need not pass it (none on the command line).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown security event {action!r}")
    request = request if request is not None else current_request()
    address = client_address(request) if request is not None else ""
    signed_in = getattr(request, "user", None)
    if actor is None and isinstance(signed_in, User):  # not AnonymousUser
        actor = signed_in
    if request is None and actor is None and not detail:
        detail = "command line"
    return SecurityEvent.objects.create(
        at=timezone.now(),
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor.get_username() if actor is not None else "",
        subject=subject if subject is not None and subject.pk else None,
        subject_name=(subject.get_username() if subject is not None else subject_name)[:150],
        domain_id=domain.pk if domain is not None else None,
        address=address or None,
        before=before or {},
        after=after or {},
        detail=detail[:200],
    )
