"""Deploy on save: a domain with the setting on is deployed right after each saved change.

The alias services send ``map_changed`` once a change has committed; this deploys through
the same engine and map lock as every other deploy. The snapshot is taken under the lock,
so two quick saves never deploy out of order: the later deploy always writes the later state
(or finds it deployed already). Where the user saved, ``DeployOnSaveMiddleware`` reports
the outcome: a message on the next page, or, for an inline edit, a status line swapped into
the page.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext as _

from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.engine import DeployResult, deploy_domain

# The deploys made on save while one request runs (None outside a request: command line).
OUTCOMES: ContextVar[list[DeployResult] | None] = ContextVar("aliasdesk_deploy_outcomes", default=None)


def deploy_saved(sender: object, domain_id: int, user: Any = None, **kwargs: object) -> None:
    domain = Domain.objects.filter(pk=domain_id, deleted_at__isnull=True).first()
    if domain is None or domain.serial == domain.deployed_serial:
        return  # an earlier change of the same save deployed it already
    who = user if getattr(user, "pk", None) else None
    result = deploy_domain(domain, user=who, record_noop=False, background=True)
    outcomes = OUTCOMES.get()
    if outcomes is not None:
        outcomes.append(result)


def describe(result: DeployResult) -> tuple[bool, str]:
    if result.status == "queued":  # agent mode: the agents apply it
        return True, _("%(domain)s: saved; deploy %(message)s.") % {"domain": result.domain, "message": result.message}
    if result.ok:
        took = result.timings.get("total")
        if took is None:
            return True, _("%(domain)s: saved and deployed.") % {"domain": result.domain}
        return True, _("%(domain)s: saved and deployed in %(ms)s ms.") % {
            "domain": result.domain, "ms": f"{took * 1000:.0f}"
        }
    return False, _("%(domain)s: saved, but the deploy failed: %(message)s") % {
        "domain": result.domain, "message": result.message
    }


class DeployOnSaveMiddleware:
    """Collects the deploys made on save during a request and tells the user how they went."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = OUTCOMES.set([])
        try:
            response = self.get_response(request)
            outcomes = OUTCOMES.get() or []
        finally:
            OUTCOMES.reset(token)
        if request.path.startswith("/api/"):
            # No session messages for a script: the outcome rides along in a header (in English:
            # a header is ASCII, and scripts read it).
            if outcomes:
                with translation.override("en"):
                    said = " ".join(" ".join(describe(result)[1].split()) for result in outcomes)
                response["Aliasdesk-Deploy"] = said.encode("ascii", "backslashreplace").decode()[:2000]
            return response
        for result in outcomes:
            ok, text = describe(result)
            partial = request.headers.get("HX-Request") and not response.has_header("Location")
            if partial and response.get("Content-Type", "").startswith("text/html") and not response.streaming:
                css = "flash flash-success" if ok else "flash flash-error"
                response.content += format_html(
                    '<div id="deploy-status" hx-swap-oob="true" role="status" aria-live="polite">'
                    '<p class="{}">{}</p></div>',
                    css,
                    text,
                ).encode("utf-8")
            elif ok:
                messages.success(request, text)
            else:
                messages.error(request, text)
        return response
