"""Deploys: the preview (diff and findings), the deploy itself (queued in agent mode), the history.

The same engine call as the web's deploy page (deploys.engine.deploy_domain), so the API
never writes a map file any other way.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from aliasdesk.api.auth import domain_for, user_of
from aliasdesk.api.schemas import (
    DeployDetail,
    DeployFailed,
    DeployIn,
    DeployPage,
    DeployPreview,
    DeployResultOut,
    PathId,
    answers,
)
from aliasdesk.deploys import nodes
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy

router = Router(tags=["deploys"])

PAGE_SIZE = 20


class PageParams(Schema):
    page: int = Field(1, ge=1, le=1_000_000)


@router.get(
    "/domains/{name}/deploy",
    response=answers({200: DeployPreview}, 404),
    summary="What a deploy would change: the diff and the findings (writes nothing)",
)
def deploy_preview(request: HttpRequest, name: str) -> dict[str, Any]:
    domain = domain_for(request, name)
    preview = deploy_domain(domain, dry_run=True)
    return {
        "domain": domain.name,
        "status": preview.status,
        "message": preview.message,
        "diff": preview.diff,
        "findings": [f.to_dict() for f in preview.findings],
        "drift": preview.drift,
        "agent_mode": nodes.agent_mode(),
    }


@router.post(
    "/domains/{name}/deploy",
    response={**answers({200: DeployResultOut, 202: DeployResultOut}, 403, 404, 422), 409: DeployFailed},
    summary="Deploy the domain's map (202: queued for the agents in agent mode; 409: refused or failed)",
)
def deploy(request: HttpRequest, name: str, payload: DeployIn | None = None) -> tuple[int, dict[str, Any]]:
    domain = domain_for(request, name, write=True)
    force = bool(payload and payload.force)
    result = deploy_domain(domain, user=user_of(request), force=force, background=True)
    if result.status == Deploy.Status.QUEUED:
        return 202, result.to_dict()
    if not result.ok:
        detail = _("%(domain)s: deploy failed: %(message)s") % {"domain": domain.name, "message": result.message}
        return 409, {"detail": detail, "deploy": result.to_dict()}
    return 200, result.to_dict()


def _deploy_out(deploy: Deploy) -> dict[str, Any]:
    return {
        "id": deploy.pk,
        "status": deploy.status,
        "user": deploy.user.username if deploy.user else None,
        "node": deploy.node,
        "forced": deploy.forced,
        "method": deploy.method,
        "why_full": deploy.why_full,
        "serial": deploy.serial,
        "sha256": deploy.sha256,
        "alias_count": deploy.alias_count,
        "error": deploy.error,
        "created_at": deploy.created_at,
        "started_at": deploy.started_at,
        "finished_at": deploy.finished_at,
    }


@router.get(
    "/domains/{name}/deploys",
    response=answers({200: DeployPage}, 404, 422),
    summary="The domain's deploys, newest first",
)
def deploy_history(request: HttpRequest, name: str, params: Query[PageParams]) -> dict[str, Any]:
    domain = domain_for(request, name)
    paginator = Paginator(domain.deploys.select_related("user").defer("diff", "postmap_output"), PAGE_SIZE)
    page = paginator.get_page(params.page)
    rows = list(page.object_list) if page.number == params.page else []
    return {
        "count": paginator.count,
        "page": params.page,
        "pages": paginator.num_pages,
        "results": [_deploy_out(d) for d in rows],
    }


@router.get(
    "/domains/{name}/deploys/{int:deploy_id}",
    response=answers({200: DeployDetail}, 404),
    summary="One deploy: its diff, findings, postmap output and timings",
)
def deploy_detail(request: HttpRequest, name: str, deploy_id: PathId) -> dict[str, Any]:
    domain = domain_for(request, name)
    deploy = get_object_or_404(Deploy.objects.select_related("user"), pk=deploy_id, domain=domain)
    return {
        **_deploy_out(deploy),
        "diff": deploy.diff,
        "findings": list(deploy.findings or []),
        "postmap_output": deploy.postmap_output,
        "timings": dict(deploy.timings or {}),
    }
