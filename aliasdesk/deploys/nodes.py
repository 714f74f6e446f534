"""Agent mode: the mail hosts (nodes) that carry each map, the deploy queue, and what each
node has installed.

With ALIASDESK_DEPLOY_MODE=agent the web, the API and ``aliasdesk deploy`` never touch map
files: ``queue_deploy`` records one queued Deploy per node that carries the domain (a
domain that names no nodes is carried by every node), and ``aliasdesk agent`` on each node
applies them with the same engine (see ``deploys.agent``). A node keeps its own copy of
the domain's deployed serial, hash and table stamp (``NodeMap``): its files are its own.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.models import Deploy, Node, NodeMap

NOTIFY_CHANNEL = "aliasdesk_deploy"


def agent_mode() -> bool:
    return bool(settings.DEPLOY_MODE == "agent")


def carriers(domain: Domain) -> list[str]:
    """The nodes that carry the domain's map: those it names, else every known node."""
    return domain.node_names or list(Node.objects.order_by("name").values_list("name", flat=True))


def carries(node: str, domain: Domain) -> bool:
    return not domain.node_names or node in domain.node_names


def ensure_nodes(names: list[str]) -> None:
    """Nodes named for a domain exist before their agents first report."""
    for name in names:
        Node.objects.get_or_create(name=name)


@dataclass
class Queued:
    """What ``queue_deploy`` did: the nodes it queued for (or found queued already)."""

    nodes: list[str]
    deploy_ids: list[int]

    @property
    def message(self) -> str:
        if not self.nodes:
            return _("queued; no agent has reported yet: start `aliasdesk agent` on each mail host")
        return _("queued for %(nodes)s") % {"nodes": ", ".join(self.nodes)}


def queue_deploy(
    domain: Domain, *, user: User | None = None, force: bool = False, nodes: list[str] | None = None
) -> Queued:
    """Queue a deploy of the domain for each node that carries it (or for ``nodes``).

    A deploy already waiting for a node takes this request in (one deploy per domain and
    node, the latest requester, forced if any request was); one an agent has claimed is
    left alone, so a change made meanwhile still gets its own deploy. With no node known at
    all, one deploy waits for the first agent (node ``""``).
    """
    targets = nodes if nodes is not None else carriers(domain)
    ids = []
    with transaction.atomic():
        locked = Domain.objects.select_for_update().get(pk=domain.pk)
        for node in targets or [""]:
            waiting = (
                Deploy.objects.filter(domain=locked, node=node, status=Deploy.Status.QUEUED, claimed_by="")
                .order_by("id")
                .first()
            )
            if waiting is not None:
                waiting.user = user or waiting.user
                waiting.forced = waiting.forced or force
                waiting.serial = locked.serial
                waiting.save(update_fields=["user", "forced", "serial"])
                ids.append(waiting.pk)
            else:
                created = Deploy.objects.create(
                    domain=locked, user=user, node=node, forced=force, serial=locked.serial, status=Deploy.Status.QUEUED
                )
                ids.append(created.pk)
        notify(targets)
    return Queued(list(targets), ids)


def notify(nodes: list[str]) -> None:
    """Wake the agents (PostgreSQL's NOTIFY, sent when the transaction commits); others poll."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, " ".join(nodes)])


def forget_node(name: str) -> int:
    """A host that is gone for good: its record, what it installed, and its queue go, and each
    domain it carried counts as deployed as far as the remaining hosts have come. A domain
    that names it keeps the name (its settings say so) until an admin changes them."""
    node = Node.objects.filter(name=name).first()
    if node is None:
        raise LookupError(f"no node {name}")
    with transaction.atomic():
        waiting = Deploy.objects.filter(node=name, status=Deploy.Status.QUEUED)
        gone = {"status": Deploy.Status.FAILED, "error": f"node {name} was forgotten", "finished_at": timezone.now()}
        dropped = waiting.update(**gone)
        node.delete()
        for domain in Domain.objects.filter(deleted_at__isnull=True):
            if name not in domain.node_names:
                _recount(domain)
    return dropped


# -- what a node has installed --------------------------------------------------------------


def load_installed(domain: Domain, node: str) -> None:
    """Put the node's deployed state on ``domain`` where the engine reads the domain's own.

    A node that never deployed the map starts from the content hash of the last deploy
    anywhere (an unchanged file left by an inline deploy is not a hand edit) and no table
    stamp (its first deploy builds the whole map).
    """
    row = NodeMap.objects.filter(node__name=node, domain=domain).values_list(
        "deployed_serial", "deployed_sha256", "deployed_table"
    ).first()
    serial, sha, table = row if row is not None else (0, domain.deployed_sha256, "")
    domain.deployed_serial, domain.deployed_sha256, domain.deployed_table = serial, sha, table


def save_installed(domain: Domain, node: str, **fields: object) -> None:
    """Record what the node installed; the domain counts as deployed as far as every node
    that carries it has come."""
    target, _ = Node.objects.get_or_create(name=node)
    NodeMap.objects.update_or_create(node=target, domain=domain, defaults=fields)
    _recount(domain)


def _recount(domain: Domain) -> None:
    names = carriers(domain)
    reached = NodeMap.objects.filter(domain=domain, node__name__in=names)
    lowest = reached.aggregate(low=Min("deployed_serial"))["low"] or 0
    if reached.count() < len(names):
        lowest = 0
    Domain.objects.filter(pk=domain.pk).update(deployed_serial=lowest)


# -- what the pages show -------------------------------------------------------------------


ALIVE_AFTER = 3  # heartbeats missed before a node counts as down


def heartbeat_seconds() -> float:
    return float(settings.AGENT_HEARTBEAT_SECONDS)


def is_alive(node: Node, now: datetime.datetime | None = None) -> bool:
    if node.last_seen is None:
        return False
    limit = datetime.timedelta(seconds=ALIVE_AFTER * settings.AGENT_HEARTBEAT_SECONDS)
    return (now or timezone.now()) - node.last_seen <= limit


@dataclass
class NodeState:
    node: Node
    alive: bool
    queued: int
    last_deploy: Deploy | None


def node_states() -> list[NodeState]:
    """Each node: alive or not, how many deploys wait for it, its last finished deploy."""
    now = timezone.now()
    states = []
    for node in Node.objects.order_by("name"):
        queued = Deploy.objects.filter(node=node.name, status=Deploy.Status.QUEUED).count()
        last = (
            Deploy.objects.filter(node=node.name, finished_at__isnull=False)
            .select_related("domain")
            .order_by("-id")
            .first()
        )
        states.append(NodeState(node, is_alive(node, now), queued, last))
    return states


@dataclass
class DomainOnNode:
    node: str
    state: str  # current, behind, queued, running, failed, never
    deploy: Deploy | None


def domain_on_nodes(domain: Domain) -> list[DomainOnNode]:
    """Per node that carries the domain: is its map current, queued, running or failed?"""
    installed = dict(NodeMap.objects.filter(domain=domain).values_list("node__name", "deployed_serial"))
    rows = []
    for node in carriers(domain):
        latest = Deploy.objects.filter(domain=domain, node=node).order_by("-id").first()
        if latest is not None and latest.status in (Deploy.Status.QUEUED, Deploy.Status.RUNNING):
            state = latest.status
        elif latest is not None and latest.status == Deploy.Status.FAILED:
            state = "failed"
        elif node not in installed:
            state = "never"
        else:
            state = "current" if installed[node] == domain.serial else "behind"
        rows.append(DomainOnNode(node, state, latest))
    return rows
