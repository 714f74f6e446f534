"""Granting users domains: by hand on a user's page, by name on the command line, and as
the directory's domain groups say.

Grants are accounts' model, domains are ours; accounts sits below this app and reaches
what it needs here through ``aliasdesk.accounts.domains`` (handed over in
``AliasesConfig.ready`` as :data:`DOMAIN_GRANTS`).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils.translation import gettext as _

from aliasdesk.accounts.domains import DomainGrants
from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import Grant, User
from aliasdesk.accounts.services import AccountError, refuse_directory_user
from aliasdesk.aliases.models import Domain


def grant_domain(user: User, domain: Domain, role: str, *, by: User | None = None) -> Grant:
    """Let a domain editor or viewer edit or read one more domain (or change that right);
    ``by``: who does it (by default the signed-in user of the request; None on the command line)."""
    if role not in Grant.Role.values:
        raise AccountError(_("unknown domain role {role}").format(role=repr(role)), "grant_role")
    refuse_directory_user(user, "domains follow their directory groups", "grant_role")
    if user.role in (User.Role.ADMIN, User.Role.AUDITOR) or user.is_superuser:
        if user.role == User.Role.AUDITOR:
            message = _("{user} is an auditor and sees every domain already")
        else:
            message = _("{user} is an administrator and sees every domain already")
        raise AccountError(message.format(user=user.username))
    if user.role == User.Role.VIEWER and role == Grant.Role.EDITOR:
        raise AccountError(_("{user} is a domain viewer: make them a domain editor first").format(
            user=user.username), "grant_role")
    if domain.deleted_at is not None:
        raise AccountError(_("{domain} is deleted").format(domain=domain.name))
    old = Grant.objects.filter(user=user, domain=domain).values_list("role", flat=True).first()
    grant, _created = Grant.objects.update_or_create(user=user, domain=domain, defaults={"role": role})
    if old != role:
        record_event(
            "grant.added" if old is None else "grant.changed", actor=by, subject=user, domain=domain,
            before={"role": old} if old else {}, after={"domain": domain.name, "role": role},
        )
    return grant


def revoke_grant(user: User, domain: Domain, *, by: User | None = None) -> bool:
    """Take one domain away from a user; False when they did not have it."""
    refuse_directory_user(user, "domains follow their directory groups")
    old = Grant.objects.filter(user=user, domain=domain).values_list("role", flat=True).first()
    deleted, _ = Grant.objects.filter(user=user, domain=domain).delete()
    if deleted:
        record_event(
            "grant.revoked", actor=by, subject=user, domain=domain, before={"domain": domain.name, "role": old}
        )
    return deleted > 0


def grantable_domains() -> list[Domain]:
    """Every live domain, by name: what a user's page offers to grant."""
    return list(Domain.objects.filter(deleted_at__isnull=True).order_by("name").only("pk", "name"))


def _live_domains(names: Sequence[str]) -> dict[str, Domain]:
    return {d.name: d for d in Domain.objects.filter(name__in=[n.lower() for n in names], deleted_at__isnull=True)}


def missing_domains(names: Sequence[str]) -> list[str]:
    """The names, as given, that are no live domain (letter case aside)."""
    found = _live_domains(names)
    return [n for n in names if n.lower() not in found]


def grant_named_domains(user: User, names: Sequence[str], role: str) -> None:
    """Give a new user these live domains, by name (``aliasdesk user add --domain``)."""
    found = _live_domains(names)
    Grant.objects.bulk_create([Grant(user=user, domain=d, role=role) for d in found.values()])
    for domain in found.values():
        record_event("grant.added", subject=user, domain=domain, after={"domain": domain.name, "role": role})


def _named(names: Sequence[str]) -> list[Domain]:
    """The live domains of these names, in the order given; AccountError naming any missing."""
    missing = missing_domains(names)
    if missing:
        raise AccountError(_("no such domain: {names}").format(names=", ".join(missing)))
    found = _live_domains(names)
    return list({n.lower(): found[n.lower()] for n in names}.values())


@transaction.atomic
def grant_domains_by_name(user: User, names: Sequence[str], role: str | None, by: User | None) -> list[str]:
    """``aliasdesk user grant``: these domains, all or none, in ``role`` (None: editor for a
    domain editor, viewer for a domain viewer), with the checks of the user's page."""
    role = role or (Grant.Role.VIEWER if user.role == User.Role.VIEWER else Grant.Role.EDITOR)
    domains = _named(names)
    for domain in domains:
        grant_domain(user, domain, role, by=by)
    return [d.name for d in domains]


@transaction.atomic
def revoke_domains_by_name(user: User, names: Sequence[str], by: User | None) -> list[str]:
    """``aliasdesk user revoke``: take these domains away, all or none; the names they had."""
    return [d.name for d in _named(names) if revoke_grant(user, d, by=by)]


def sync_directory_grants(user: User, names: frozenset[str], role: str) -> list[str]:
    """Make a directory user's grants exactly the live domains of these names, in this grant
    role, recording each change; returns the names that are no live domain, sorted."""
    found = dict(Domain.objects.filter(name__in=names, deleted_at__isnull=True).values_list("name", "pk"))
    wanted = set(found.values())
    current = {g.domain_id: g for g in Grant.objects.filter(user=user).select_related("domain")}
    for domain_id, grant in current.items():
        if domain_id not in wanted:
            grant.delete()
            record_event("grant.revoked", actor=None, subject=user, domain=grant.domain,
                         before={"role": grant.role}, detail="directory groups")
        elif grant.role != role:
            Grant.objects.filter(pk=grant.pk).update(role=role)
            record_event("grant.changed", actor=None, subject=user, domain=grant.domain,
                         before={"role": grant.role}, after={"role": role}, detail="directory groups")
    for domain in Domain.objects.filter(pk__in=sorted(wanted - current.keys())):
        Grant.objects.create(user=user, domain=domain, role=role)
        record_event("grant.added", actor=None, subject=user, domain=domain, after={"role": role},
                     detail="directory groups")
    return sorted(names - found.keys())


DOMAIN_GRANTS = DomainGrants(
    grantable=grantable_domains,
    missing=missing_domains,
    grant_named=grant_named_domains,
    sync_directory=sync_directory_grants,
    grant=grant_domains_by_name,
    revoke=revoke_domains_by_name,
)
