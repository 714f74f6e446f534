"""What a user's global role allows. Every view asks here or in :mod:`aliasdesk.aliases.access`.

Admins do everything; auditors read everything, history included, and change
nothing; a domain editor changes the aliases of granted domains; a domain viewer
reads granted domains (which domains: ``aliases.access``, since domains are the
aliases app's and it builds on this one).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from aliasdesk.accounts.current import current_user
from aliasdesk.accounts.models import User
from aliasdesk.accounts.scope import current_scope, may_administer


class ReadOnlyMode(PermissionDenied):
    """The demo is read-only: everything visible, nothing writable."""


def reads_all_domains(user: User) -> bool:
    """The role reads every domain (admins, auditors), whatever narrows the request."""
    return user.is_admin or user.role == User.Role.AUDITOR


def sees_everything(user: User) -> bool:
    """Reads every domain and the whole server's numbers; an API token limited to some
    domains sees only those (accounts.scope)."""
    scope = current_scope()
    return reads_all_domains(user) and (scope is None or scope.domain_ids is None)


def can_administer(user: User) -> bool:
    return user.is_admin and not settings.DEMO_READONLY and may_administer()


def require_admin(request: HttpRequest) -> None:
    user = current_user(request)
    if not user.is_admin:
        raise Http404("no such page")
    if request.method not in ("GET", "HEAD") and settings.DEMO_READONLY:
        raise ReadOnlyMode(_("this demo is read-only"))


def require_reader_of_everything(request: HttpRequest) -> None:
    """Audit pages: admins and auditors."""
    if not sees_everything(current_user(request)):
        raise Http404("no such page")

