"""The managed maps as one lookup table, for "where does this address go?"."""

from __future__ import annotations

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.postfix.resolve import AliasTable
from aliasdesk.postfix.virtual import Entry, parse_virtual


def domain_entries(domain: Domain) -> list[Entry]:
    """What the domain's deployed map holds: header entries, aliases, footer entries."""
    rows = (
        Alias.objects.filter(domain=domain, deleted_at__isnull=True, enabled=True)
        .order_by("id")
        .values_list("key", "destinations")
    )
    entries = parse_virtual(domain.header).entries if domain.header else []
    entries += [Entry(key, value, True) for key, value in rows]
    if domain.footer:
        entries += parse_virtual(domain.footer).entries
    return entries


def managed_table() -> tuple[AliasTable, list[str]]:
    """All live domains' maps, in name order (the order they are listed in virtual_alias_maps)."""
    domains = list(Domain.objects.filter(deleted_at__isnull=True).order_by("name"))
    return AliasTable([domain_entries(d) for d in domains]), [d.name for d in domains]
