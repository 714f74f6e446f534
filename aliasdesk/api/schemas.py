"""What the API takes and gives, as JSON schemas (they make the OpenAPI document too)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Path, Schema

from aliasdesk.aliases.models import Alias

# Strings are bounded so that no input reaches the database larger than a column allows;
# the services give the real reasons (a key's parts have their own limits).
KEY = Field(..., min_length=1, max_length=512, description="the key as Postfix sees it: user@domain, @domain, …")
DESTINATIONS_DOC = "the addresses mail to the key goes to, in order"
# Ids the database can hold on every engine (SQLite refuses integers past 2**63).
MAX_ID = 2**53
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


class Error(Schema):
    detail: str = Field(..., description="what went wrong, in words a person can act on")
    errors: dict[str, str] | None = Field(None, description="per input field (422): the problem with each")


class StaleError(Schema):
    detail: str
    current: AliasOut = Field(..., description="the alias as it is now: apply your change to this version")


class AliasOut(Schema):
    id: int
    domain: str
    key: str
    destinations: list[str]
    enabled: bool
    comment: str
    valid_until: datetime.date | None
    deleted: bool
    deleted_at: datetime.datetime | None
    version: int = Field(..., description="send it back with a change: a stale version is refused (409)")
    created_at: datetime.datetime
    updated_at: datetime.datetime
    created_by: str | None
    updated_by: str | None


StaleError.model_rebuild()


def alias_out(alias: Alias, domain_name: str) -> dict[str, Any]:
    return {
        "id": alias.pk,
        "domain": domain_name,
        "key": alias.key,
        "destinations": alias.destination_list,
        "enabled": alias.enabled,
        "comment": alias.comment,
        "valid_until": alias.valid_until,
        "deleted": alias.deleted_at is not None,
        "deleted_at": alias.deleted_at,
        "version": alias.version,
        "created_at": alias.created_at,
        "updated_at": alias.updated_at,
        "created_by": alias.created_by.username if alias.created_by_id and alias.created_by else None,
        "updated_by": alias.updated_by.username if alias.updated_by_id and alias.updated_by else None,
    }


class AliasIn(Schema):
    key: str = KEY
    destinations: list[str] = Field(..., min_length=1, max_length=10_000, description=DESTINATIONS_DOC)
    enabled: bool = True
    comment: str = Field("", max_length=10_000)


class AliasCreate(AliasIn):
    valid_until: datetime.date | None = Field(None, description="switched off after this day")


class AliasPatch(Schema):
    version: int = Field(..., ge=0, le=2**31, description="the version you read: a stale one is refused (409)")
    key: str | None = Field(None, min_length=1, max_length=512)
    destinations: list[str] | None = Field(None, min_length=1, max_length=10_000)
    enabled: bool | None = None
    comment: str | None = Field(None, max_length=10_000)
    valid_until: datetime.date | None = None


class VersionIn(Schema):
    version: int | None = Field(None, ge=0, le=2**31, description="if given, refused (409) when stale")


class AliasPage(Schema):
    count: int = Field(..., description="matches (a lower bound when count_capped)")
    count_capped: bool = Field(..., description="there are more matches than count: page on to see them")
    page: int
    pages: int
    per_page: int
    results: list[AliasOut]


class DomainOut(Schema):
    name: str
    map_path: str
    map_type: str
    alias_of: str | None
    nodes: list[str]
    deploy_on_save: bool
    writable: bool = Field(..., description="whether this token may change the domain's aliases")
    serial: int
    deployed_serial: int
    undeployed_changes: bool
    aliases: dict[str, int] = Field(..., description="how many are enabled, disabled, deleted and expiring")
    max_aliases: int | None
    max_destinations: int | None


class Me(Schema):
    username: str
    role: str
    token: str
    read_only: bool
    domains: list[str] | None = Field(..., description="the domains the token is limited to; null: all the user's")
    expires_at: datetime.datetime | None


class BulkAction(Schema):
    action: Literal["enable", "disable", "delete", "restore", "purge"]
    ids: list[Id] = Field(..., min_length=1, max_length=10_000)


class BulkResult(Schema):
    action: str
    changed: int


class BulkCreate(Schema):
    aliases: list[AliasIn] = Field(..., min_length=1, max_length=100_000)


class BulkCreated(Schema):
    added: int
    claimed: list[str] = Field(..., description="mail domains that became the map's own by these keys")


class DesiredSet(Schema):
    aliases: list[AliasIn] = Field(..., max_length=1_000_000, description="every alias the domain should hold")


class AliasChange(Schema):
    id: int
    key: str
    before: dict[str, Any]
    after: dict[str, Any]


class DesiredDiff(Schema):
    dry_run: bool
    changed: bool = Field(..., description="whether anything was (dry run: would be) written")
    add: list[AliasIn]
    change: list[AliasChange]
    remove: list[AliasOut]
    unchanged: int


class HistoryChange(Schema):
    field: str
    old: Any
    new: Any


class HistoryEntry(Schema):
    history_id: int
    date: datetime.datetime
    user: str | None
    type: str = Field(..., description="+ created, ~ changed, - purged")
    reason: str
    version: int
    changes: list[HistoryChange]
    alias: dict[str, Any] = Field(..., description="the alias as it was after this change")


class Traffic(Schema):
    days: int
    received: int
    delivered: int
    deferred: int
    bounced: int
    last_seen: datetime.datetime | None
    seen_ago: str


class Finding(Schema):
    severity: str
    code: str
    message: str
    key: str = ""
    line: int = 0


class DeployIn(Schema):
    force: bool = Field(False, description="overwrite a map edited by hand since the last deploy")


class DeployPreview(Schema):
    domain: str
    status: str
    message: str
    diff: str
    findings: list[Finding]
    drift: bool
    agent_mode: bool


class DeployResultOut(Schema):
    domain: str
    status: str = Field(..., description="ok, noop, queued (agent mode) or failed")
    message: str
    deploy_id: int | None
    method: str
    findings: list[Finding]
    timings: dict[str, float]


class DeployFailed(Schema):
    detail: str
    deploy: DeployResultOut


class DeployOut(Schema):
    id: int
    status: str
    user: str | None
    node: str
    forced: bool
    method: str
    why_full: str
    serial: int
    sha256: str
    alias_count: int
    error: str
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None


class DeployDetail(DeployOut):
    diff: str
    findings: list[dict[str, Any]]
    postmap_output: str
    timings: dict[str, Any]


class DeployPage(Schema):
    count: int
    page: int
    pages: int
    results: list[DeployOut]


class Resolution(Schema):
    address: str
    recipients: list[str]
    steps: list[dict[str, Any]]
    problems: list[str]
    deferred: bool
    rejected: bool
    explanation: str = Field(..., description="the steps in words, as `aliasdesk resolve` prints them")
    maps: list[str] = Field(..., description="the maps consulted, in Postfix's order (those the token may see)")
    hidden: list[dict[str, Any]] = Field(..., description="maps the token may not see that answer the address")


class UnusedAlias(Schema):
    id: int
    key: str
    domain: str
    destinations: list[str]
    created_at: datetime.datetime
    last_seen: datetime.datetime | None


class UnusedPage(Schema):
    days: int
    since: datetime.datetime
    logs_last_read: datetime.datetime | None
    count: int
    page: int
    pages: int
    results: list[UnusedAlias]


def answers(ok: dict[int, Any], *errors: int) -> dict[int, Any]:
    """An operation's responses: ``ok`` and the refusals it may give (401 always, a token is needed)."""
    return {**ok, 401: Error, **{status: Error for status in errors}}
