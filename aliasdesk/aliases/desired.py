"""Make a domain hold exactly a desired set of aliases (configuration management).

The caller gives every alias the domain should have (key, destinations, enabled, comment);
``plan_desired`` compares it with the live aliases by key (as Postfix compares: folded), and
``apply_desired`` makes the changes through the ordinary services: ``update_alias`` for a
changed alias, ``bulk_change`` ("delete", to the trash) for one missing from the set, and
``bulk_add.add_aliases`` for new ones. All in one transaction: one refusal (permission,
key ownership, limits, a stale row) and nothing is written. A set the domain holds already
writes nothing at all: no history, no serial bump, so no deploy.

Why not the importer's ``replace`` mode: it takes a whole map file (the header and footer
with it) and counts every run as a change of the map (its serial moves even when nothing
differs), which is right for an import and wrong for a tool that sends the same set every
few minutes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User
from aliasdesk.aliases.bulk_add import BulkRefused, CleanAlias, ItemProblem, NewAlias, add_aliases, clean_new_aliases
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import require_editor
from aliasdesk.aliases.services import bulk_change, update_alias

REASON = "desired set"
FIELDS = ("key", "destinations", "enabled", "comment")


@dataclass(frozen=True)
class Change:
    alias: Alias
    wanted: CleanAlias

    @property
    def fields(self) -> dict[str, object]:
        """The fields that differ, with their wanted values."""
        return {
            name: getattr(self.wanted, name)
            for name in FIELDS
            if getattr(self.alias, name) != getattr(self.wanted, name)
        }


@dataclass
class Plan:
    """What applying the set does: aliases to add, to change, to remove (to the trash)."""

    add: list[CleanAlias] = field(default_factory=list)
    change: list[Change] = field(default_factory=list)
    remove: list[Alias] = field(default_factory=list)
    unchanged: int = 0
    add_positions: list[int] = field(default_factory=list)  # where each of ``add`` is in the set

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.remove)


def plan_desired(domain: Domain, items: list[NewAlias]) -> Plan:
    """The difference between the domain's live aliases and ``items``; BulkRefused when an
    item is not valid (its key, destinations or comment) or a key comes twice."""
    clean, problems = clean_new_aliases(domain, items)
    positions = [i for i in range(len(items)) if not any(p.index == i for p in problems)]
    seen: dict[str, int] = {}
    for position, row in zip(positions, clean, strict=True):
        first = seen.setdefault(row.key.lower(), position)
        if first != position:
            problems.append(ItemProblem(position, "key", _("{key} is item {index} already: give each key once").format(
                key=row.key, index=first)))
    if problems:
        raise BulkRefused(sorted(problems, key=lambda p: p.index))
    existing: dict[str, Alias | None] = {}
    extra: list[Alias] = []
    for alias in Alias.objects.filter(domain=domain, deleted_at__isnull=True).select_related("domain").order_by("id"):
        # Of two live aliases with one key (an imported duplicate), the first is the one Postfix uses.
        if alias.key_folded in existing:
            extra.append(alias)
        else:
            existing[alias.key_folded] = alias
    plan = Plan()
    for position, row in zip(positions, clean, strict=True):
        held = existing.pop(row.key.lower(), None)
        if held is None:
            plan.add.append(row)
            plan.add_positions.append(position)
        elif all(getattr(held, name) == getattr(row, name) for name in FIELDS):
            plan.unchanged += 1
        else:
            plan.change.append(Change(held, row))
    plan.remove = sorted([*(a for a in existing.values() if a is not None), *extra], key=lambda a: a.pk)
    return plan


@transaction.atomic
def apply_desired(domain: Domain, items: list[NewAlias], *, user: User | None) -> Plan:
    """Make the domain hold exactly ``items``; the plan that was applied. All or nothing."""
    require_editor(user, domain)
    plan = plan_desired(domain, items)
    if plan.empty:
        return plan
    # Serializes with other writers of the domain before anything is compared again.
    Domain.objects.select_for_update().filter(pk=domain.pk).values_list("pk", flat=True).get()
    plan = plan_desired(domain, items)
    if plan.remove:
        bulk_change(domain, [a.pk for a in plan.remove], "delete", user=user)
    for change in plan.change:
        update_alias(change.alias, version=change.alias.version, user=user, reason=REASON, **change.fields)
    if plan.add:
        try:
            new = [NewAlias(r.key, r.destinations, r.enabled, r.comment) for r in plan.add]
            add_aliases(domain, new, user=user, reason=REASON)
        except BulkRefused as refused:  # its items counted among the additions: say where they are in the set
            where = plan.add_positions
            raise BulkRefused(
                [dataclasses.replace(p, index=where[p.index]) if p.index >= 0 else p for p in refused.problems]
            ) from refused
    return plan
