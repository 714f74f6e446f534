"""Creating users and granting them domains."""

from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.models import Domain


class AccountError(Exception):
    pass


@transaction.atomic
def add_user(
    name: str, role: str, *, domains: list[str] | tuple[str, ...] = (), password: str | None = None, email: str = ""
) -> tuple[User, str | None]:
    """Create a user; returns the user and the generated password when none was given."""
    if role not in User.Role.values:
        raise AccountError(f"unknown role {role!r}")
    if User.objects.filter(username=name).exists():
        raise AccountError(f"user {name} exists already")
    if domains and role in (User.Role.ADMIN, User.Role.AUDITOR):
        raise AccountError(f"a {role} sees every domain: --domain is for editors and viewers")
    found = {d.name: d for d in Domain.objects.filter(name__in=[d.lower() for d in domains], deleted_at__isnull=True)}
    missing = [d for d in domains if d.lower() not in found]
    if missing:
        raise AccountError(f"no such domain: {', '.join(missing)}")
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(12)
    user = User(username=name, role=role, email=email, is_staff=role == User.Role.ADMIN)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError("password refused: " + " ".join(exc.messages)) from exc
    user.set_password(password)
    user.save()
    grant_role = Grant.Role.VIEWER if role == User.Role.VIEWER else Grant.Role.EDITOR
    Grant.objects.bulk_create([Grant(user=user, domain=d, role=grant_role) for d in found.values()])
    return user, generated
