"""The deploy's checks, run on the live maps while Postfix reads the database directly.

With ``postfix-config`` a saved change is live at once; the write-time checks of the
services ran on it, but the checks a deploy runs on the whole map (duplicates, loops,
expansion limits, keys another map defines too) did not. ``check_live_maps`` runs them
for every map changed since its last check, plus the loops and limits that only show
across maps (an alias of one map expanding into another's), and keeps the findings in
``LiveCheck`` for the domain page. ``aliasdesk postfix-config --sync`` calls it; run that
from a timer. Nothing is checked again while no map changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from aliasdesk.aliases.lookup import domain_entries, in_lookup_order
from aliasdesk.aliases.models import Domain, LiveCheck
from aliasdesk.aliases.render import render_map
from aliasdesk.deploys.checks import MAX_FINDINGS, check_rendered
from aliasdesk.postfix.maps.validate import Finding, validate_entries
from aliasdesk.postfix.maps.virtual import Entry

# What only shows when the maps are taken together, as Postfix takes them.
ACROSS_MAPS = frozenset({"loop", "expansion-limit", "catchall-shadows-mailbox"})


def findings_across_maps(maps: list[Domain]) -> dict[int, list[Finding]]:
    """Loops and limits of all maps as one table in lookup order, by the maps whose entries they
    concern (a loop: every map it passes through). A key two maps define counts once, the
    first map's, as in Postfix."""
    entries: list[Entry] = []
    owner: dict[str, int] = {}
    for domain in maps:
        for entry in domain_entries(domain):
            if entry.enabled:
                owner.setdefault(entry.key.casefold(), domain.pk)
                entries.append(Entry(entry.key, entry.value, True, "", 0))
    found: dict[int, list[Finding]] = {}
    for finding in validate_entries(entries):
        if finding.code not in ACROSS_MAPS:
            continue
        # A loop concerns every map it passes through: each of them shows it.
        words = [finding.key, *finding.message.split()] if finding.code == "loop" else [finding.key]
        for domain_id in dict.fromkeys(owner[w] for w in (w.strip(";,:").casefold() for w in words) if w in owner):
            found.setdefault(domain_id, []).append(finding)
    return found


def _merge(own: Iterable[Finding], across: Iterable[Finding]) -> list[dict[str, object]]:
    seen: set[tuple[str, str]] = set()
    merged = []
    for finding in [*own, *across]:
        if finding.code in ACROSS_MAPS:
            if (finding.code, finding.key.casefold()) in seen:
                continue
            seen.add((finding.code, finding.key.casefold()))
        merged.append(finding.to_dict())
    return merged[:MAX_FINDINGS]


def check_live_maps(*, every: bool = False) -> list[LiveCheck]:
    """Check every map when one changed since its last live check (``every``: in any case):
    a change of one map can make a loop through another. Returns the checks made."""
    maps = in_lookup_order(Domain.objects.filter(deleted_at__isnull=True))
    checked = {c.domain_id: c.serial for c in LiveCheck.objects.all()}
    if not every and all(checked.get(d.pk) == d.serial for d in maps):
        return []
    across = findings_across_maps(maps)
    made = []
    for domain in maps:
        rendered = render_map(domain)
        own, _ = check_rendered(rendered)
        check, _ = LiveCheck.objects.update_or_create(
            domain=domain,
            defaults={
                "serial": rendered.serial,
                "checked_at": timezone.now(),
                "findings": _merge(own, across.get(domain.pk, [])),
            },
        )
        made.append(check)
    return made
