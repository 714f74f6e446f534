"""``aliasdesk agent``: applies the deploys queued for this node, as the user that owns the maps.

Each round: report alive (heartbeat), take back what a killed agent of this host left
half done, switch off expired aliases of the domains this node carries (their deploys are
queued), then claim queued deploys one by one and run each through the same engine as an
inline deploy, at the domain's map path on this host. With PostgreSQL the agent sleeps
until a NOTIFY wakes it; with other databases it polls (ALIASDESK_AGENT_POLL_SECONDS).

After its deploys, each round sends the webhook deliveries that are due (aliasdesk.webhooks;
ALIASDESK_AGENT_WEBHOOKS=0 leaves them to ``aliasdesk webhooks``).

Claiming is one conditional UPDATE, so two agents of one node never take the same deploy;
two deploys of one map on one host wait for each other on the engine's map lock. A deploy
is marked running only under that lock, so a running deploy whose agent is gone was
interrupted: it is recorded as such and queued again.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.deploys import nodes
from aliasdesk.deploys.engine import INTERRUPTED, DeployResult, MapDeploy, save_outcome
from aliasdesk.deploys.models import Deploy, Node, NodeMap
from aliasdesk.deploys.signals import agent_round

EXPIRY_EVERY = 60.0  # seconds between looks for expired aliases
LIVE_CHECK_EVERY = 300.0  # seconds between repairs and checks of the lookup table (postfix-config)


def agent_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead(claimed_by: str) -> bool:
    """Whether the agent that claimed a deploy is gone (only agents of this host can be told)."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, as another user
        return False
    return False


class Agent:
    def __init__(self, node: str, report: Callable[[str], None] = print) -> None:
        self.node, self.report = node, report
        self.me = agent_id()
        self.stopping = False
        self.last_heartbeat = 0.0
        self.last_expiry = 0.0
        self.last_live_check = 0.0
        self._listener: Any = None
        # A long-running agent keeps spares of big maps for the next patch, as the web does
        # (deploys.standby); ``--once`` leaves nothing running behind it.
        self.background = False

    # -- one round -------------------------------------------------------------------------

    def round(self) -> int:
        """Heartbeat, recovery, expiry, then every deploy queued for this node. Returns how many ran."""
        self.heartbeat()
        self.recover()
        self.expire()
        self.check_live_maps()
        done = 0
        while not self.stopping:
            deploy = self.claim()
            if deploy is None:
                break
            self.apply(deploy)
            done += 1
        if not self.stopping:
            agent_round.send(sender=Agent, agent=self)  # webhook deliveries, when installed
        return done

    def heartbeat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_heartbeat < settings.AGENT_HEARTBEAT_SECONDS:
            return
        self.last_heartbeat = now
        node, created = Node.objects.get_or_create(name=self.node)
        seen = timezone.now()
        Node.objects.filter(pk=node.pk).update(last_seen=seen, agent=self.me, first_seen=node.first_seen or seen)
        if created or node.first_seen is None:
            self.adopt()
        else:
            self.catch_up()

    def adopt(self) -> None:
        """A node that reports for the first time takes the deploys that waited for any node,
        and catches up on the maps it carries."""
        Deploy.objects.filter(node="", status=Deploy.Status.QUEUED, claimed_by="").update(node=self.node)
        self.catch_up()

    def catch_up(self) -> None:
        """Queue the maps this node carries that were deployed or queued for other nodes and
        never for it: those deployed before it joined, and one queued at the moment it joined
        (the deploy's list of nodes was read just before this node's row existed). Asked at
        every heartbeat, in one query; a map this node ever had a deploy of is left alone."""
        others = Deploy.objects.exclude(node=self.node).values("domain_id")
        mine = Deploy.objects.filter(node=self.node).values("domain_id")
        installed = NodeMap.objects.filter(node__name=self.node).values("domain_id")
        missing = (
            Domain.objects.filter(deleted_at__isnull=True, pk__in=others)
            .exclude(pk__in=mine)
            .exclude(pk__in=installed)
            .order_by("name")
        )
        for domain in missing:
            if nodes.carries(self.node, domain):
                nodes.queue_deploy(domain, nodes=[self.node])

    def recover(self) -> None:
        """Deploys of this node left by an agent that is gone: a claim is released; a running
        deploy is recorded as interrupted (its files are what the engine's next run sorts out)
        and queued again."""
        mine = Deploy.objects.filter(node=self.node).exclude(claimed_by="").exclude(claimed_by=self.me)
        for deploy in mine.filter(status__in=[Deploy.Status.QUEUED, Deploy.Status.RUNNING]).select_related("domain"):
            if not _dead(deploy.claimed_by):
                continue
            if deploy.status == Deploy.Status.QUEUED:
                Deploy.objects.filter(pk=deploy.pk, claimed_by=deploy.claimed_by).update(claimed_by="")
                continue
            gone = Deploy.objects.filter(pk=deploy.pk, status=Deploy.Status.RUNNING).update(
                status=Deploy.Status.FAILED, error=INTERRUPTED, finished_at=timezone.now()
            )
            if gone:
                self.report(f"{deploy.domain.name}: deploy {deploy.pk} was interrupted (agent gone); queued again")
                nodes.queue_deploy(deploy.domain, user=deploy.user, force=deploy.forced, nodes=[self.node])

    def expire(self) -> None:
        """Switch off expired aliases where this node applies the deploys (every mode expires:
        inline, the deploy timer does it) and queue their deploys."""
        now = time.monotonic()
        if now - self.last_expiry < EXPIRY_EVERY:
            return
        self.last_expiry = now
        from aliasdesk.aliases.services import expire_aliases

        due = set(
            Alias.objects.filter(enabled=True, deleted_at__isnull=True, valid_until__lt=timezone.localdate())
            .order_by()
            .values_list("domain_id", flat=True)
            .distinct()
        )
        for domain in Domain.objects.filter(pk__in=due, deleted_at__isnull=True):
            if nodes.carries(self.node, domain) and expire_aliases(domain):
                nodes.queue_deploy(domain)

    def check_live_maps(self) -> None:
        """Where Postfix reads the aliases from the database (postfix-config), the table is
        repaired and the deploy's checks run on the live maps now and then, as
        ``postfix-config --sync`` from a timer does; nothing when the table is not in use."""
        now = time.monotonic()
        if now - self.last_live_check < LIVE_CHECK_EVERY:
            return
        self.last_live_check = now
        from aliasdesk.aliases.virtual_table import sync_all
        from aliasdesk.deploys.live_checks import check_live_maps

        if sync_all() is not None:
            for check in check_live_maps():
                if check.errors:
                    self.report(f"{check.domain.name}: {len(check.errors)} error(s) in the live map")

    def claim(self) -> Deploy | None:
        """The oldest deploy waiting for this node, now ours (or None)."""
        waiting = Deploy.objects.filter(node=self.node, status=Deploy.Status.QUEUED, claimed_by="").order_by("id")
        for pk in waiting.values_list("pk", flat=True)[:20]:
            if Deploy.objects.filter(pk=pk, status=Deploy.Status.QUEUED, claimed_by="").update(claimed_by=self.me):
                return Deploy.objects.select_related("domain", "user").get(pk=pk)
        return None

    def apply(self, deploy: Deploy) -> DeployResult:
        domain = deploy.domain
        if domain.deleted_at is not None:
            deploy.status, deploy.error = Deploy.Status.FAILED, "the domain was deleted"
            deploy.finished_at = timezone.now()
            save_outcome(deploy)
            return DeployResult(domain.name, Deploy.Status.FAILED, deploy.error, deploy_id=deploy.pk)
        run = MapDeploy(
            domain,
            user=deploy.user,
            dry_run=False,
            force=deploy.forced,
            record_noop=True,
            background=self.background,
            node=self.node,
            record=deploy,
        )
        result = run.run()
        took = result.timings.get("total")
        extra = f" in {took:.2f} s" if took else ""
        self.report(f"{domain.name}: {result.status}{extra}" + (f": {result.message}" if not result.ok else ""))
        return result

    # -- waiting ---------------------------------------------------------------------------

    def listen(self) -> None:
        """With PostgreSQL: a connection of its own that LISTENs for queued deploys."""
        if connection.vendor != "postgresql" or self._listener is not None:
            return
        wrapper = connections.create_connection("default")
        wrapper.ensure_connection()
        raw = wrapper.connection
        raw.autocommit = True
        raw.execute(f"LISTEN {nodes.NOTIFY_CHANNEL}")
        self._listener = wrapper

    def wait(self) -> None:
        """Until a deploy may be waiting: a NOTIFY for this node, or the poll interval."""
        timeout = settings.AGENT_POLL_SECONDS
        if self._listener is None:
            time.sleep(timeout)
            return
        raw = self._listener.connection
        timeout = max(timeout, min(5.0, settings.AGENT_HEARTBEAT_SECONDS))
        try:
            for note in raw.notifies(timeout=timeout):
                names = note.payload.split()
                if not names or self.node in names:
                    return
        except DatabaseError:
            self._drop_listener()
            time.sleep(settings.AGENT_POLL_SECONDS)

    def _drop_listener(self) -> None:
        if self._listener is not None:
            with suppress(DatabaseError):
                self._listener.close()
            self._listener = None

    # -- the loop ----------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Rounds until SIGTERM or SIGINT (the deploy in hand is finished first)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        self.background = True
        self.report(f"agent {self.me} for node {self.node}: waiting for deploys")
        while not self.stopping:
            try:
                close_old_connections()  # a connection the server dropped meanwhile is opened again
                self.listen()
                self.round()
            except DatabaseError as exc:  # the database went away: try again soon
                self.report(f"database error: {exc}; retrying")
                self._drop_listener()
                connections.close_all()
                time.sleep(min(5.0, 5 * settings.AGENT_POLL_SECONDS))
                continue
            if not self.stopping:
                self.wait()
        self._drop_listener()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True


__all__ = ["Agent", "agent_id"]
