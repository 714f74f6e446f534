"""The outbox: each event becomes one Delivery per hook that wants it, in the change's transaction.

The apps below do not know webhooks exist (they may not import this app); this module
listens where every change passes anyway:

- every alias history record (django-simple-history's ``post_create_historical_record``,
  sent inside the transaction of each service: create, update, enable/disable, delete,
  restore, bulk changes, restore of a version, paste, rollback, expiry, purge);
- the rows the importer inserts in bulk without the ORM (``aliases_inserted``);
- the record of each finished deploy (``deploy_finished``), with drift when a deploy was
  refused because the map on disk was edited by hand.

Nothing is written when no hook wants the event, so an installation without hooks pays one
small query per change.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.utils import timezone

from aliasdesk.accounts.channel import current_channel
from aliasdesk.accounts.events import current_request
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.webhooks.models import PING, Delivery, Hook

ALIAS_CHANGES = ("alias.changed", "alias.deleted", "alias.restored")


def _hooks_for(domain_id: int | None, events: tuple[str, ...]) -> list[Hook]:
    hooks = Hook.objects.filter(enabled=True).only("id", "domain", "events", "enabled")
    return [h for h in hooks if any(h.wants(e, domain_id) for e in events)]


def _channel() -> str:
    """"API" or "CLI" (accounts.channel), "web" inside a request, else "system" (expiry, agents)."""
    return current_channel() or ("web" if current_request() is not None else "system")


def envelope(event: str, domain: str, who: str, **data: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "event": event,
        "time": timezone.now().isoformat(timespec="seconds"),
        "domain": domain,
        **data,
        "who": who,
        "channel": _channel(),
    }


def queue(event: str, domain_id: int | None, payload: dict[str, Any], hooks: list[Hook] | None = None) -> int:
    """One pending Delivery of ``payload`` for each hook that wants ``event``; how many."""
    wanted = [h for h in (hooks if hooks is not None else _hooks_for(domain_id, (event,))) if h.wants(event, domain_id)]
    if not wanted:
        return 0
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    now = timezone.now()
    Delivery.objects.bulk_create([Delivery(hook=h, event=event, body=body, next_attempt_at=now) for h in wanted])
    return len(wanted)


def queue_ping(hook: Hook, who: str) -> Delivery:
    """A test delivery for one hook, whatever it subscribes to."""
    domain = hook.domain.name if hook.domain_id and hook.domain else ""
    payload = envelope(PING, domain, who, message="a test event from aliasdesk")
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return Delivery.objects.create(hook=hook, event=PING, body=body, next_attempt_at=timezone.now())


def _alias_data(row: Any, destinations: str) -> dict[str, Any]:
    valid_until = getattr(row, "valid_until", None)
    return {
        "id": row.id,
        "key": row.key,
        "destinations": [d for d in destinations.split(", ") if d],
        "enabled": bool(row.enabled),
        "comment": row.comment,
        "version": row.version,
        "valid_until": valid_until.isoformat() if valid_until else None,
    }


def _alias_event(history: Any) -> tuple[str, ...]:
    """Which event a history record is: created, purged, or (asking for the record before it)
    deleted, restored or changed."""
    if history.history_type == "+":
        return ("alias.created",)
    if history.history_type == "-":
        return ("alias.purged",)
    before = (
        type(history)
        .objects.filter(id=history.id, history_id__lt=history.history_id)
        .order_by("-history_id")
        .values_list("deleted_at", flat=True)
        .first()
    )
    was_deleted, is_deleted = before is not None, history.deleted_at is not None
    if is_deleted and not was_deleted:
        return ("alias.deleted",)
    if was_deleted and not is_deleted:
        return ("alias.restored",)
    return ("alias.changed",)


def alias_recorded(sender: Any, instance: Any, history_instance: Any, history_user: Any = None, **kwargs: Any) -> None:
    """post_create_historical_record receiver: an alias changed, inside its transaction."""
    if not isinstance(instance, Alias):
        return
    domain_id = history_instance.domain_id
    kind = ("alias.created",) if history_instance.history_type == "+" else ("alias.purged",)
    hooks = _hooks_for(domain_id, kind if history_instance.history_type != "~" else ALIAS_CHANGES)
    if not hooks:
        return
    (event,) = _alias_event(history_instance)
    if not any(h.wants(event, domain_id) for h in hooks):
        return
    name = Domain.objects.filter(pk=domain_id).values_list("name", flat=True).first() or ""
    who = history_user.get_username() if history_user is not None else ""
    data = _alias_data(history_instance, history_instance.destinations)
    reason = history_instance.history_change_reason or ""
    queue(event, domain_id, envelope(event, name, who, alias=data, reason=reason), hooks)


def aliases_inserted(
    sender: Any, domain: Domain, user: Any, rows: list[tuple[Any, ...]], reason: str, **kwargs: Any
) -> None:
    """aliases_inserted receiver: the importer's bulk rows ``(id, key, destinations, enabled,
    comment)``, one ``alias.created`` each, as the history receiver makes for single rows."""
    hooks = _hooks_for(domain.pk, ("alias.created",))
    if not hooks:
        return
    who = user.get_username() if user is not None else ""
    now = timezone.now()
    deliveries = []
    for alias_id, key, destinations, enabled, comment in rows:
        data = {
            "id": alias_id,
            "key": key,
            "destinations": [d for d in destinations.split(", ") if d],
            "enabled": bool(enabled),
            "comment": comment,
            "version": 1,
            "valid_until": None,
        }
        payload = envelope("alias.created", domain.name, who, alias=data, reason=reason)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        deliveries += [
            Delivery(hook=h, event="alias.created", body=body, next_attempt_at=now)
            for h in hooks
            if h.wants("alias.created", domain.pk)
        ]
    Delivery.objects.bulk_create(deliveries, batch_size=1000)


def deploy_finished(sender: Any, deploy: Deploy, drift: bool = False, **kwargs: Any) -> None:
    """deploy_finished receiver: ``deploy.succeeded`` (deployed, or nothing to do) or
    ``deploy.failed``, and ``drift.found`` when the map on disk was edited by hand."""
    ok = deploy.status in (Deploy.Status.OK, Deploy.Status.NOOP)
    events = ["deploy.succeeded" if ok else "deploy.failed", *(["drift.found"] if drift else [])]
    hooks = _hooks_for(deploy.domain_id, tuple(events))
    if not hooks:
        return
    domain = Domain.objects.filter(pk=deploy.domain_id).values_list("name", "map_path").first() or ("", "")
    who = deploy.user.get_username() if deploy.user_id and deploy.user else ""
    data = {
        "id": deploy.pk,
        "status": deploy.status,
        "node": deploy.node,
        "message": deploy.error or ("deployed" if deploy.status == Deploy.Status.OK else "unchanged" if ok else ""),
        "method": deploy.method,
        "serial": deploy.serial,
        "sha256": deploy.sha256,
        "map_path": domain[1],
    }
    for event in events:
        queue(event, deploy.domain_id, envelope(event, domain[0], who, deploy=data), hooks)
