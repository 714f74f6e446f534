"""``aliasdesk check``: the keys that break the ownership rule today, for an admin to settle.

A Django system check that needs the database, registered by the ``check`` command only:
``migrate`` and the other commands run the system checks too, and must not stop on a
conflict an admin has yet to settle.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core import checks
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.aliases.models import Alias, Domain, MailDomain, OwnershipConflict
from aliasdesk.aliases.postfix_fit import fit_problems, postfix_config, postfix_postmap
from aliasdesk.postfix.maps.expansion import last_at, listed_names
from aliasdesk.postfix.maps.keys import mail_domain
from aliasdesk.postfix.maps.mailboxes import catchall_mailboxes
from aliasdesk.postfix.maps.virtual import Entry, parse_virtual

SHOWN_KEYS = 5


def key_domains_by_map() -> dict[int, dict[str, list[str]]]:
    """For every live map, the mail domains of its live keys (header and footer included) and those keys."""
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = (
        Alias.objects.filter(deleted_at__isnull=True, domain__deleted_at__isnull=True)
        .order_by()
        .values_list("domain_id", "key")
    )
    for domain_id, key in rows.iterator(chunk_size=5000):
        at = key.rfind("@") if '"' not in key else last_at(key)
        if at >= 0:
            found[domain_id][mail_domain(key[at + 1 :])].append(key)
    for domain in Domain.objects.filter(deleted_at__isnull=True).exclude(header="", footer=""):
        for text in (domain.header, domain.footer):
            for entry in parse_virtual(text).entries if text else []:
                at = last_at(entry.key)
                if entry.enabled and at >= 0:
                    found[domain.pk][mail_domain(entry.key[at + 1 :])].append(entry.key)
    return found


def ownership_problems() -> list[checks.CheckMessage]:
    """Conflicts (one mail domain's keys in two maps) and keys no rule allows; settled conflicts go."""
    owner = dict(MailDomain.objects.values_list("name", "domain_id"))
    names = dict(Domain.objects.values_list("pk", "name"))
    tolerated = set(OwnershipConflict.objects.values_list("domain_id", "mail_domain"))
    messages: list[checks.CheckMessage] = []
    held = key_domains_by_map()
    for domain_id, by_domain in sorted(held.items(), key=lambda item: names.get(item[0], "")):
        for name, keys in sorted(by_domain.items()):
            owner_id = owner.get(name)
            if owner_id == domain_id:
                continue
            values = {"map": names[domain_id], "count": len(keys), "name": name,
                      "keys": listed_names(keys, SHOWN_KEYS), "owner": names.get(owner_id or 0, "?")}
            if (domain_id, name) in tolerated:
                messages.append(checks.Warning(
                    _conflict(len(keys), bool(owner_id), tolerated=True).format(**values),
                    hint=_("delete or switch off these aliases here, or move them to their owner's map; the warning "
                           "goes once they are gone"),
                    id="aliasdesk.W001",
                ))
            else:
                messages.append(checks.Error(
                    _conflict(len(keys), bool(owner_id), tolerated=False).format(**values),
                    hint=(
                        _("delete or switch off these aliases; keys of {name} belong in its owner's map")
                        if owner_id
                        else _("add {name} to the map's mail domains (its settings), or delete these aliases")
                    ).format(name=name),
                    id="aliasdesk.E001",
                ))
    settled = [(d, n) for d, n in tolerated if n not in held.get(d, {})]
    for domain_id, name in settled:
        OwnershipConflict.objects.filter(domain_id=domain_id, mail_domain=name).delete()
    return messages


def _conflict(count: int, owned: bool, *, tolerated: bool) -> str:
    """The sentence of an ownership conflict, to be filled in (map, count, name, keys, owner)."""
    if tolerated and owned:
        return ngettext(
            "{map}: {count} key of {name} ({keys}), but the map of {owner} owns it: one mail domain's keys in two "
            "maps",
            "{map}: {count} keys of {name} ({keys}), but the map of {owner} owns it: one mail domain's keys in two "
            "maps", count)
    if tolerated:
        return ngettext(
            "{map}: {count} key of {name} ({keys}), but no map owns it: one mail domain's keys in two maps",
            "{map}: {count} keys of {name} ({keys}), but no map owns it: one mail domain's keys in two maps", count)
    if owned:
        return ngettext(
            "{map}: {count} key of {name} ({keys}), but the map of {owner} owns it: the next deploy of this map "
            "stops on it",
            "{map}: {count} keys of {name} ({keys}), but the map of {owner} owns it: the next deploy of this map "
            "stops on them", count)
    return ngettext(
        "{map}: {count} key of {name} ({keys}), but no map owns it: the next deploy of this map stops on it",
        "{map}: {count} keys of {name} ({keys}), but no map owns it: the next deploy of this map stops on them",
        count)


FIT_IDS = {
    "map-not-in-postfix": "aliasdesk.W010",
    "map-type-differs": "aliasdesk.W011",
    "unmanaged-table-first": "aliasdesk.W012",
    "domain-not-received": "aliasdesk.W013",
    "domain-check-failed": "aliasdesk.W014",
    "catchall-shadows-mailbox": "aliasdesk.W015",
    "mailboxes-not-checked": "aliasdesk.W016",
}


def postfix_fit_problems() -> list[checks.CheckMessage]:
    """The managed maps against main.cf (see aliases.postfix_fit), and catch-alls that take
    mailboxes' mail; nothing without a readable Postfix configuration."""
    messages: list[checks.CheckMessage] = [
        checks.Warning(f"{name}: {finding.message}", id=FIT_IDS.get(finding.code, "aliasdesk.W019"))
        for name, finding in fit_problems()
    ]
    config = postfix_config()
    if config is None or not config.tables("virtual_mailbox_maps"):
        return messages
    postmap = postfix_postmap()
    catchalls = Alias.objects.filter(
        deleted_at__isnull=True, enabled=True, domain__deleted_at__isnull=True, key_folded__startswith="@"
    ).select_related("domain")
    for alias in catchalls.order_by("domain__name", "id"):
        mailboxes, not_checked = catchall_mailboxes([Entry(alias.key, alias.destinations, True)], config, postmap)
        own = set(Alias.objects.filter(
            key_folded__in=[m.lower() for m in mailboxes], deleted_at__isnull=True, enabled=True
        ).values_list("key_folded", flat=True)) if mailboxes else set()
        shadowed = [m for m in mailboxes if m.lower() not in own]
        if shadowed:
            messages.append(checks.Warning(
                ngettext(
                    "{map}: catch-all {key} also takes the mail of {count} mailbox without an alias line of its own: "
                    "{listed}",
                    "{map}: catch-all {key} also takes the mail of {count} mailboxes without an alias line of their "
                    "own: {listed}",
                    len(shadowed),
                ).format(map=alias.domain.name, key=alias.key, count=len(shadowed),
                         listed=listed_names(shadowed, SHOWN_KEYS)),
                hint=_('add a line such as "{first} {first}" for each, or remove the catch-all').format(
                    first=shadowed[0]),
                id=FIT_IDS["catchall-shadows-mailbox"],
            ))
        messages += [
            checks.Warning(f"{alias.domain.name}: {f.message}", id=FIT_IDS[f.code]) for f in not_checked
        ]
    return messages


def check_postfix_fit(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not databases or "default" not in databases:
        return []
    try:
        return postfix_fit_problems()
    except DatabaseError:
        return []


def check_key_ownership(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not databases or "default" not in databases:
        return []
    try:
        return ownership_problems()
    except DatabaseError:
        return []  # not migrated yet: `aliasdesk migrate` comes first
