"""Domains: the list the token may see, one domain, and who the token is."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from aliasdesk.accounts.scope import current_scope
from aliasdesk.aliases.access import can_edit, visible_domains
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.search import alias_counts, alias_counts_many
from aliasdesk.api.auth import domain_for, user_of
from aliasdesk.api.schemas import DomainOut, Me, answers

router = Router(tags=["domains"])


def domain_out(domain: Domain, counts: dict[str, int], writable: bool) -> dict[str, Any]:
    return {
        "name": domain.name,
        "map_path": domain.map_path,
        "map_type": domain.map_type,
        "alias_of": domain.alias_of.name if domain.alias_of_id and domain.alias_of else None,
        "nodes": domain.node_names,
        "deploy_on_save": domain.deploy_on_save,
        "writable": writable and domain.alias_of_id is None,
        "serial": domain.serial,
        "deployed_serial": domain.deployed_serial,
        "undeployed_changes": domain.serial != domain.deployed_serial,
        "aliases": counts,
        "max_aliases": domain.max_aliases,
        "max_destinations": domain.max_destinations,
    }


@router.get("/me", response=answers({200: Me}), summary="The token and its user")
def me(request: HttpRequest) -> dict[str, Any]:
    token = request.auth  # type: ignore[attr-defined]
    scope = current_scope()
    domains = None
    if scope is not None and scope.domain_ids is not None:
        domains = sorted(Domain.objects.filter(pk__in=scope.domain_ids).values_list("name", flat=True))
    user = user_of(request)
    return {
        "username": user.username,
        "role": user.role,
        "token": token.prefix,
        "read_only": token.read_only,
        "domains": domains,
        "expires_at": token.expires_at,
    }


@router.get("/domains", response=answers({200: list[DomainOut]}), summary="The domains the token may see")
def domain_list(request: HttpRequest) -> list[dict[str, Any]]:
    user = user_of(request)
    domains = list(visible_domains(user).select_related("alias_of").order_by("name"))
    counts = alias_counts_many([(d.pk, d.created_at, d.serial) for d in domains])
    return [domain_out(d, counts[d.pk], can_edit(user, d)) for d in domains]


@router.get("/domains/{name}", response=answers({200: DomainOut}, 404), summary="One domain")
def domain_detail(request: HttpRequest, name: str) -> dict[str, Any]:
    domain = domain_for(request, name)
    return domain_out(domain, alias_counts(domain), can_edit(user_of(request), domain))
