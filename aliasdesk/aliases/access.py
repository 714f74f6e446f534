"""Which domains a user may see and change. Every domain page asks here; none decides by itself.

A domain the user may not see answers 404, as if it did not exist; one the user may see
but not change answers 403 on a change. Global roles (admin, auditor) and the read-only
demo are :mod:`aliasdesk.accounts.access`; a domain editor or viewer gets a domain
through a Grant.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from aliasdesk.accounts.access import ReadOnlyMode, can_administer, reads_all_domains
from aliasdesk.accounts.current import current_user
from aliasdesk.accounts.models import Grant, User
from aliasdesk.accounts.scope import current_scope, may_write
from aliasdesk.aliases.models import Domain


def visible_domains(user: User) -> QuerySet[Domain]:
    domains = Domain.objects.filter(deleted_at__isnull=True)
    scope = current_scope()
    if scope is not None and scope.domain_ids is not None:
        domains = domains.filter(pk__in=scope.domain_ids)
    if reads_all_domains(user):
        return domains
    return domains.filter(grants__user=user)


def can_edit(user: User, domain: Domain) -> bool:
    """May change the domain's aliases (not its header, footer or settings: admins only)."""
    if settings.DEMO_READONLY or not may_write(domain.pk):
        return False
    if user.is_admin:
        return True
    if user.role in (User.Role.AUDITOR, User.Role.VIEWER):
        return False
    return Grant.objects.filter(user=user, domain=domain, role=Grant.Role.EDITOR).exists()


def get_domain_for_user(
    request: HttpRequest, name: str, *, write: bool = False, admin: bool = False, related: tuple[str, ...] = ()
) -> Domain:
    """The domain called ``name`` if the user may see it (404 otherwise).

    ``write`` asks for the right to change its aliases, ``admin`` for the right to change
    the domain itself (header, footer, settings, purge); either answers 403 when missing.
    ``related``: rows read along with it (select_related), where the page shows them.
    """
    user = current_user(request)
    domain = visible_domains(user).filter(name=name.lower()).select_related(*related).first()
    if domain is None:
        raise Http404(_("no such domain"))
    if (write or admin) and settings.DEMO_READONLY:
        raise ReadOnlyMode(_("this demo is read-only"))
    if admin and not can_administer(user):
        raise PermissionDenied(_("only administrators may change this"))
    if write and not can_edit(user, domain):
        raise PermissionDenied(_("you may read this domain but not change it"))
    return domain
