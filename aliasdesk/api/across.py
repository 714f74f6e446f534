"""Across domains: one search over every domain the token may see, and offboarding.

The same functions as the web's /search/ and /offboard/ (aliasdesk.aliases.across and
aliasdesk.aliases.offboard); the token's scope narrows both through visible_domains and
the services' checks, as everywhere in the API.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from aliasdesk.aliases.across import AcrossPaginator, hit_record
from aliasdesk.aliases.offboard import OffboardRefused, offboard
from aliasdesk.api.auth import user_of
from aliasdesk.api.schemas import answers

router = Router(tags=["across domains"])

PAGE_SIZE = 100


class SearchParams(Schema):
    q: str = Field(..., min_length=1, max_length=200, description="words, each found in key, destinations or comment")
    page: int = Field(1, ge=1, le=1_000_000)


class Hit(Schema):
    id: int
    domain: str = Field(..., description="the domain whose map holds the alias")
    key: str
    destinations: list[str]
    enabled: bool
    comment: str
    version: int


class SearchPage(Schema):
    q: str
    count: int = Field(..., description="matches (a lower bound when capped)")
    capped: bool = Field(..., description="more matches than were counted")
    page: int
    pages: int
    results: list[Hit]


@router.get(
    "/search",
    response=answers({200: SearchPage}, 422),
    summary="Aliases of every domain the token may see whose key, destinations or comment hold the words",
)
def search(request: HttpRequest, params: Query[SearchParams]) -> dict[str, Any]:
    paginator = AcrossPaginator(user_of(request), params.q, PAGE_SIZE)
    page = paginator.get_page(params.page)
    rows = list(page.object_list) if page.number == params.page else []
    return {
        "q": params.q,
        "count": paginator.count,
        "capped": paginator.capped,
        "page": params.page,
        "pages": paginator.num_pages,
        "results": [hit_record(a) for a in rows],
    }


class OffboardIn(Schema):
    old: str = Field(..., min_length=1, max_length=512, description="the destination to take out, e.g. bob@example.org")
    new: str | None = Field(None, max_length=512, description="the destination that takes its place; none: remove it")
    dry_run: bool = Field(False, description="only say what would change")
    switch_off_empty: bool = Field(False, description="switch off aliases left without destinations (else: refused)")


class OffboardItem(Schema):
    alias_id: int
    domain: str
    key: str
    version: int
    enabled: bool
    before: list[str]
    after: list[str]
    outcome: str = Field(..., description="change, switch off, left without destinations, skipped")
    reason: str


class OffboardDeploy(Schema):
    domain: str
    deploy_on_save: bool = Field(..., description="deployed already by the change itself")
    url: str = Field(..., description="the domain's deploy page")


class OffboardOut(Schema):
    old: str
    new: str | None
    change_id: str
    reason: str = Field(..., description="the history reason of every changed alias")
    applied: bool
    switch_off_empty: bool
    changed: list[OffboardItem] = Field(..., description="changed (or, in a dry run, to change)")
    refused: list[OffboardItem] = Field(..., description="would be left without destinations")
    skipped: list[OffboardItem] = Field(..., description="the token may not change them: never changed")
    domains: list[str]
    deploys: list[OffboardDeploy]


class OffboardRefusal(Schema):
    detail: str
    plan: OffboardOut


@router.post(
    "/offboard",
    response=answers({200: OffboardOut, 409: OffboardRefusal}, 422),
    summary="Replace a destination by another, or remove it, in every alias the token may change (all or none)",
)
def offboard_destination(request: HttpRequest, body: OffboardIn) -> Any:
    try:
        done = offboard(
            user_of(request), body.old, body.new, switch_off_empty=body.switch_off_empty, dry_run=body.dry_run
        )
    except OffboardRefused as exc:
        return 409, {"detail": str(exc), "plan": exc.plan.to_dict()}
    return done.to_dict()
