"""What the mail logs said, as counters: per hour and host, per managed domain and alias.

Rows are only ever added to by ingestion (:mod:`aliasdesk.maillog.ingest`); the
hour is the start of a clock hour in UTC, a day is a date in the site's zone.
Sources, hosts, reasons and peer domains compare exactly on MariaDB too (migration
0002, aliasdesk/aliases/collation.py): a migration that alters one of those fields
must set the collation again.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from aliasdesk.aliases.models import Alias, Domain


class LogSource(models.Model):
    """One log file read by ``logingest`` on one machine, and where reading stopped.

    ``position`` is :class:`aliasdesk.postfix.maillog.follow.LogPosition` as a dict;
    ``in_flight`` the messages still queued at that point (see
    :class:`aliasdesk.postfix.maillog.count.TrafficCounter`). Both change in the same
    transaction as the counters they account for, so a line is never counted twice.
    """

    node = models.CharField(max_length=128, help_text="The machine that reads the file.")
    path = models.CharField(max_length=512)
    position = models.JSONField(default=dict)
    in_flight = models.JSONField(default=dict)
    lines = models.PositiveBigIntegerField(default=0)
    unparsed = models.PositiveBigIntegerField(default=0)
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_line_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "path"], name="logsource_node_path")]
        ordering = ["node", "path"]

    def __str__(self) -> str:
        return f"{self.node}:{self.path}"


class HostHour(models.Model):
    """pflogsumm's counts for one hour of one mail host's log."""

    hour = models.DateTimeField()
    host = models.CharField(max_length=255)
    received = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    forwarded = models.PositiveIntegerField(default=0)
    deferrals = models.PositiveIntegerField(default=0)
    bounced = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    reject_warnings = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    discarded = models.PositiveIntegerField(default=0)
    bytes_received = models.PositiveBigIntegerField(default=0)
    bytes_delivered = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "host"], name="hosthour_hour_host")]

    def __str__(self) -> str:
        return f"{self.host} {self.hour:%Y-%m-%d %H}:00"


class AddressCounts(models.Model):
    """What the logs said of mail to addresses (see ADDRESS_FIELDS in aliasdesk.postfix.maillog.count)."""

    received = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    bounced = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DomainHour(AddressCounts):
    """Mail to one managed domain's aliases in one hour (what its editors may see)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "hour"], name="domainhour_domain_hour")]
        indexes = [models.Index(fields=["hour"], name="domainhour_hour")]

    def __str__(self) -> str:
        return f"{self.domain_id} {self.hour:%Y-%m-%d %H}:00"


class AliasDay(AddressCounts):
    """Mail to one alias on one day."""

    alias = models.ForeignKey(Alias, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alias", "day"], name="aliasday_alias_day")]
        indexes = [models.Index(fields=["day"], name="aliasday_day")]

    def __str__(self) -> str:
        return f"{self.alias_id} {self.day}"


class AliasUsage(models.Model):
    """All-time counts and the first and last time mail for an alias was logged."""

    alias = models.OneToOneField(Alias, on_delete=models.CASCADE, primary_key=True, related_name="usage")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    received = models.PositiveBigIntegerField(default=0)
    delivered = models.PositiveBigIntegerField(default=0)
    deferred = models.PositiveBigIntegerField(default=0)
    bounced = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.alias_id} last seen {self.last_seen}"


class ReasonDay(models.Model):
    """How often a deferral, bounce or reject reason was logged on a day, per host."""

    class Kind(models.TextChoices):
        DEFERRED = "deferred", _("Deferred")
        BOUNCED = "bounced", _("Bounced")
        REJECTED = "rejected", _("Rejected")
        REJECT_WARNING = "reject_warning", _("reject warning")
        HELD = "held", _("Held")
        DISCARDED = "discarded", _("Discarded")

    day = models.DateField()
    host = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=200)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "host", "kind", "reason"], name="reasonday_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.host} {self.kind}: {self.reason}"


class PeerDay(models.Model):
    """Messages from a sender domain (``from``) or deliveries to a recipient domain (``to``) on a day."""

    day = models.DateField()
    host = models.CharField(max_length=255)
    direction = models.CharField(max_length=4, choices=[("from", "from"), ("to", "to")])
    domain = models.CharField(max_length=253)
    messages = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "host", "direction", "domain"], name="peerday_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.host} {self.direction} {self.domain}"
