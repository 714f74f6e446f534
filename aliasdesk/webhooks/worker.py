"""Sending the outbox: ``aliasdesk webhooks [--once]`` and, between deploys, ``aliasdesk agent``.

A delivery is claimed with one conditional UPDATE (pending and due → sending, ours), so two
workers never send it twice; a claim older than ``LEASE`` (its worker died mid-send) is
given back and the delivery sent again: receivers should use ``X-Aliasdesk-Delivery`` to
drop a repeat. A failed attempt (no connection, a refused address, an answer other than
2xx, a 3xx included) is tried again after ``BACKOFF``; after the last, the delivery has
failed, and an administrator may retry it by hand.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from aliasdesk.webhooks import transport
from aliasdesk.webhooks.models import Attempt, Delivery
from aliasdesk.webhooks.signing import signature

# Seconds to wait after the 1st, 2nd, ... failed attempt; after the last one the delivery has failed.
BACKOFF = (60, 300, 1800, 7200, 43200)
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = timedelta(minutes=5)
USER_AGENT = "aliasdesk-webhooks/1"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def due(limit: int = 50) -> list[int]:
    """Ids of pending deliveries whose time has come (hooks switched off wait)."""
    rows = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now(), hook__enabled=True
    ).order_by("next_attempt_at", "id")
    return list(rows.values_list("pk", flat=True)[:limit])


def claim(pk: int, me: str) -> Delivery | None:
    """The delivery, now ours to send; None when another worker took it first."""
    now = timezone.now()
    taken = Delivery.objects.filter(pk=pk, status=Delivery.Status.PENDING, next_attempt_at__lte=now).update(
        status=Delivery.Status.SENDING, claimed_by=me, claimed_at=now
    )
    return Delivery.objects.select_related("hook").get(pk=pk) if taken else None


def release_stale() -> int:
    """Claims of workers that died while sending go back to the queue."""
    stale = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=timezone.now() - LEASE)
    return stale.update(status=Delivery.Status.PENDING, claimed_by="", claimed_at=None)


def headers_for(delivery: Delivery, when: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Aliasdesk-Event": delivery.event,
        "X-Aliasdesk-Delivery": str(delivery.pk),
        "X-Aliasdesk-Signature": signature(delivery.hook.secret, when, delivery.body.encode()),
    }


def _problem(exc: Exception) -> str:
    if isinstance(exc, transport.Refused):
        return f"refused: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"timed out after {transport.TIMEOUT:.0f} s"
    return f"{type(exc).__name__}: {exc}"


def deliver(delivery: Delivery, me: str) -> Attempt | None:
    """Make one attempt at a claimed delivery and record it; the delivery is then delivered,
    waiting for its next attempt, or failed (None: the hook was deleted meanwhile)."""
    body = delivery.body.encode()
    started = timezone.now()
    status: int | None = None
    excerpt = error = ""
    try:
        headers = headers_for(delivery, int(time.time()))
        answer = transport.post(delivery.hook.url, body, headers, allow_private=delivery.hook.allow_private)
    except (transport.Refused, OSError) as exc:
        error = _problem(exc)[:500]
        duration = int((timezone.now() - started).total_seconds() * 1000)
    else:
        status, excerpt, duration = answer.status, answer.body, answer.duration_ms
        if 300 <= status < 400:
            to = f" (to {answer.location})" if answer.location else ""
            error = f"HTTP {status}: redirects are not followed{to}"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
    if not Delivery.objects.filter(pk=delivery.pk).exists():
        return None  # its hook was deleted while it was being sent: nothing left to record
    attempt = Attempt.objects.create(
        delivery=delivery, at=started, response_status=status, response_body=excerpt, error=error[:500],
        duration_ms=duration,
    )
    attempts = delivery.attempts + 1
    fields: dict[str, object] = {
        "attempts": attempts, "response_status": status, "error": error[:500], "claimed_by": "", "claimed_at": None,
    }
    now = timezone.now()
    if not error:
        fields.update(status=Delivery.Status.DELIVERED, finished_at=now)
    elif attempts >= MAX_ATTEMPTS:
        fields.update(status=Delivery.Status.FAILED, finished_at=now)
    else:
        wait = BACKOFF[attempts - 1]
        fields.update(status=Delivery.Status.PENDING, next_attempt_at=now + timedelta(seconds=wait))
    # Only while the claim is still ours (a lease given back meanwhile belongs to another worker).
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING, claimed_by=me).update(**fields)
    return attempt


def send_due(me: str | None = None, *, budget: float | None = None, limit: int = 50) -> int:
    """Send what is due now; how many attempts were made. ``budget``: start no new attempt
    after that many seconds (the agent keeps its deploys waiting no longer than that)."""
    me = me or worker_id()
    release_stale()
    started = time.monotonic()
    sent = 0
    while True:
        ids = due(limit)
        if not ids:
            return sent
        progress = False
        for pk in ids:
            if budget is not None and time.monotonic() - started > budget:
                return sent
            delivery = claim(pk, me)
            if delivery is None:
                continue
            deliver(delivery, me)
            sent += 1
            progress = True
        if not progress:
            return sent


class Worker:
    """``aliasdesk webhooks`` without ``--once``: rounds until SIGTERM or SIGINT."""

    def __init__(self, report: Callable[[str], None] = print) -> None:
        self.report = report
        self.me = worker_id()
        self.stopping = False

    def run_forever(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        self.report(f"webhooks worker {self.me}: sending deliveries")
        while not self.stopping:
            close_old_connections()
            try:
                sent = send_due(self.me)
            except DatabaseError as exc:  # the database went away: try again next round
                self.report(f"error: {exc}; retrying")
                sent = 0
            if sent:
                self.report(f"{sent} attempt(s) made")
            self._sleep(settings.WEBHOOKS_POLL_SECONDS)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True


def agent_round(sender: object, agent: object = None, **kwargs: object) -> None:
    """agent_round receiver: the agent sends due deliveries too, for a few seconds at most."""
    if settings.AGENT_WEBHOOKS:
        send_due(getattr(agent, "me", None), budget=5.0)
