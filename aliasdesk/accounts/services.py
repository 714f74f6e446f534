"""Creating and changing users (granting them domains: ``aliasdesk.aliases.grants``)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aliasdesk.accounts.domains import domain_grants
from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import Grant, User, users_named_in_any_case


class AccountError(Exception):
    """A change to a user that cannot be made; ``field`` names the input it is about, if any."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def add_user(
    name: str, role: str, *, domains: list[str] | tuple[str, ...] = (), password: str | None = None, email: str = ""
) -> tuple[User, str | None]:
    """Create a user; returns the user and the generated password when none was given.

    ``domains`` are names of live domains to grant an editor or viewer (looked up by the
    aliases app, through ``aliasdesk.accounts.domains``).
    """
    if role not in User.Role.values:
        raise AccountError(_("unknown role %(role)s") % {"role": repr(role)})
    if User.objects.filter(username=name).exists():
        raise AccountError(_("user %(name)s exists already") % {"name": name})
    if domains and role in (User.Role.ADMIN, User.Role.AUDITOR):
        raise AccountError(_("a %(role)s sees every domain: --domain is for editors and viewers") % {"role": role})
    missing = domain_grants().missing(domains) if domains else []
    if missing:
        raise AccountError(_("no such domain: %(names)s") % {"names": ", ".join(missing)})
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(12)
    user = User(username=name, role=role, email=email, is_staff=role == User.Role.ADMIN)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError(_("password refused: %(reasons)s") % {"reasons": " ".join(exc.messages)}) from exc
    user.set_password(password)
    user.save()
    record_event(
        "user.created",
        subject=user,
        after={"role": role, "active": True, "password": "generated" if generated else "set"},
        detail="" if generated is None else "password generated",
    )
    if domains:
        grant_role = Grant.Role.VIEWER if role == User.Role.VIEWER else Grant.Role.EDITOR
        domain_grants().grant_named(user, domains, grant_role)
    return user, generated


def _check_password(user: User, password: str, again: str) -> None:
    if password != again:
        raise AccountError(_("the two passwords differ"), "password")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        reasons = " ".join(exc.messages)
        raise AccountError(_("password refused: %(reasons)s") % {"reasons": reasons}, "password") from exc


def create_user(name: str, role: str, password: str, again: str, *, email: str = "") -> User:
    """Create a user from the web form: a valid login name and the password typed twice."""
    name = name.strip()
    if not name:
        raise AccountError(_("give a user name"), "username")
    try:
        User.username_validator(name)
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages), "username") from exc
    if len(name) > 150:
        raise AccountError(_("at most 150 characters"), "username")
    if users_named_in_any_case(name).exists():
        raise AccountError(_("user %(name)s exists already") % {"name": name}, "username")
    _check_password(User(username=name, role=role, email=email), password, again)
    user, _generated = add_user(name, role, password=password, email=email)
    return user


def _other_active_admins(user: User) -> bool:
    admins = User.objects.filter(is_active=True).filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True))
    return admins.exclude(pk=user.pk).exists()


@transaction.atomic
def update_user(user: User, *, role: str, is_active: bool, by: User | None) -> User:
    """Change a user's global role and whether they may sign in; ``by`` None is the command line.

    Nobody removes their own admin role or locks themselves out, and the last
    active administrator stays one. A domain viewer's grants become viewer grants.
    """
    if role not in User.Role.values:
        raise AccountError(_("unknown role %(role)s") % {"role": repr(role)}, "role")
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_directory and role != user.role:
        raise AccountError(_("the role of %(user)s follows their directory groups") % {"user": user.username}, "role")
    before = {"role": user.role, "active": user.is_active}
    stays_admin = role == User.Role.ADMIN and is_active
    myself = by is not None and user.pk == by.pk
    if myself and user.is_admin and role != User.Role.ADMIN:
        raise AccountError(_("you cannot remove your own administrator role; ask another administrator"), "role")
    if myself and not is_active:
        raise AccountError(_("you cannot deactivate yourself"), "is_active")
    if user.is_admin and user.is_active and not stays_admin and not _other_active_admins(user):
        raise AccountError(_("%(user)s is the last active administrator") % {"user": user.username}, "role")
    user.role = role
    user.is_active = is_active
    user.is_staff = role == User.Role.ADMIN
    user.is_superuser = user.is_superuser and role == User.Role.ADMIN
    user.save(update_fields=["role", "is_active", "is_staff", "is_superuser"])
    if role == User.Role.VIEWER:
        user.grants.filter(role=Grant.Role.EDITOR).update(role=Grant.Role.VIEWER)
    after = {"role": user.role, "active": user.is_active}
    if after != before:
        changed = [k for k in after if after[k] != before[k]]
        record_event(
            "user.changed", actor=by, subject=user,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )
    return user


# refuse_directory_user's reasons, each as the whole sentence it makes (for the translations).
DIRECTORY_REFUSALS = {
    "password is managed by the directory": gettext_lazy(
        "%(user)s is a directory user: their password is managed by the directory"
    ),
    "domains follow their directory groups": gettext_lazy(
        "%(user)s is a directory user: their domains follow their directory groups"
    ),
}


def refuse_directory_user(user: User, what: str, field: str = "") -> None:
    """Refuse a change to a directory user; ``what`` says why ("password is managed by the
    directory": one of DIRECTORY_REFUSALS, or it is said in English)."""
    if user.is_directory:
        sentence = DIRECTORY_REFUSALS.get(what)
        if sentence is None:
            raise AccountError(f"{user.username} is a directory user: their {what}", field)
        raise AccountError(str(sentence) % {"user": user.username}, field)


def reset_password(user: User, password: str, again: str) -> None:
    """Give a user a new password (typed twice, checked by the password validators)."""
    refuse_directory_user(user, "password is managed by the directory", "password")
    _check_password(user, password, again)
    user.set_password(password)
    user.save(update_fields=["password"])
    record_event("password.set", subject=user, detail="by an administrator")


@transaction.atomic
def convert_user(user: User, to: str, *, by: User | None = None, password: str | None = None) -> User:
    """Move an account between local and directory sign-in; ``by`` is None on the command line.

    To the directory: the local password goes (the directory's is the only one); role and
    grants follow the groups from the next request or sign-in on. At least one active local
    administrator stays, for when the directory is down. To local: role and grants stay as
    they were; the password is ``password``, or none at all until an administrator sets one.
    Open sessions of the account end either way.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if to not in User.Source.values:
        raise AccountError(_("convert to what? %(to)s is neither local nor directory") % {"to": repr(to)}, "source")
    if user.source == to:
        if to == User.Source.DIRECTORY:
            raise AccountError(_("%(user)s is a directory user already") % {"user": user.username}, "source")
        raise AccountError(_("%(user)s is a local user already") % {"user": user.username}, "source")
    if by is not None and by.pk == user.pk:
        raise AccountError(_("you cannot convert your own account; ask another administrator"), "source")
    if to == User.Source.DIRECTORY:
        if not settings.LDAP_ENABLED:
            raise AccountError(_("directory login is off (ALIASDESK_LDAP_URI is unset)"), "source")
        local_admins = User.objects.filter(is_active=True, source=User.Source.LOCAL).filter(
            Q(role=User.Role.ADMIN) | Q(is_superuser=True)
        )
        if user.is_admin and user.is_active and not local_admins.exclude(pk=user.pk).exists():
            raise AccountError(
                _("%(user)s is the last active local administrator; keep one for when the directory is down")
                % {"user": user.username},
                "source",
            )
        user.source = User.Source.DIRECTORY
        user.set_unusable_password()
    else:
        user.source = User.Source.LOCAL
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise AccountError(
                    _("password refused: %(reasons)s") % {"reasons": " ".join(exc.messages)}, "password"
                ) from exc
            user.set_password(password)
    user.directory_checked_at = None
    user.save(update_fields=["source", "password", "directory_checked_at"])
    return user


def user_record(user: User) -> dict[str, object]:
    """A user as ``aliasdesk user list --json`` prints it: role, state, sign-in source, domains."""
    grants = sorted(user.grants.all(), key=lambda g: g.domain.name)
    return {
        "username": user.username,
        "role": user.role,
        "active": user.is_active,
        "source": user.source,
        "email": user.email,
        "domains": [{"domain": g.domain.name, "role": g.role} for g in grants],
    }
