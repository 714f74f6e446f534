"""The managed maps against the real Postfix configuration (``postconf``), for deploys,
``aliasdesk check`` and "Where does it go?".

The Postfix knowledge lives in ``aliasdesk.postfix.maps.postconf``; this module only
knows where the configuration is (ALIASDESK_POSTFIX_CONFIG_DIR, else /etc/postfix) and
which maps aliasdesk manages. Without a readable main.cf (a workstation, a demo) there is
nothing to compare with, and nothing is reported.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from aliasdesk.aliases.models import Domain, MailDomain
from aliasdesk.postfix.maps.keys import ascii_domain
from aliasdesk.postfix.maps.mailboxes import Mailboxes, catchall_mailboxes
from aliasdesk.postfix.maps.postconf import ManagedMap, PostfixConfig, fit_findings, read_config, table_lookup
from aliasdesk.postfix.maps.postmap import Postmap
from aliasdesk.postfix.maps.validate import Finding
from aliasdesk.postfix.maps.virtual import Entry


def postconf_program() -> str:
    """postconf beside the configured postmap (same installation), else on PATH."""
    postmap = Path(shutil.which(settings.POSTMAP) or settings.POSTMAP)
    postconf = postmap.with_name("postconf")
    return str(postconf) if postconf.exists() else "postconf"


def postfix_config() -> PostfixConfig | None:
    """Postfix's configuration as aliasdesk reads it (kept until main.cf changes), or None."""
    return read_config(postconf_program(), settings.POSTFIX_CONFIG_DIR)


def postfix_postmap() -> Postmap:
    return Postmap(program=settings.POSTMAP, config_dir=settings.POSTFIX_CONFIG_DIR)


def managed_maps(domains: Iterable[Domain] | None = None) -> list[ManagedMap]:
    """The live maps (or ``domains``) with their mail domains, in both spellings."""
    maps = list(Domain.objects.filter(deleted_at__isnull=True) if domains is None else domains)
    owned: dict[int, list[str]] = {}
    for name, domain_id in MailDomain.objects.filter(domain__in=maps).values_list("name", "domain_id"):
        owned.setdefault(domain_id, []).append(name)
    return [
        ManagedMap(
            d.name,
            d.map_type,
            str(d.map_path),
            tuple((n, ascii_domain(n).lower()) for n in sorted(owned.get(d.pk, [d.name]))),
        )
        for d in sorted(maps, key=lambda d: d.name)
    ]


def managed_tables() -> list[ManagedMap]:
    """The live maps' tables, without their mail domains: all a map's fit needs of the others
    (a deploy of each of thousands of domains reads them, so no names are converted)."""
    rows = Domain.objects.filter(deleted_at__isnull=True).values_list("name", "map_type", "map_path")
    return [ManagedMap(name, map_type, str(path)) for name, map_type, path in rows]


@dataclass(frozen=True)
class MapFit:
    """What a deploy's validation needs from main.cf (plain data: the check runs in a thread)."""

    config: PostfixConfig | None
    postmap: Postmap
    findings: tuple[Finding, ...] = ()
    local_domains: tuple[str, ...] = ()

    def mailboxes_for(self, entries: Iterable[Entry]) -> tuple[list[str], list[Finding]]:
        """Mailbox addresses to check a few catch-alls against, and the tables that could not be listed."""
        return catchall_mailboxes(entries, self.config, self.postmap)

    def mailboxes(self) -> Mailboxes | None:
        """Every mailbox address, listed only if a whole map's validation asks (it has a catch-all)."""
        return Mailboxes(self.config, self.postmap) if self.config is not None else None


def map_fit(domain: Domain) -> MapFit:
    """How main.cf treats ``domain``'s map: findings, local domains, and the mailbox tables."""
    config, postmap = postfix_config(), postfix_postmap()
    if config is None:
        return MapFit(None, postmap)
    findings = fit_findings(config, managed_maps([domain])[0], managed_tables(), table_lookup(postmap))
    return MapFit(config, postmap, tuple(findings), tuple(config.local_domains()))


def fit_problems() -> list[tuple[str, Finding]]:
    """For ``aliasdesk check``: every managed map's findings against main.cf, with the map's name."""
    config = postfix_config()
    if config is None:
        return []
    everything = managed_maps()
    lookup = table_lookup(postfix_postmap())
    return [(m.name, f) for m in everything for f in fit_findings(config, m, everything, lookup)]
