"""The rollback page: what rolling the domain back to one of its deploys would change (the
diff of the map text and the counts), and the button that does it.

Administrators and the domain's editors (who could make the same edits one by one); an
editor's rollback leaves the header and footer as they are, and the page says so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.pages import domain_page_context
from aliasdesk.aliases.rollback import RollbackPlan, RollbackRefused
from aliasdesk.deploys import rollback
from aliasdesk.deploys.models import Deploy
from aliasdesk.deploys.views import diff_lines


def _context(request: HttpRequest, domain: Domain, deploy: Deploy, plan: RollbackPlan, **extra: Any) -> dict[str, Any]:
    lines, hidden = diff_lines(rollback.rollback_diff(plan))
    return domain_page_context(
        request,
        domain,
        "deploys",
        deploy=deploy,
        plan=plan,
        diff_lines=lines,
        diff_hidden=hidden,
        same_as_deployed=rollback.same_as_deployed(plan, deploy),
        serial=plan.domain.serial,
        **extra,
    )


@login_required
def deploy_rollback(request: HttpRequest, name: str, deploy_id: int) -> HttpResponse:
    """GET: the preview (changes nothing). POST: roll back, if the domain is still as previewed."""
    domain = get_domain_for_user(request, name, write=True)
    user = current_user(request)
    try:
        deploy = rollback.rollback_target(domain, deploy_id)
    except AliasError as exc:
        raise Http404(str(exc)) from exc
    if request.method != "POST":
        plan = rollback.preview_rollback(domain, deploy, user)
        return render(request, "deploys/rollback.html", _context(request, domain, deploy, plan))
    try:
        expected = int(request.POST.get("serial", ""))
    except ValueError:
        expected = -1
    try:
        plan = rollback.apply_rollback(domain, deploy, user, expected_serial=expected)
    except (RollbackRefused, PermissionDenied) as exc:
        problems = exc.problems if isinstance(exc, RollbackRefused) else [str(exc)]
        fresh = rollback.preview_rollback(domain, deploy, user)
        context = _context(request, domain, deploy, fresh, problems=problems)
        return render(request, "deploys/rollback.html", context, status=409 if expected != domain.serial else 422)
    if plan.empty:
        text = _("%(domain)s is already as of %(point)s: nothing changed.")
        messages.info(request, text % {"domain": domain.name, "point": plan.point.label})
    else:
        text = _("%(domain)s is back to %(point)s: %(summary)s.")
        messages.success(request, text % {"domain": domain.name, "point": plan.point.label, "summary": plan.summary()})
    for note in plan.notes:
        messages.warning(request, note[0].upper() + note[1:] + ".")
    return redirect("deploy-preview", domain.name)
