"""What every page under a domain's tabs (aliases/_tabs.html) puts in its template context."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import can_edit
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.search import alias_counts


def domain_page_context(request: HttpRequest, domain: Domain, tab: str, **extra: Any) -> dict[str, Any]:
    """The domain, the current tab, whether the user may change its aliases (the "Add many"
    tab and the edit controls), and ``extra``."""
    return {
        "domain": domain,
        "nav": "domains",
        "tab": tab,
        # An alias domain has no aliases of its own to change (aliases/aliasdomains.py).
        "editable": domain.alias_of_id is None and can_edit(current_user(request), domain),
        **extra,
    }


def domain_status(domain: Domain, *, fresh: bool = False) -> dict[str, Any]:
    """What aliases/_domain_status.html shows, read now: the on/off counts and the changes not
    deployed (as the list of domains counts them: serials since the last good deploy).
    ``fresh``: ``domain`` was read in this request, nothing changed since (no need to read it again)."""
    if fresh:
        serial, deployed = domain.serial, domain.deployed_serial
    else:
        serial, deployed = Domain.objects.filter(pk=domain.pk).values_list("serial", "deployed_serial").get()
    return {
        "counts": alias_counts(domain, fresh=fresh),
        "status": {"never_deployed": deployed == 0, "pending": max(0, serial - deployed)},
    }
