"""Users, their global role and their per-domain grants."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in. ``role`` is global; domain rights come from grants."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        AUDITOR = "auditor", _("Auditor")
        EDITOR = "editor", _("Domain editor")
        VIEWER = "viewer", _("Domain viewer")

    class Source(models.TextChoices):
        LOCAL = "local", _("Local")
        DIRECTORY = "directory", _("Directory")

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    # A directory user signs in against LDAP only (no usable local password); role and
    # grants follow the directory groups, read at sign-in and again after directory_checked_at.
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.LOCAL)
    directory_checked_at = models.DateTimeField(null=True, blank=True)
    # The interface language this user chose ("" follows the browser's Accept-Language).
    language = models.CharField(max_length=8, blank=True, default="")

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser

    @property
    def is_directory(self) -> bool:
        return self.source == self.Source.DIRECTORY


def users_named_in_any_case(name: str) -> models.QuerySet[User]:
    """The users whose name is ``name`` in any letter case. Names compare exactly in the
    database (on MariaDB too: migration 0005), so both sides are lower-cased there."""
    return User.objects.alias(folded=Lower("username")).filter(folded=Lower(Value(name)))


class Grant(models.Model):
    """What one user may do with one domain."""

    class Role(models.TextChoices):
        EDITOR = "editor", _("Editor")
        VIEWER = "viewer", _("Viewer")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants")
    domain = models.ForeignKey("aliases.Domain", on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "domain"], name="one_grant_per_user_domain")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.domain}"


class SecurityEvent(models.Model):
    """One sign-in, lockout, user, grant or two-factor change, for the audit log.

    Written only through ``aliasdesk.accounts.events.record_event``. Names are copied, so
    the entry still says who it was after a user is deleted. ``before`` and ``after`` hold
    the changed fields (never a password or a secret).
    """

    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=40, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    subject = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject_name = models.CharField(max_length=150, blank=True)
    domain = models.ForeignKey("aliases.Domain", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    address = models.GenericIPAddressField(null=True, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.subject_name}"
