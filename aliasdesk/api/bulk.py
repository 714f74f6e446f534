"""Many aliases at once: bulk actions on chosen ids, bulk creation, and the desired set (PUT).

The desired set is for configuration management: send every alias the domain should hold;
the same set twice changes nothing the second time (no history, no serial bump, so no
deploy). ``?dry_run=true`` answers what would change and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from aliasdesk.aliases import services
from aliasdesk.aliases.bulk_add import NewAlias, add_aliases
from aliasdesk.aliases.desired import Plan, apply_desired, plan_desired
from aliasdesk.api.aliases import router as router  # one router per path: PUT shares the list's path
from aliasdesk.api.auth import domain_for, user_of
from aliasdesk.api.schemas import (
    BulkAction,
    BulkCreate,
    BulkCreated,
    BulkResult,
    DesiredDiff,
    DesiredSet,
    alias_out,
    answers,
)

TAGS = ["bulk"]


@router.post(
    "/domains/{name}/aliases/bulk",
    response=answers({200: BulkResult}, 403, 404, 422),
    tags=TAGS,
    summary="Switch on, switch off, delete, restore or purge (administrators) many aliases: all or none",
)
def alias_bulk(request: HttpRequest, name: str, payload: BulkAction) -> dict[str, Any]:
    domain = domain_for(request, name, write=True, admin=payload.action == "purge")
    changed = services.bulk_change(domain, sorted(set(payload.ids)), payload.action, user=user_of(request))
    return {"action": payload.action, "changed": changed}


@router.post(
    "/domains/{name}/aliases/bulk-create",
    response=answers({201: BulkCreated}, 403, 404, 409, 422),
    tags=TAGS,
    summary="Create many aliases in one request: all of them or none",
)
def alias_bulk_create(request: HttpRequest, name: str, payload: BulkCreate) -> tuple[int, dict[str, Any]]:
    domain = domain_for(request, name, write=True)
    items = [NewAlias(a.key, a.destinations, a.enabled, a.comment) for a in payload.aliases]
    added = add_aliases(domain, items, user=user_of(request))
    return 201, {"added": added.added, "claimed": added.claimed}


def _as_in(key: str, destinations: str, enabled: bool, comment: str) -> dict[str, Any]:
    return {"key": key, "destinations": [d for d in destinations.split(", ") if d], "enabled": enabled,
            "comment": comment}


def _diff(plan: Plan, domain_name: str, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "changed": not plan.empty,
        "add": [_as_in(r.key, r.destinations, r.enabled, r.comment) for r in plan.add],
        "change": [
            {
                "id": c.alias.pk,
                "key": c.alias.key,
                "before": {
                    name: ([d for d in c.alias.destinations.split(", ") if d] if name == "destinations"
                           else getattr(c.alias, name))
                    for name in c.fields
                },
                "after": {
                    name: ([d for d in str(value).split(", ") if d] if name == "destinations" else value)
                    for name, value in c.fields.items()
                },
            }
            for c in plan.change
        ],
        "remove": [alias_out(a, domain_name) for a in plan.remove],
        "unchanged": plan.unchanged,
    }


@router.put(
    "/domains/{name}/aliases",
    response=answers({200: DesiredDiff}, 403, 404, 409, 422),
    tags=TAGS,
    summary="Make the domain hold exactly this set of aliases (idempotent; dry_run=true only answers the diff)",
)
def alias_set(request: HttpRequest, name: str, payload: DesiredSet, dry_run: bool = False) -> dict[str, Any]:
    domain = domain_for(request, name, write=not dry_run)
    items = [NewAlias(a.key, a.destinations, a.enabled, a.comment) for a in payload.aliases]
    plan = plan_desired(domain, items) if dry_run else apply_desired(domain, items, user=user_of(request))
    return _diff(plan, domain.name, dry_run)

