"""Domains (one managed map file each) and their aliases.

Names, map paths and folded keys compare exactly on MariaDB too (migration 0007,
aliasdesk/aliases/collation.py): a migration that alters one of those fields must
set the collation again.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class MapType(models.TextChoices):
    HASH = "hash", _("hash (Berkeley DB)")
    LMDB = "lmdb", "lmdb"
    CDB = "cdb", "cdb"
    TEXTHASH = "texthash", _("texthash (needs postfix reload)")


class AliasMode(models.TextChoices):
    """How an alias domain forwards to its target (see aliasdesk/aliases/aliasdomains.py)."""

    EXPAND = "expand", _("one line per address of the target (unknown addresses rejected)")
    CATCHALL = "catchall", _("@alias @target (every address accepted)")


class Domain(models.Model):
    """One managed virtual map file, named after the domain it serves.

    ``serial`` grows with every change to the domain or its aliases; the deploy
    engine compares it with ``deployed_serial`` to know, without rendering, that
    nothing changed since the last good deploy.
    """

    name = models.CharField(max_length=253, unique=True)
    map_path = models.CharField(max_length=1024, unique=True)
    map_type = models.CharField(max_length=16, choices=MapType.choices, default=MapType.HASH)
    header = models.TextField(blank=True, default="")
    footer = models.TextField(blank=True, default="")
    localpart_pattern = models.CharField(
        max_length=255, blank=True, default="", help_text=_("Regular expression new alias local parts must match.")
    )
    allowed_destination_domains = models.TextField(
        blank=True, default="", help_text=_("One domain per line; empty allows any destination.")
    )
    # The mail domains whose keys the map may hold besides its own name (a legacy
    # multi-domain map), one per line. MailDomain rows mirror them with a unique name.
    extra_domains = models.TextField(blank=True, default="")
    editors_role_addresses = models.BooleanField(
        default=False, help_text=_("Editors may change postmaster@ and abuse@ (RFC 2142) of this map's domains.")
    )
    # Limits an administrator sets (empty: none). They refuse new rows and new destinations,
    # never what exists: see aliasdesk/aliases/limits.py.
    max_aliases = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("At most this many aliases (switched-off ones included); empty: no limit.")
    )
    max_destinations = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("At most this many destinations per alias; empty: no limit.")
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    serial = models.PositiveBigIntegerField(default=1)
    deployed_serial = models.PositiveBigIntegerField(default=0)
    deployed_sha256 = models.CharField(max_length=64, blank=True, default="")
    # The serial of the last change a deploy cannot apply as a patch (header, footer,
    # settings, an import, a purge of undeployed rows): the next deploy rebuilds.
    rebuild_serial = models.PositiveBigIntegerField(default=0)
    # The compiled table the last deploy installed ("inode:size:mtime_ns"): a patch is
    # applied only to that very file.
    deployed_table = models.CharField(max_length=100, blank=True, default="")
    # The mail hosts (agent mode) that carry this map, one name per line; none: every node.
    nodes = models.TextField(blank=True, default="")
    deploy_on_save = models.BooleanField(
        default=False, help_text=_("Deploy the map right after each saved change (the original tool's behaviour).")
    )
    # An alias domain: every address forwards to the same local part of ``alias_of``. Its map
    # holds no rows of its own: the lines are generated from the target's at each render.
    alias_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="alias_domains", db_index=True
    )
    alias_mode = models.CharField(max_length=16, choices=AliasMode.choices, default=AliasMode.EXPAND)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(
        excluded_fields=[
            "serial",
            "deployed_serial",
            "deployed_sha256",
            "rebuild_serial",
            "deployed_table",
            "updated_at",
        ]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving a domain never writes its serials or deploy bookkeeping: those move only by
        ``bump_serial`` and the deploy engine, in SQL, so a stale copy cannot turn them back."""
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name not in BOOKKEEPING
            ]
        super().save(*args, **kwargs)

    @property
    def node_names(self) -> list[str]:
        return [name for name in self.nodes.split() if name]


BOOKKEEPING = frozenset({"serial", "deployed_serial", "deployed_sha256", "rebuild_serial", "deployed_table"})


class Alias(models.Model):
    """One key of a domain's map and its ordered destinations.

    Keys are kept as written; ``key_folded`` is what Postfix compares (lower case).
    ``destinations`` holds the addresses joined by ", ", in order.
    """

    # Indexes are few on purpose: imports write hundreds of thousands of rows.
    # (domain, key_folded) serves lookups by domain too.
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="aliases", db_index=False)
    key = models.CharField(max_length=512)
    key_folded = models.CharField(max_length=512)
    destinations = models.TextField()
    enabled = models.BooleanField(default=True)
    comment = models.TextField(blank=True, default="")
    valid_until = models.DateField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # The domain's serial at this row's last change (kept in history too): a deploy patches
    # the rows whose serial is above the one it last deployed.
    serial = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    history = HistoricalRecords(excluded_fields=["key_folded", "updated_at"])

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["domain", "key_folded"], name="alias_domain_key"),
            # Mail-log ingestion finds the alias of an address whatever domain's map holds it.
            models.Index(fields=["key_folded"], name="alias_key_folded"),
            # A deploy asks for the rows changed since the last one.
            models.Index(fields=["domain", "serial"], name="alias_domain_serial"),
            # The grid sorted by "changed" (ties by key) reads a page of it, not the whole domain:
            # an import gives 500,000 rows one time.
            models.Index(fields=["domain", "updated_at", "key_folded"], name="alias_domain_updated"),
            # Few aliases have a valid-until date: every deploy looks for the expired ones.
            models.Index(fields=["valid_until"], name="alias_valid_until", condition=Q(valid_until__isnull=False)),
        ]
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return self.key

    @property
    def destination_list(self) -> list[str]:
        return [d for d in self.destinations.split(", ") if d]

    @staticmethod
    def expiring_ids(domain_id: int, today: datetime.date | None = None) -> list[int]:
        """Ids of the domain's aliases whose valid-until date has passed (some may be off already)."""
        today = today or timezone.localdate()
        # Asked by date alone, so the small valid-until index answers (with the domain in the
        # query, databases walk the domain's whole alias index instead).
        rows = Alias.objects.filter(valid_until__lt=today).order_by().values_list("pk", "domain_id")
        return [pk for pk, domain in rows if domain == domain_id]


class MailDomain(models.Model):
    """A mail domain and the one Domain whose map may hold its keys.

    Every Domain owns its own name and the names in its ``extra_domains``; the unique
    name makes sure no two maps ever own the same mail domain.
    """

    name = models.CharField(max_length=253, unique=True)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="mail_domains")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OwnershipConflict(models.Model):
    """Keys of ``mail_domain`` (owned by another map) that ``domain``'s map held before keys were
    tied to their domains. Its deploys warn instead of refusing them until an admin settles it;
    ``aliasdesk check`` lists every one, and the record goes once the keys are gone.
    """

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="ownership_conflicts")
    mail_domain = models.CharField(max_length=253)
    keys = models.PositiveIntegerField(default=0)
    found_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "mail_domain"], name="one_conflict_per_domain_mail_domain")
        ]

    def __str__(self) -> str:
        return f"{self.domain} holds keys of {self.mail_domain}"


class VirtualEntry(models.Model):
    """One answer a managed map gives Postfix, for ``aliasdesk postfix-config``'s SQL tables.

    Postfix asks the table for one folded key (``lookup_key``: what Postfix's own case folding makes
    of it) and takes the first row in lookup order: ``map_rank`` (the map's place in
    ``virtual_alias_maps``), then ``section`` (0 header, 1 aliases, 2 footer) and
    ``position`` (line in the header or footer, alias id). ``expires_at`` (Unix seconds, the
    local midnight after ``valid_until``) hides an alias the moment its date has passed.

    Kept in sync by ``aliasdesk.aliases.virtual_table`` after every change of a map. The
    table holds nothing but alias data, so a read-only database role may be given it alone.
    On SQLite the rows live in a separate lookup database (``lookup.sqlite3``), never in the
    main one with the users and their password hashes; the table here then stays empty.
    """

    lookup_key = models.CharField(max_length=512)
    value = models.TextField()
    domain_id = models.PositiveBigIntegerField()  # no foreign key: the lookup database stands alone
    alias_id = models.PositiveBigIntegerField(null=True)
    map_rank = models.IntegerField()
    section = models.SmallIntegerField()
    position = models.BigIntegerField()
    expires_at = models.BigIntegerField(null=True)

    class Meta:
        db_table = "aliasdesk_virtual"
        indexes = [
            models.Index(fields=["lookup_key", "map_rank", "section", "position"], name="virtual_lookup"),
            models.Index(fields=["domain_id", "alias_id"], name="virtual_domain_alias"),
        ]

    def __str__(self) -> str:
        return f"{self.lookup_key} {self.value}"


class VirtualSync(models.Model):
    """How far ``VirtualEntry`` follows each domain: its serial and rank when last synced.

    The row with ``domain_id`` 0 says that the table is kept at all (``aliasdesk
    postfix-config`` switches it on), and its ``serial`` counts full synchronisations.
    """

    domain_id = models.PositiveBigIntegerField(primary_key=True)
    serial = models.PositiveBigIntegerField(default=0)
    map_rank = models.IntegerField(default=0)

    class Meta:
        db_table = "aliasdesk_virtual_sync"

    def __str__(self) -> str:
        return f"domain #{self.domain_id} synced to serial {self.serial}"


class LiveCheck(models.Model):
    """The checks a deploy runs, run again on the live state of a map.

    While Postfix reads the aliases from the database (``postfix-config``), a saved change is
    live without a deploy, and so without the deploy's checks across the whole map and across
    maps (loops, expansion limits, duplicates, keys another map defines too). ``aliasdesk
    postfix-config --sync`` runs them for every map changed since its last check and keeps the
    findings here; the domain page shows them.
    """

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="live_check")
    serial = models.PositiveBigIntegerField(default=0)
    checked_at = models.DateTimeField()
    findings = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.domain} checked at serial {self.serial}"

    @property
    def errors(self) -> list[dict[str, object]]:
        return [f for f in self.findings if f.get("severity") == "error"]

    @property
    def warnings(self) -> list[dict[str, object]]:
        return [f for f in self.findings if f.get("severity") != "error"]
