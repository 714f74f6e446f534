"""The record of every deploy: what was written, by whom, and how it went."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Deploy(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        OK = "ok", "Deployed"
        NOOP = "noop", "Nothing to do"
        FAILED = "failed", "Failed"

    domain = models.ForeignKey("aliases.Domain", on_delete=models.CASCADE, related_name="deploys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    class Method(models.TextChoices):
        FULL = "full", "Full build"
        PATCH = "patch", "Patch"

    forced = models.BooleanField(default=False)
    method = models.CharField(max_length=8, choices=Method.choices, blank=True, default="")
    # Why a deploy built the whole map although only rows changed ("the header changed", ...).
    why_full = models.CharField(max_length=255, blank=True, default="")
    serial = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    diff = models.TextField(blank=True, default="")
    findings = models.JSONField(default=list, blank=True)
    postmap_output = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    alias_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["domain", "-id"], name="deploy_domain_recent")]

    def __str__(self) -> str:
        return f"deploy {self.pk} of {self.domain_id}: {self.status}"
