"""The managed maps as one lookup table, for "where does this address go?"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aliasdesk.aliases.aliasdomains import generated_lines, map_entries
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import lookup_order
from aliasdesk.postfix.maps.keys import ascii_domain
from aliasdesk.postfix.maps.resolve import AliasTable, Resolution
from aliasdesk.postfix.maps.virtual import Entry, parse_virtual


def domain_entries(domain: Domain) -> list[Entry]:
    """What the domain's deployed map holds: header entries, aliases (an alias domain's
    generated lines), footer entries."""
    if domain.alias_of_id is None:
        return map_entries(domain)
    entries = parse_virtual(domain.header).entries if domain.header else []
    entries += [Entry(key, value, True) for key, value in generated_lines(domain)]
    if domain.footer:
        entries += parse_virtual(domain.footer).entries
    return entries


def alias_domain_names(domains: Iterable[Domain]) -> list[str]:
    """The alias domains among ``domains``, in both spellings: Postfix rejects their unknown addresses."""
    names = {d.name for d in domains if d.alias_of_id is not None}
    return sorted(names | {ascii_domain(n) for n in names})


def in_lookup_order(domains: Iterable[Domain]) -> list[Domain]:
    """Maps in the order Postfix consults them (virtual_alias_maps, else by name)."""
    domains = list(domains)
    order = lookup_order(domains)
    return sorted(domains, key=lambda d: order[d.pk])


def managed_table(domains: Iterable[Domain] | None = None) -> tuple[AliasTable, list[Domain]]:
    """The maps (all live domains by default) as one table, in Postfix's lookup order."""
    maps = in_lookup_order(Domain.objects.filter(deleted_at__isnull=True) if domains is None else domains)
    return AliasTable([domain_entries(d) for d in maps]), maps


@dataclass(frozen=True)
class HiddenAnswer:
    """A map the reader cannot see answers a query of their lookup too."""

    query: str
    map_name: str
    first: bool  # Postfix consults the hidden map before the map that answered for the reader
    shown_answered: bool  # one of the reader's maps answered the query as well


def hidden_answers(resolution: Resolution, shown: list[Domain]) -> list[HiddenAnswer]:
    """Which maps outside ``shown`` answer the lookups of the typed address, without their values.

    Only the queries for the address itself (depth 0) count: those are what the reader's
    domain promises to answer.
    """
    queries = {s.query.lower(): s for s in resolution.steps if s.depth == 0}
    if not queries:
        return []
    shown_ids = {d.pk for d in shown}
    hidden = Domain.objects.filter(deleted_at__isnull=True).exclude(pk__in=shown_ids)
    found: dict[str, int] = {}
    rows = Alias.objects.filter(
        key_folded__in=list(queries), enabled=True, deleted_at__isnull=True, domain__in=hidden
    ).values_list("key_folded", "domain_id")
    for key, domain_id in rows:
        found.setdefault(key, domain_id)
    for domain in hidden.exclude(header="", footer=""):
        for text in (domain.header, domain.footer):
            for entry in parse_virtual(text).entries if text else []:
                if entry.enabled and entry.key.lower() in queries:
                    found.setdefault(entry.key.lower(), domain.pk)
    for domain in hidden.filter(alias_of__isnull=False):  # their lines are no rows
        for key, _value in generated_lines(domain):
            if key.lower() in queries:
                found.setdefault(key.lower(), domain.pk)
    if not found:
        return []
    maps = {d.pk: d for d in Domain.objects.filter(pk__in=set(found.values()))}
    order = lookup_order([*shown, *maps.values()])
    answers = []
    for query, domain_id in sorted(found.items()):
        step = queries[query]
        other = maps[domain_id]
        answered = step.hit and step.map_index is not None and step.map_index < len(shown)
        first = not answered or order[domain_id] < order[shown[step.map_index].pk]  # type: ignore[index]
        answers.append(HiddenAnswer(step.query, other.name, first, answered))
    return answers
