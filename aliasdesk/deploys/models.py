"""The record of every deploy: what was written, by whom, and how it went."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Deploy(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        OK = "ok", _("Deployed")
        NOOP = "noop", _("Nothing to do")
        FAILED = "failed", _("Failed")

    domain = models.ForeignKey("aliases.Domain", on_delete=models.CASCADE, related_name="deploys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    class Method(models.TextChoices):
        FULL = "full", _("Full build")
        PATCH = "patch", _("Patch")

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
    # The mail host that applies it in agent mode ("" for a deploy run where it was asked for),
    # and the agent ("host:pid") that claimed it from the queue.
    node = models.CharField(max_length=100, blank=True, default="")
    claimed_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["domain", "-id"], name="deploy_domain_recent"),
            models.Index(fields=["node", "status"], name="deploy_node_queue"),
        ]

    def __str__(self) -> str:
        return f"deploy {self.pk} of {self.domain_id}: {self.status}"


class Node(models.Model):
    """A mail host whose agent applies deploys (agent mode). Created by the first heartbeat
    of its agent, or by naming it for a domain (``domain add --node``)."""

    name = models.CharField(max_length=100, unique=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    agent = models.CharField(max_length=200, blank=True, default="")  # "host:pid" of the last heartbeat
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class NodeMap(models.Model):
    """What the last deploy installed on one node: the node's own copy of Domain's
    ``deployed_serial``, ``deployed_sha256`` and ``deployed_table``."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="maps")
    domain = models.ForeignKey("aliases.Domain", on_delete=models.CASCADE, related_name="node_maps")
    deployed_serial = models.PositiveBigIntegerField(default=0)
    deployed_sha256 = models.CharField(max_length=64, blank=True, default="")
    deployed_table = models.CharField(max_length=100, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "domain"], name="nodemap_once")]

    def __str__(self) -> str:
        return f"{self.domain_id} on {self.node_id}: serial {self.deployed_serial}"
