"""Directory login (LDAP / Active Directory): django-auth-ldap with aliasdesk's rules.

- Only directory users sign in here. A local account of the same name is never taken
  over: the directory is not even asked (an administrator converts accounts with
  ``aliasdesk user convert``).
- The role comes from ALIASDESK_LDAP_ROLE_GROUPS (the highest held wins), grants from
  ALIASDESK_LDAP_DOMAIN_GROUPS; for directory users both follow the directory exactly, at
  every sign-in and at every recheck of an open session (``recheck_user``). Hand-made
  grants of a directory user are refused, and would be removed at the next check.
- Someone in no role group is refused, and loses whatever they had.
- Directory users have no usable local password: with the directory down they cannot sign
  in, while local accounts never wait for it.

Importing this module imports python-ldap; settings only name it when ALIASDESK_LDAP_URI is set.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ldap
import ldap.dn
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django_auth_ldap.backend import LDAPBackend, ldap_error

from aliasdesk.accounts.backends import REFUSAL_ATTRIBUTE
from aliasdesk.accounts.domains import domain_grants
from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.ldapconf import ROLES
from aliasdesk.accounts.models import Grant, User, users_named_in_any_case

logger = logging.getLogger(__name__)

# Said in the reader's language where they are shown (gettext at the refusal).
UNAVAILABLE_MESSAGE = gettext_noop(
    "The directory cannot be reached, so directory accounts cannot sign in now. Try again later."
)
NO_ROLE_MESSAGE = gettext_noop(
    "Your directory account is in no aliasdesk group, so it has no access here. Ask an administrator."
)


class DirectoryUnavailable(Exception):
    """The directory could not be asked: down, unreachable, TLS refused, service account refused."""


class NoRoleGroup(Exception):
    """The person is in the directory but in none of ALIASDESK_LDAP_ROLE_GROUPS."""


class Recheck(enum.Enum):
    OK = "ok"
    REFUSED = "refused"  # gone from the directory or in no role group: signed out
    UNAVAILABLE = "unavailable"  # the directory could not be asked


@dataclass(frozen=True)
class Membership:
    """What the directory groups give one person: a role (None: no access) and domains."""

    role: str | None
    domains: frozenset[str]


def normalize_dn(dn: str) -> str:
    """One spelling per DN (spaces after commas, letter case), to compare configured and found DNs."""
    try:
        return str(ldap.dn.dn2str(ldap.dn.str2dn(dn))).lower()
    except ldap.DECODING_ERROR:
        return dn.strip().lower()


def membership_from_groups(group_dns: Iterable[str]) -> Membership:
    held = {normalize_dn(dn) for dn in group_dns}
    roles = {role for role, dn in settings.LDAP_ROLE_GROUPS if normalize_dn(dn) in held}
    role = next((r for r in ROLES if r in roles), None)
    domains = frozenset(name for name, dn in settings.LDAP_DOMAIN_GROUPS if normalize_dn(dn) in held)
    return Membership(role, domains)


NO_ACCESS = Membership(None, frozenset())


def _set_directory_role(user: User, role: str) -> None:
    user.source = User.Source.DIRECTORY
    user.role = role
    user.is_staff = role == User.Role.ADMIN
    user.is_superuser = False  # the directory decides who is an administrator
    if user.has_usable_password():
        user.set_unusable_password()


@transaction.atomic
def apply_membership(user: User, membership: Membership) -> None:
    """Make a directory user's role and grants exactly what ``membership`` says.

    No role: the least role (viewer) and no grants. Admins and auditors see every domain
    and keep no grants. Editors and viewers get their groups' domains, as editor or viewer.
    """
    role = membership.role or User.Role.VIEWER
    new_user = user.pk is None
    before_role = None if new_user else User.objects.filter(pk=user.pk).values_list("role", flat=True).first()
    _set_directory_role(user, role)
    # After a refusal, the next request of any other open session asks the directory again.
    user.directory_checked_at = timezone.now() if membership.role else None
    user.save(update_fields=["source", "role", "is_staff", "is_superuser", "password", "directory_checked_at"])
    if before_role is not None and before_role != role:
        record_event("user.changed", actor=None, subject=user, before={"role": before_role}, after={"role": role},
                     detail="directory groups")
    grant_role = Grant.Role.VIEWER if role == User.Role.VIEWER else Grant.Role.EDITOR
    names = membership.domains if membership.role in (User.Role.EDITOR, User.Role.VIEWER) else frozenset()
    missing = domain_grants().sync_directory(user, names, grant_role)
    if missing:
        logger.info("ALIASDESK_LDAP_DOMAIN_GROUPS names domains aliasdesk does not have: %s", ", ".join(missing))


def is_local_account(name: str) -> bool:
    return users_named_in_any_case(name).filter(source=User.Source.LOCAL).exists()


def _refuse(request: HttpRequest | None, message: str) -> None:
    if request is not None:
        setattr(request, REFUSAL_ATTRIBUTE, message)


class DirectoryBackend(LDAPBackend):  # type: ignore[misc]  # django-auth-ldap has no types
    """django-auth-ldap's backend, for directory users only; roles and grants from groups."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if not username or not password:
            return None
        name = username.strip()
        if is_local_account(name):
            logger.warning(
                "sign-in of local account %s failed; the directory is not asked for local accounts "
                "(to move it there: aliasdesk user convert %s --to directory)", name, name,
            )
            return None
        try:
            user: User | None = super().authenticate(request, username=name, password=password)
        except DirectoryUnavailable as exc:
            logger.warning("directory sign-in of %s: the directory cannot be asked: %s", name, exc)
            _refuse(request, gettext(UNAVAILABLE_MESSAGE))
            return None
        except NoRoleGroup:
            logger.warning("directory sign-in of %s refused: in no group of ALIASDESK_LDAP_ROLE_GROUPS", name)
            _refuse(request, gettext(NO_ROLE_MESSAGE))
            return None
        if user is not None:
            apply_membership(user, user._aliasdesk_membership)  # type: ignore[attr-defined]
        return user

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[User, bool]:
        """Called by django-auth-ldap once the directory has the person (password checked at
        sign-in); reads the groups before anything is saved."""
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and not user.is_directory:  # became local meanwhile
            raise ldap_user.AuthenticationFailed(f"{user.username} is a local account")
        membership = membership_from_groups(ldap_user.group_dns)
        if membership.role is None:
            if not built:
                apply_membership(user, NO_ACCESS)
            raise NoRoleGroup(username)
        _set_directory_role(user, membership.role)
        user.directory_checked_at = timezone.now()
        user._aliasdesk_membership = membership
        return user, built

    def get_user(self, user_id: int) -> User | None:
        """A session made here ends when the user is no longer a directory user or is deactivated."""
        user: User | None = super().get_user(user_id)
        if user is None or not user.is_directory or not user.is_active:
            return None
        return user


def _directory_error(sender: Any, context: str, exception: Exception, **kwargs: Any) -> None:
    """django-auth-ldap reports every LDAPError here before it would swallow it: turn it into
    DirectoryUnavailable, so "cannot ask" never looks like "no such person" or "no groups"."""
    detail = exception.args[0] if exception.args else {}
    if isinstance(detail, dict):
        text = "; ".join(str(detail[k]) for k in ("desc", "info") if detail.get(k))
    else:
        text = str(detail)
    raise DirectoryUnavailable(f"{type(exception).__name__} {context}: {text}")


ldap_error.connect(_directory_error, sender=DirectoryBackend, dispatch_uid="aliasdesk.directory.error")


def recheck_user(user: User) -> Recheck:
    """Look a directory user up again with the service account and apply role and grants."""
    backend = DirectoryBackend()
    try:
        found: User | None = backend.populate_user(user.username)
    except DirectoryUnavailable as exc:
        logger.warning("recheck of %s: the directory cannot be asked: %s", user.username, exc)
        return Recheck.UNAVAILABLE
    except NoRoleGroup:
        logger.warning("recheck of %s: in no role group any more, signed out", user.username)
        return Recheck.REFUSED
    except ldap.LDAPError as exc:  # pragma: no cover - reported through ldap_error above
        logger.warning("recheck of %s: %s", user.username, exc)
        return Recheck.UNAVAILABLE
    if found is None:
        logger.warning("recheck of %s: no longer found in the directory, signed out", user.username)
        apply_membership(user, NO_ACCESS)
        return Recheck.REFUSED
    apply_membership(found, found._aliasdesk_membership)  # type: ignore[attr-defined]
    return Recheck.OK
