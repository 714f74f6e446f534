"""Aliases as the command line addresses them: by key (letter case aside) or ``#ID``.

``aliasdesk alias ...`` finds domains and aliases here, as the user it acts as may see
them, and changes them only through the services (``create_alias``, ``update_alias``,
``bulk_change``), which check rights, keys, input policy and limits and write history.
What it prints, as lines or JSON, is shaped here too, so a script sees the same fields
whichever subcommand answered.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import AliasQuery, search_aliases
from aliasdesk.aliases.services import bulk_change, normalize_domain_name, update_alias
from aliasdesk.postfix.maps.virtual import split_destinations

SWITCHES = {"enable": "switched on", "disable": "switched off", "delete": "moved to trash", "restore": "restored"}


def find_domain(user: User | None, name: str) -> Domain:
    """The live domain called ``name`` if ``user`` may see it (None: the administrator);
    otherwise "no domain", as the web's 404 says nothing of domains one may not see."""
    try:
        folded = normalize_domain_name(name)
    except AliasError:
        folded = name.strip().lower()
    domains = Domain.objects.filter(deleted_at__isnull=True) if user is None else visible_domains(user)
    domain = domains.filter(name=folded).first()
    if domain is None:
        raise AliasError(_("no domain {name}").format(name=name))
    return domain


def find_alias(domain: Domain, ref: str, *, deleted: bool = False) -> Alias:
    """The alias ``ref`` names: ``#ID`` (live or in the trash) or a key, among the live
    aliases, or with ``deleted`` among those in the trash."""
    ref = ref.strip()
    rows = Alias.objects.filter(domain=domain).select_related("domain", "updated_by")
    if ref.startswith("#"):
        found = rows.filter(pk=int(ref[1:])).first() if ref[1:].isdigit() else None
        if found is None:
            raise AliasError(_("{domain} has no alias {ref}").format(domain=domain.name, ref=ref))
        return found
    matches = list(rows.filter(key_folded=ref.lower(), deleted_at__isnull=not deleted)[:2])
    if not matches:
        if deleted:
            raise AliasError(_("no alias {ref} in the trash of {domain}").format(ref=ref, domain=domain.name))
        raise AliasError(_("no alias {ref} in {domain}").format(ref=ref, domain=domain.name))
    if len(matches) > 1:
        raise AliasError(_(
            "several aliases {ref} are in the trash of {domain}: name one by #ID (alias list --deleted)"
        ).format(ref=ref, domain=domain.name))
    return matches[0]


def list_aliases(domain: Domain, text: str = "", *, deleted: bool = False) -> Iterator[Alias]:
    """The web grid's search (every word in key, destinations or comment), in file order."""
    query = AliasQuery(q=text.strip()[:200], filter="deleted" if deleted else "all")
    return search_aliases(domain, query).select_related("updated_by").iterator(chunk_size=2000)


def parse_date(text: str) -> datetime.date | None:
    """``--valid-until``: an ISO date (2025-12-31), or ``none`` for no end."""
    if text.strip().lower() in ("none", ""):
        return None
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise AliasError(_("{text} is not a date: write YYYY-MM-DD, or none").format(text=repr(text)),
                         "valid_until") from exc


def edited_destinations(alias: Alias, add: Sequence[str], remove: Sequence[str]) -> list[str]:
    """The alias's destinations with ``remove`` taken out (each must be there) and ``add`` appended."""
    current = split_destinations(alias.destinations)
    for gone in remove:
        folded = [d.lower() for d in current]
        if gone.strip().lower() not in folded:
            raise AliasError(_("{address} is not a destination of {key}").format(address=gone, key=alias.key),
                             "destinations")
        del current[folded.index(gone.strip().lower())]
    for new in add:
        for token in split_destinations(new) or [new]:
            if token.lower() not in (d.lower() for d in current):
                current.append(token)
    return current


def edit_alias(
    alias: Alias, changes: dict[str, object], *, user: User | None, version: int | None = None
) -> Alias:
    """``update_alias`` with ``changes``, checked against ``version`` when given (else the
    version just read: the command changes what it found)."""
    if not changes:
        raise AliasError(
            _("nothing to change: give --destinations, --add-destination, --comment, --key or --valid-until"))
    version = alias.version if version is None else version
    return update_alias(alias, version=version, user=user, **changes)  # type: ignore[arg-type]


def switch_aliases(domain: Domain, refs: Sequence[str], action: str, *, user: User | None) -> tuple[int, list[Alias]]:
    """Switch on or off, delete or restore the aliases ``refs`` name, all or none (``bulk_change``);
    how many changed, and the aliases as they are now."""
    aliases = [find_alias(domain, ref, deleted=action == "restore") for ref in refs]
    ids = list(dict.fromkeys(a.pk for a in aliases))
    changed = bulk_change(domain, ids, action, user=user)
    rows = Alias.objects.filter(pk__in=ids).select_related("updated_by")
    order = {pk: n for n, pk in enumerate(ids)}
    return changed, sorted(rows, key=lambda a: order[a.pk])


def _iso(value: datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def alias_record(alias: Alias) -> dict[str, Any]:
    """An alias as ``--json`` prints it (the API's field names: id, key, destinations, ...)."""
    return {
        "id": alias.pk,
        "key": alias.key,
        "destinations": split_destinations(alias.destinations),
        "enabled": alias.enabled,
        "comment": alias.comment,
        "valid_until": _iso(alias.valid_until),
        "version": alias.version,
        "deleted": alias.deleted_at is not None,
        "deleted_at": _iso(alias.deleted_at),
        "updated_at": _iso(alias.updated_at),
        "updated_by": alias.updated_by.username if alias.updated_by else None,
    }


def _cell(text: str) -> str:
    """A field in a tab-separated line: backslash, tab and line ends written as escapes."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def alias_line(alias: Alias) -> str:
    """key, destinations, on/off, comment, version, valid until, #id; tab-separated."""
    return "\t".join(
        [
            _cell(alias.key),
            _cell(alias.destinations),
            "on" if alias.enabled else "off",
            _cell(alias.comment),
            str(alias.version),
            _iso(alias.valid_until) or "-",
            f"#{alias.pk}",
        ]
    )
