"""Deploy pages: preview with diff and findings, the deploy button, drift, the history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from aliasdesk.accounts.access import can_administer, require_reader_of_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases import paths
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.importer import ImportRefused, import_map
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.pages import domain_page_context
from aliasdesk.aliases.services import AliasError
from aliasdesk.deploys import nodes
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.deploys.overview import postmap_missing

DIFF_LINES = 5000
TIMING_STEPS = ("render", "write", "validate", "postmap", "verify", "diff", "total")


def diff_lines(diff: str, limit: int = DIFF_LINES) -> tuple[list[tuple[str, str]], int]:
    """The lines of a unified diff with a CSS class each, and how many were left out."""
    lines = diff.splitlines()
    shown = []
    for line in lines[:limit]:
        if line.startswith(("+++", "---")):
            css = "file"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        else:
            css = ""
        shown.append((css, line))
    return shown, max(0, len(lines) - limit)


def _preview_context(request: HttpRequest, domain: Domain, **extra: Any) -> dict[str, Any]:
    preview = deploy_domain(domain, dry_run=True)
    lines, hidden = diff_lines(preview.diff)
    return domain_page_context(
        request,
        domain,
        "deploy",
        preview=preview,
        diff_lines=lines,
        diff_hidden=hidden,
        can_import=can_administer(current_user(request)),
        drift=preview.drift,
        on_nodes=nodes.domain_on_nodes(domain) if nodes.agent_mode() else [],
        postmap_missing=postmap_missing(),
        **extra,
    )


@login_required
def deploy_preview(request: HttpRequest, name: str) -> HttpResponse:
    """GET: what a deploy would change (diff, findings). POST: deploy (``force=1`` overwrites hand edits)."""
    if request.method == "POST":
        domain = get_domain_for_user(request, name, write=True)
        force = request.POST.get("force") == "1"
        result = deploy_domain(domain, user=current_user(request), force=force, background=True)
        if result.ok:
            messages.success(request, f"{domain.name}: {result.message}.")
        else:
            text = _("%(domain)s: deploy failed: %(message)s")
            messages.error(request, text % {"domain": domain.name, "message": result.message})
        if result.deploy_id is not None:
            return redirect("deploy-detail", domain.name, result.deploy_id)
        return redirect("deploy-history", domain.name)
    domain = get_domain_for_user(request, name)
    return render(request, "deploys/preview.html", _preview_context(request, domain))


@login_required
@require_POST
def import_hand_edits(request: HttpRequest, name: str) -> HttpResponse:
    """Take the map on disk as it is now (hand edits included) into the database (admins)."""
    domain = get_domain_for_user(request, name, admin=True)
    try:
        map_path = paths.check_map_path(domain.map_path)  # never read through a link planted beside the map
        report = import_map(str(map_path), domain.name, replace=True, user=current_user(request))
    except paths.MapPathError as exc:
        context = _preview_context(request, domain, import_problems=[str(exc)])
        return render(request, "deploys/preview.html", context, status=422)
    except ImportRefused as refused:
        problems = [str(p) for p in refused.problems if p.severity == "error"]
        context = _preview_context(request, domain, import_problems=problems)
        return render(request, "deploys/preview.html", context, status=422)
    except AliasError as exc:
        context = _preview_context(request, domain, import_problems=[str(exc)])
        return render(request, "deploys/preview.html", context, status=422)
    messages.success(
        request,
        _(
            "Imported the hand edits of %(map)s: %(created)s added, %(updated)s changed, "
            "%(removed)s removed, %(unchanged)s unchanged."
        ) % {
            "map": domain.map_path, "created": report.created, "updated": report.updated,
            "removed": report.removed, "unchanged": report.unchanged,
        },
    )
    for problem in report.problems[:20]:
        messages.warning(request, str(problem))
    return redirect("deploy-preview", domain.name)


@login_required
@require_GET
def deploy_history(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name)
    page = Paginator(domain.deploys.select_related("user").defer("diff"), 20).get_page(request.GET.get("page"))
    with_nodes = nodes.agent_mode() or domain.deploys.exclude(node="").exists()
    context = domain_page_context(request, domain, "deploys", page=page, with_nodes=with_nodes)
    return render(request, "deploys/history.html", context)


@login_required
@require_GET
def deploy_detail(request: HttpRequest, name: str, deploy_id: int) -> HttpResponse:
    domain = get_domain_for_user(request, name)
    deploy = get_object_or_404(Deploy.objects.select_related("user"), pk=deploy_id, domain=domain)
    lines, hidden = diff_lines(deploy.diff)
    timings = [(step, deploy.timings[step]) for step in TIMING_STEPS if step in (deploy.timings or {})]
    timings += [(k, v) for k, v in (deploy.timings or {}).items() if k not in TIMING_STEPS]
    duration = None
    if deploy.finished_at and (deploy.started_at or deploy.created_at):
        duration = (deploy.finished_at - (deploy.started_at or deploy.created_at)).total_seconds()
    context = domain_page_context(
        request, domain, "deploys",
        deploy=deploy, diff_lines=lines, diff_hidden=hidden, timings=timings, duration=duration,
    )
    return render(request, "deploys/detail.html", context)


@login_required
@require_GET
def node_list(request: HttpRequest) -> HttpResponse:
    """The mail hosts whose agents apply deploys: alive or not, their queue, their last deploy."""
    require_reader_of_everything(request)
    states = nodes.node_states()
    named = {name for d in Domain.objects.filter(deleted_at__isnull=True).exclude(nodes="") for name in d.node_names}
    unknown = sorted(named - {s.node.name for s in states})
    context = {"nav": "nodes", "states": states, "unknown": unknown, "heartbeat": nodes.heartbeat_seconds()}
    return render(request, "deploys/nodes.html", context)
