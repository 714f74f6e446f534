"""API tokens: a user's key for scripts, stored as a hash only."""

from __future__ import annotations

from django.db import models

from aliasdesk.accounts.models import User


class ApiToken(models.Model):
    """One API token of a user. The token itself is ``adk_<key_id>_<secret>``; only the
    SHA-256 of the whole string is kept. It never has more than its user: it may be
    read-only and/or limited to some of the user's domains (none listed: all of them)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    read_only = models.BooleanField(default=False)
    domains = models.ManyToManyField("aliases.Domain", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.user})"

    @property
    def prefix(self) -> str:
        """What lists show of a token: enough to recognise it, nothing to use."""
        return f"adk_{self.key_id}"
