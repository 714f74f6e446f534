"""One domain's aliases: list and search (the web grid's search), one alias, create, change
with a version check, switch on and off, trash and restore, purge, history, traffic.

Every change goes through aliasdesk.aliases.services, as the web's; what the token may not
do, the services refuse (see auth.py).
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field as F
from ninja import Query, Router, Schema

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import untouchable_reason
from aliasdesk.aliases.search import FILTERS, ORDERS, AliasPaginator, AliasQuery
from aliasdesk.aliases.services import StaleEdit
from aliasdesk.aliases.traffic import traffic_columns
from aliasdesk.api.auth import domain_for, user_of
from aliasdesk.api.schemas import (
    AliasCreate,
    AliasOut,
    AliasPage,
    AliasPatch,
    HistoryEntry,
    PathId,
    StaleError,
    Traffic,
    VersionIn,
    alias_out,
    answers,
)

router = Router(tags=["aliases"])

MAX_PER_PAGE = 500
HISTORY_FIELDS = ("key", "destinations", "enabled", "comment", "valid_until", "deleted_at")


class SearchParams(Schema):
    q: str = F("", max_length=200, description="words; each must be in the key, destinations or comment")
    show: Literal["all", "enabled", "disabled", "expiring", "deleted"] = F("all", description=", ".join(FILTERS))
    order: Literal["file", "key", "-key", "updated", "-updated"] = "file"
    unused: int | None = F(None, ge=1, le=3650, description="only those without mail for this many days")
    page: int = F(1, ge=1, le=1_000_000)
    per_page: int = F(50, ge=1, le=MAX_PER_PAGE)


def _alias(domain: Domain, alias_id: PathId) -> Alias:
    """The alias of this domain (404 for one of another domain, or none)."""
    return get_object_or_404(Alias.objects.select_related("created_by", "updated_by"), pk=alias_id, domain=domain)


def _refuse_untouchable(request: HttpRequest, alias: Alias) -> None:
    reason = untouchable_reason(user_of(request), alias)
    if reason:
        raise PermissionDenied(reason)


def _out(alias: Alias, domain: Domain) -> dict[str, Any]:
    """The alias as a service returned it (saved just now: no need to read it again)."""
    return alias_out(alias, domain.name)


def _check_version(alias: Alias, version: int | None) -> int:
    """The version to change at: the one the client read (a stale one is refused), or the current one."""
    if version is not None and version != alias.version:
        raise StaleEdit(alias)
    return alias.version


@router.get(
    "/domains/{name}/aliases",
    response=answers({200: AliasPage}, 404, 422),
    summary="List and search a domain's aliases (paginated)",
)
def alias_list(request: HttpRequest, name: str, params: Query[SearchParams]) -> dict[str, Any]:
    domain = domain_for(request, name)
    if "\x00" in params.q:
        raise services.AliasError(_("the search contains a NUL character"), "q")
    assert params.order in ORDERS
    query = AliasQuery(params.q.strip(), params.show, params.order, params.unused)
    paginator = AliasPaginator(domain, query, params.per_page)
    page = paginator.get_page(params.page)
    rows: list[Alias] = list(page.object_list) if page.number == params.page else []
    if rows:
        ids = [a.pk for a in rows]
        users = {a.pk: a for a in Alias.objects.filter(pk__in=ids).select_related("created_by", "updated_by")}
        rows = [users.get(a.pk, a) for a in rows]
    return {
        "count": paginator.count,
        "count_capped": paginator.capped,
        "page": params.page,
        "pages": paginator.num_pages,
        "per_page": params.per_page,
        "results": [alias_out(a, domain.name) for a in rows],
    }


@router.post(
    "/domains/{name}/aliases",
    response=answers({201: AliasOut}, 403, 404, 409, 422),
    summary="Create an alias",
)
def alias_create(request: HttpRequest, name: str, payload: AliasCreate) -> tuple[int, dict[str, Any]]:
    domain = domain_for(request, name, write=True)
    alias = services.create_alias(
        domain,
        payload.key,
        payload.destinations,
        user=user_of(request),
        enabled=payload.enabled,
        comment=payload.comment,
        valid_until=payload.valid_until,
    )
    return 201, _out(alias, domain)


@router.get("/domains/{name}/aliases/{int:alias_id}", response=answers({200: AliasOut}, 404), summary="One alias")
def alias_detail(request: HttpRequest, name: str, alias_id: PathId) -> dict[str, Any]:
    domain = domain_for(request, name)
    return alias_out(_alias(domain, alias_id), domain.name)


@router.patch(
    "/domains/{name}/aliases/{int:alias_id}",
    response={**answers({200: AliasOut}, 403, 404, 422), 409: StaleError},
    summary="Change an alias (with the version you read: 409 when someone changed it meanwhile)",
)
def alias_update(request: HttpRequest, name: str, alias_id: PathId, payload: AliasPatch) -> dict[str, Any]:
    domain = domain_for(request, name, write=True)
    alias = _alias(domain, alias_id)
    _refuse_untouchable(request, alias)
    changes = payload.model_dump(exclude_unset=True, exclude={"version"})
    for field in ("key", "destinations", "enabled", "comment"):
        if field in changes and changes[field] is None:
            raise services.AliasError(_("%(field)s cannot be null: leave it out to keep it") % {"field": field}, field)
    if alias.deleted_at is not None:
        raise services.AliasError(_("the alias is in the trash: restore it first (POST …/restore)"))
    if not changes:
        _check_version(alias, payload.version)
        return alias_out(alias, domain.name)
    alias = services.update_alias(alias, version=payload.version, user=user_of(request), **changes)
    return _out(alias, domain)


def _switch(request: HttpRequest, name: str, alias_id: PathId, payload: VersionIn | None, on: bool) -> dict[str, Any]:
    domain = domain_for(request, name, write=True)
    alias = _alias(domain, alias_id)
    _refuse_untouchable(request, alias)
    version = _check_version(alias, payload.version if payload else None)
    if alias.deleted_at is not None:
        raise services.AliasError(_("the alias is in the trash: restore it first (POST …/restore)"))
    if alias.enabled != on:
        alias = services.update_alias(alias, version=version, user=user_of(request), enabled=on)
    return _out(alias, domain)


@router.post(
    "/domains/{name}/aliases/{int:alias_id}/enable",
    response={**answers({200: AliasOut}, 403, 404, 422), 409: StaleError},
    summary="Switch an alias on",
)
def alias_enable(request: HttpRequest, name: str, alias_id: PathId, payload: VersionIn | None = None) -> dict[str, Any]:
    return _switch(request, name, alias_id, payload, True)


@router.post(
    "/domains/{name}/aliases/{int:alias_id}/disable",
    response={**answers({200: AliasOut}, 403, 404, 422), 409: StaleError},
    summary="Switch an alias off (it stays in the map as a comment line)",
)
def alias_disable(
    request: HttpRequest, name: str, alias_id: PathId, payload: VersionIn | None = None
) -> dict[str, Any]:
    return _switch(request, name, alias_id, payload, False)


@router.delete(
    "/domains/{name}/aliases/{int:alias_id}",
    response={**answers({200: AliasOut}, 403, 404, 422), 409: StaleError},
    summary="Move an alias to the trash (restore it with POST …/restore)",
)
def alias_delete(request: HttpRequest, name: str, alias_id: PathId, version: int | None = None) -> dict[str, Any]:
    domain = domain_for(request, name, write=True)
    alias = _alias(domain, alias_id)
    _refuse_untouchable(request, alias)
    current = _check_version(alias, version)
    if alias.deleted_at is None:
        alias = services.soft_delete_alias(alias, version=current, user=user_of(request))
    return _out(alias, domain)


@router.post(
    "/domains/{name}/aliases/{int:alias_id}/restore",
    response={**answers({200: AliasOut}, 403, 404, 422), 409: StaleError},
    summary="Take an alias out of the trash",
)
def alias_restore(
    request: HttpRequest, name: str, alias_id: PathId, payload: VersionIn | None = None
) -> dict[str, Any]:
    domain = domain_for(request, name, write=True)
    alias = _alias(domain, alias_id)
    _refuse_untouchable(request, alias)
    current = _check_version(alias, payload.version if payload else None)
    if alias.deleted_at is not None:
        alias = services.restore_alias(alias, version=current, user=user_of(request))
    return _out(alias, domain)


@router.post(
    "/domains/{name}/aliases/{int:alias_id}/purge",
    response=answers({204: None}, 403, 404, 422),
    summary="Delete an alias in the trash for good (administrators)",
)
def alias_purge(request: HttpRequest, name: str, alias_id: PathId) -> tuple[int, None]:
    domain = domain_for(request, name, write=True, admin=True)
    alias = _alias(domain, alias_id)
    if alias.deleted_at is None:
        raise services.AliasError(_("only an alias in the trash can be purged: delete it first"))
    services.bulk_change(domain, [alias.pk], "purge", user=user_of(request))
    return 204, None


def _snapshot(record: Any) -> dict[str, Any]:
    return {name: _plain(getattr(record, name), name) for name in HISTORY_FIELDS}


def _plain(value: object, field: str = "") -> object:
    """A history value as JSON: destinations as a list, dates as ISO 8601."""
    if field == "destinations" and isinstance(value, str):
        return [d for d in value.split(", ") if d]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


@router.get(
    "/domains/{name}/aliases/{int:alias_id}/history",
    response=answers({200: list[HistoryEntry]}, 404),
    summary="An alias's history, newest first",
)
def alias_history(request: HttpRequest, name: str, alias_id: PathId) -> list[dict[str, Any]]:
    domain = domain_for(request, name)
    alias = _alias(domain, alias_id)
    entries = []
    for version in services.alias_versions(alias):
        record: Any = version.record
        entries.append(
            {
                "history_id": record.history_id,
                "date": record.history_date,
                "user": record.history_user.username if record.history_user else None,
                "type": record.history_type,
                "reason": record.history_change_reason or "",
                "version": record.version,
                "changes": [
                    {"field": f, "old": _plain(old, f), "new": _plain(new, f)} for f, old, new in version.changes
                ],
                "alias": _snapshot(record),
            }
        )
    return entries


@router.post(
    "/domains/{name}/aliases/{int:alias_id}/history/{int:history_id}/restore",
    response={**answers({200: AliasOut}, 403, 404, 422), 409: StaleError},
    summary="Make an alias as it was in one history entry (recorded as a new change)",
)
def alias_restore_version(
    request: HttpRequest, name: str, alias_id: PathId, history_id: PathId, payload: VersionIn | None = None
) -> dict[str, Any]:
    domain = domain_for(request, name, write=True)
    alias = _alias(domain, alias_id)
    _refuse_untouchable(request, alias)
    if not alias.history.filter(history_id=history_id).exists():
        raise Http404(_("alias %(id)s has no history entry %(entry)s") % {"id": alias.pk, "entry": history_id})
    current = _check_version(alias, payload.version if payload else None)
    alias = services.restore_version(alias, history_id, version=current, user=user_of(request))
    return _out(alias, domain)


@router.get(
    "/domains/{name}/aliases/{int:alias_id}/traffic",
    response=answers({200: Traffic}, 404),
    summary="Mail logged for an alias: the last days' counts and when it was last seen",
)
def alias_traffic(request: HttpRequest, name: str, alias_id: PathId) -> dict[str, Any]:
    domain = domain_for(request, name)
    alias = _alias(domain, alias_id)
    columns = traffic_columns()
    columns.attach([alias])
    traffic: Any = alias.traffic  # type: ignore[attr-defined]
    return {
        "days": columns.days,
        "received": traffic.received,
        "delivered": traffic.delivered,
        "deferred": traffic.deferred,
        "bounced": traffic.bounced,
        "last_seen": traffic.last_seen,
        "seen_ago": traffic.seen_ago,
    }
