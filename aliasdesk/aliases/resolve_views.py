"""Where does it go? Postfix's lookup path for an address, through the managed maps."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from aliasdesk.accounts.access import sees_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.lookup import alias_domain_names, hidden_answers, managed_table
from aliasdesk.aliases.models import Domain
from aliasdesk.postfix.maps.resolve import address_problem, explain, resolve


@login_required
def resolve_page(request: HttpRequest) -> HttpResponse:
    """Postfix's lookup path for an address, through the maps this user may see."""
    address = request.GET.get("address", "").strip()[:512]
    context: dict[str, object] = {"address": address, "nav": "resolve"}
    problem = address_problem(address) if address else None
    if problem:
        context["not_address"] = problem
    elif address:
        user = current_user(request)
        table, domains = managed_table(visible_domains(user))
        resolution = resolve(address, table, alias_domains=alias_domain_names(domains))
        context.update(resolution=resolution, explanation=explain(resolution), maps=[d.name for d in domains])
        if not sees_everything(user):
            context["hidden"] = hidden_answers(resolution, domains)
            # Maps of domains this user cannot see were not searched: say so, not which.
            live = Domain.objects.filter(deleted_at__isnull=True)
            context["unsearched"] = live.exclude(pk__in=[d.pk for d in domains]).exists()
        context["as_json"] = json.dumps(resolution.to_dict(), indent=2)
    return render(request, "accounts/resolve.html", context)
