"""Account pages: users and grants, the audit log, and "where does this address go?"."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from aliasdesk.accounts.access import require_admin, require_reader_of_everything, visible_domains
from aliasdesk.accounts.models import User
from aliasdesk.aliases.lookup import domain_entries
from aliasdesk.aliases.models import Alias
from aliasdesk.postfix.resolve import AliasTable, explain, resolve


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    users = User.objects.prefetch_related("grants__domain").order_by("username")
    return render(request, "accounts/users.html", {"users": users, "nav": "users"})


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    require_reader_of_everything(request)
    records = Alias.history.select_related("history_user", "domain").order_by("-history_id")[:200]  # type: ignore[attr-defined]
    return render(request, "accounts/audit.html", {"records": records, "nav": "audit"})


@login_required
def resolve_page(request: HttpRequest) -> HttpResponse:
    """Postfix's lookup path for an address, through the maps this user may see."""
    address = request.GET.get("address", "").strip()[:512]
    context: dict[str, object] = {"address": address, "nav": "resolve"}
    if address:
        domains = list(visible_domains(request.user).order_by("name"))  # type: ignore[arg-type]
        resolution = resolve(address, AliasTable([domain_entries(d) for d in domains]))
        context.update(resolution=resolution, explanation=explain(resolution), maps=[d.name for d in domains])
        context["as_json"] = json.dumps(resolution.to_dict(), indent=2)
    return render(request, "accounts/resolve.html", context)
