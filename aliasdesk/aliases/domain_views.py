"""Domain settings pages (admins): header and footer text, input policy, live preview."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aliasdesk.accounts.access import can_administer, require_admin
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.limits import alias_count, warnings_for
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.pages import domain_page_context


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _context(request: HttpRequest, domain: Domain, form: ds.DomainSettings, **extra: Any) -> dict[str, Any]:
    return domain_page_context(
        request,
        domain,
        "settings",
        form=form,
        version=domain.version,
        preview=ds.preview_map(domain, form.header, form.footer),
        can_save=can_administer(current_user(request)),
        error_fields=set(),
        limit_warnings=warnings_for(domain),
        alias_count=alias_count(domain),
        **extra,
    )


@login_required
def domain_settings(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the header, footer and input policy as a form. POST: save them (version-checked)."""
    if request.method != "POST":
        domain = get_domain_for_user(request, name)
        require_admin(request)  # reading the form is for admins too (404 for others)
        return render(request, "aliases/settings.html", _context(request, domain, ds.DomainSettings.of(domain)))
    domain = get_domain_for_user(request, name, admin=True)
    form = ds.DomainSettings.from_form(request.POST)
    before = ds.DomainSettings.of(domain)
    try:
        domain, changed = ds.update_domain_settings(
            domain, form, version=_int(request.POST.get("version")), user=current_user(request)
        )
    except ds.StaleSettings as stale:
        merge = ds.merge_stale(stale.current, form, _int(request.POST.get("version")))
        context = _context(request, stale.current, merge.form, conflict=stale, merge=merge)
        return render(request, "aliases/settings.html", context, status=409)
    except ds.SettingsRefused as refused:
        context = _context(request, domain, form, problems=refused.problems)
        context["version"] = _int(request.POST.get("version"))
        context["error_fields"] = {p.field for p in refused.problems}
        return render(request, "aliases/settings.html", context, status=422)
    if changed and not ds.limits_only(before, ds.DomainSettings.of(domain)):
        messages.success(request, f"Saved the settings of {domain.name}. Deploy to write the new map.")
    elif changed:
        messages.success(request, f"Saved the limits of {domain.name}. They hold from now on; the map is unchanged.")
    else:
        messages.info(request, "Nothing changed.")
    return redirect("domain-settings", domain.name)


@login_required
@require_POST
def domain_settings_preview(request: HttpRequest, name: str) -> HttpResponse:
    """The start of the map file as it would be written with the header and footer typed so far."""
    domain = get_domain_for_user(request, name, admin=True)
    header, footer = request.POST.get("header", ""), request.POST.get("footer", "")
    preview = ds.preview_map(domain, header, footer)
    return render(request, "aliases/settings_preview.html", {"domain": domain, "preview": preview, "oob": True})
