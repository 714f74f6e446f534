"""Webhooks: URLs an administrator registers, and the outbox of deliveries to them.

A ``Delivery`` is written in the same transaction as the change it reports (see
events.py), so a change that rolls back leaves none; the worker (worker.py) sends it
later, retrying with backoff, and keeps every ``Attempt``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Event name → what the page calls it. Receivers get the name in ``X-Aliasdesk-Event``.
EVENTS = {
    "alias.created": _("alias created"),
    "alias.changed": _("alias changed"),
    "alias.deleted": _("alias deleted (to the trash)"),
    "alias.restored": _("alias restored from the trash"),
    "alias.purged": _("alias purged from the trash"),
    "deploy.succeeded": _("deploy succeeded"),
    "deploy.failed": _("deploy failed"),
    "drift.found": _("map edited by hand (drift)"),
}
# Sent only by the "send a test event" button, whatever the hook subscribes to.
PING = "ping"


class Hook(models.Model):
    """One receiver URL, for the events of one domain or (``domain`` empty) of every domain.

    ``secret`` signs each delivery (signing.py); it is shown to the administrator once, when
    the hook is created and when it is rotated. ``allow_private`` lets the URL's host be a
    private, loopback or link-local address (refused by default: see address.py).
    """

    url = models.CharField(max_length=2000)
    domain = models.ForeignKey(
        "aliases.Domain", null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
    )
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    allow_private = models.BooleanField(default=False)
    secret = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    @property
    def scope(self) -> str:
        return self.domain.name if self.domain_id and self.domain else str(_("all domains"))

    def wants(self, event: str, domain_id: int | None) -> bool:
        return self.enabled and event in self.events and (self.domain_id is None or self.domain_id == domain_id)


class Delivery(models.Model):
    """One event for one hook. ``body`` is the exact JSON sent; the signature is made at each
    attempt (its time changes). ``claimed_by`` names the worker sending it right now."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    hook = models.ForeignKey(Hook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last attempt's outcome, for the list (each attempt: Attempt).
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["hook", "-id"], name="delivery_hook_recent"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event} to hook {self.hook_id}: {self.status}"


class Attempt(models.Model):
    """One try at sending a delivery: the response's status and the start of its body, or why
    there was none (refused address, timeout, connection refused)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    at = models.DateTimeField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of delivery {self.delivery_id}"
