"""Domain settings pages (admins): header and footer text, input policy, live preview."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aliasdesk.accounts.access import can_administer, require_admin
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.aliasdomains import set_alias_of
from aliasdesk.aliases.limits import alias_count, warnings_for
from aliasdesk.aliases.models import AliasMode, Domain
from aliasdesk.aliases.pages import domain_page_context
from aliasdesk.aliases.services import AliasError


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _context(request: HttpRequest, domain: Domain, form: ds.DomainSettings, **extra: Any) -> dict[str, Any]:
    candidates = Domain.objects.filter(deleted_at__isnull=True, alias_of__isnull=True).exclude(pk=domain.pk)
    extra.setdefault("alias_targets", list(candidates.values_list("pk", "name")))
    extra.setdefault("alias_modes", AliasMode.choices)
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
        messages.success(request, _("Saved the settings of {domain}. Deploy to write the new map.").format(
            domain=domain.name))
    elif changed:
        messages.success(request, _(
            "Saved the limits of {domain}. They hold from now on; the map is unchanged.").format(domain=domain.name))
    else:
        messages.info(request, _("Nothing changed."))
    return redirect("domain-settings", domain.name)


@login_required
@require_POST
def domain_settings_preview(request: HttpRequest, name: str) -> HttpResponse:
    """The start of the map file as it would be written with the header and footer typed so far."""
    domain = get_domain_for_user(request, name, admin=True)
    header, footer = request.POST.get("header", ""), request.POST.get("footer", "")
    preview = ds.preview_map(domain, header, footer)
    return render(request, "aliases/settings_preview.html", {"domain": domain, "preview": preview, "oob": True})


@login_required
@require_POST
def domain_alias_of(request: HttpRequest, name: str) -> HttpResponse:
    """Make the domain an alias domain of another (or an ordinary domain again); admins only."""
    domain = get_domain_for_user(request, name, admin=True)
    target_id = _int(request.POST.get("alias_of"))
    target = Domain.objects.filter(pk=target_id, deleted_at__isnull=True).first() if target_id else None
    if target_id and target is None:
        messages.error(request, _("That target domain does not exist (any more)."))
        return redirect("domain-settings", domain.name)
    mode = request.POST.get("alias_mode", AliasMode.EXPAND)
    before = (domain.alias_of_id, domain.alias_mode)
    try:
        domain = set_alias_of(
            domain, target, mode, user=current_user(request), version=_int(request.POST.get("version"))
        )
    except AliasError as exc:
        messages.error(request, _("Not changed: {reason}").format(reason=exc))
        return redirect("domain-settings", domain.name)
    if (domain.alias_of_id, domain.alias_mode) == before:
        messages.info(request, _("Nothing changed."))
    elif target is None:
        messages.success(request, _("{domain} is an ordinary domain again. Deploy to write its map.").format(
            domain=domain.name))
    else:
        messages.success(request, _("{domain} is now an alias domain of {target}. Deploy to write its map.").format(
            domain=domain.name, target=target.name))
    return redirect("domain-detail", domain.name)
