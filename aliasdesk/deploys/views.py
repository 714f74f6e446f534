"""Deploy pages: preview with diff and findings, the deploy button, drift, the history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from aliasdesk.accounts.access import can_administer, require_reader_of_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases import paths
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.importer import ImportRefused, import_map
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.pages import domain_page_context
from aliasdesk.aliases.services import AliasError
from aliasdesk.deploys import nodes, reasons
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.deploys.overview import postmap_missing

DIFF_LINES = 5000
# The steps a deploy times (deploys.engine), in the order they run; "total" comes last.
TIMING_STEPS = {
    "start": pgettext_lazy("deploy step", "start"),
    "read": pgettext_lazy("deploy step", "read"),
    "plan": pgettext_lazy("deploy step", "plan"),
    "render": pgettext_lazy("deploy step", "render"),
    "write": pgettext_lazy("deploy step", "write"),
    "text": pgettext_lazy("deploy step", "text"),
    "text-spare": pgettext_lazy("deploy step", "text-spare"),
    "diff": pgettext_lazy("deploy step", "diff"),
    "validate": pgettext_lazy("deploy step", "validate"),
    "postmap": pgettext_lazy("deploy step", "postmap"),
    "verify": pgettext_lazy("deploy step", "verify"),
    "copy": pgettext_lazy("deploy step", "copy"),
    "patch": pgettext_lazy("deploy step", "patch"),
    "rename": pgettext_lazy("deploy step", "rename"),
    "total": pgettext_lazy("deploy step", "total"),
}
# What the two file lines of a map diff call the files (deploys.checks.map_diff, rollback_diff).
DIFF_FILES = {
    "on disk": pgettext_lazy("diff of a map", "on disk"),
    "new": pgettext_lazy("diff of a map", "new"),
    "now": pgettext_lazy("diff of a map", "now"),
}


def diff_lines(diff: str, limit: int = DIFF_LINES) -> tuple[list[tuple[str, str]], int]:
    """The lines of a unified diff with a CSS class each, and how many were left out."""
    lines = diff.splitlines()
    shown = []
    for line in lines[:limit]:
        if line.startswith(("+++", "---")):
            css, line = "file", _file_line(line)
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


def _file_line(line: str) -> str:
    """A diff's ``--- path (on disk)`` line with its label in the reader's language."""
    path, bracket, label = line.rpartition(" (")
    if not bracket or not label.endswith(")"):
        return line
    label = label[:-1]
    if label in DIFF_FILES:
        return f"{path} ({DIFF_FILES[label]})"
    if label.startswith("as of "):
        as_of = _("as of %(point)s") % {"point": label.removeprefix("as of ")}
        return f"{path} ({as_of})"
    return line


def timing_rows(timings: dict[str, float]) -> list[tuple[str, str, float]]:
    """(step, its name for the reader, seconds): the steps in the order they run, total last."""
    known = [(step, str(name), timings[step]) for step, name in TIMING_STEPS.items() if step in timings]
    other = [(step, step, seconds) for step, seconds in timings.items() if step not in TIMING_STEPS]
    return [row for row in known if row[0] != "total"] + other + [row for row in known if row[0] == "total"]


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
    timings = timing_rows(deploy.timings or {})
    duration = None
    if deploy.finished_at and (deploy.started_at or deploy.created_at):
        duration = (deploy.finished_at - (deploy.started_at or deploy.created_at)).total_seconds()
    context = domain_page_context(
        request, domain, "deploys",
        deploy=deploy, diff_lines=lines, diff_hidden=hidden, timings=timings, duration=duration,
        why_full=reasons.shown(deploy.why_full),
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
