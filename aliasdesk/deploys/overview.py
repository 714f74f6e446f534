"""Each domain's deploy state at a glance, for the list of domains.

The last deploy that did something (a no-op is not news), how many changes wait for
a deploy, and whether the map was edited by hand since aliasdesk last wrote it.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.files import edited_by_hand
from aliasdesk.deploys.models import Deploy


def with_deploy_state(domains: QuerySet[Domain]) -> list[Domain]:
    """The domains, each with ``last_deploy`` (or None), ``pending`` and ``drift`` set.

    ``pending`` is the number of changes since the last good deploy, None before the
    first one. Two queries, whatever the number of domains.
    """
    latest = Deploy.objects.filter(domain=OuterRef("pk")).exclude(status=Deploy.Status.NOOP).order_by("-id")
    listed: list[Domain] = list(domains.annotate(last_deploy_id=Subquery(latest.values("id")[:1])))
    last = Deploy.objects.only("id", "domain_id", "status", "created_at", "finished_at").in_bulk(
        [d.last_deploy_id for d in listed if d.last_deploy_id]  # type: ignore[attr-defined]
    )
    for domain in listed:
        deploy = last.get(domain.last_deploy_id)  # type: ignore[attr-defined]
        domain.last_deploy = deploy  # type: ignore[attr-defined]
        domain.pending = max(0, domain.serial - domain.deployed_serial) if domain.deployed_serial else None  # type: ignore[attr-defined]
        # Only a deploy that wrote the map says the file is as aliasdesk left it: after a
        # failed one (one refused for this very drift) the file is hashed.
        wrote = deploy.finished_at if deploy and deploy.status == Deploy.Status.OK else None
        domain.drift = edited_by_hand(domain, wrote)  # type: ignore[attr-defined]
    return listed


def postmap_missing() -> str:
    """Why this host cannot deploy (postmap absent), "" when it can or when agents deploy."""
    from django.conf import settings

    from aliasdesk.deploys.nodes import agent_mode
    from aliasdesk.postfix.maps.postmap import missing_program

    return "" if agent_mode() else missing_program(settings.POSTMAP)
