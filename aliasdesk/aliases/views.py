"""A domain's alias pages: the alias grid and its inline edits, paste, history, trash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from aliasdesk.accounts.access import can_administer
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases import grid_view, paste_input, services
from aliasdesk.aliases.access import can_edit, get_domain_for_user, visible_domains
from aliasdesk.aliases.aliasdomains import generated_lines
from aliasdesk.aliases.limits import warnings_for
from aliasdesk.aliases.models import Alias, Domain, LiveCheck
from aliasdesk.aliases.ownership import claims_message, mark_untouchable, untouchable_reason
from aliasdesk.aliases.pages import domain_page_context, domain_status
from aliasdesk.aliases.search import FILTERS, UNUSED_CHOICES, AliasPaginator, AliasQuery, CountedChange
from aliasdesk.aliases.traffic import traffic_columns
from aliasdesk.postfix.maps.virtual import parse_virtual

PAGE_SIZE = 50


def _back(request: HttpRequest, default: str) -> str:
    """Where to go after a POST: the form's ``next`` when it is a page of this site."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if target and safe else default


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def _grid_context(
    request: HttpRequest, domain: Domain, view: QueryDict | None = None, *, fresh: bool = False
) -> dict[str, Any]:
    """The grid of the view in ``view`` (the request's query string when None); ``fresh``: the
    request read ``domain`` and changed nothing (search.alias_counts)."""
    view = request.GET if view is None else view
    query = AliasQuery.from_params(view)
    page = AliasPaginator(domain, query, PAGE_SIZE, fresh=fresh).get_page(_int(view.get("page"), 1))
    traffic = traffic_columns()
    traffic.attach(page.object_list)
    mark_untouchable(current_user(request), domain, page.object_list)
    given = (("q", query.q), ("show", query.filter), ("order", query.order), ("unused", str(query.unused or "")))
    params = {k: v for k, v in given if v}
    unused_choices = sorted({*UNUSED_CHOICES, *([query.unused] if query.unused else [])})
    context = domain_page_context(
        request,
        domain,
        "aliases",
        page=page,
        query=query,
        filters=FILTERS,
        unused_choices=unused_choices,
        traffic_days=traffic.days,
        params=params,
        is_admin=can_administer(current_user(request)),
        text_entries=map_text_entries(domain),
        # the download menu's "this view" (templates/reports/_alias_downloads.html)
        is_view=grid_view.narrows(query),
        view_label=", ".join(grid_view.describe(query)),
        view_query=grid_view.query_string(query),
        sort=grid_view.sort_headers(query, params),
    )
    cached_rows(domain, page.object_list, context["editable"])
    return context


ROW_SECONDS = 600


def cached_rows(domain: Domain, aliases: Iterable[Alias], editable: bool) -> None:
    """Give each alias its grid row's HTML (``row_html``), from the cache where it is there.

    A row's HTML depends only on the alias's version and traffic, the reader's rights and
    the language; the grid shows 50 at a time, so they are looked up at once (one round trip)
    and only the missing ones rendered. Rows are rendered without the page's context
    (_row.html needs the domain, the alias and ``editable``).
    """
    language = f"{translation.get_language() or ''}|{timezone.get_current_timezone_name()}"
    keys = {}
    for alias in aliases:
        what = f"{domain.name}|{alias.pk}.{alias.version}.{alias.updated_at.timestamp()}|{alias.traffic.cache_key}"  # type: ignore[attr-defined]
        locked = alias.locked  # type: ignore[attr-defined]
        keys[alias.pk] = "alias-row:" + hashlib.md5(f"{what}|{locked}|{editable}|{language}".encode()).hexdigest()
    # The whole page's rows under one key first (one lookup where fifty would each be checked).
    page_key = "alias-rows:" + hashlib.md5("|".join(keys.values()).encode()).hexdigest()
    found = cache.get(page_key)
    if found is None:
        found = cache.get_many(list(keys.values()))
        missing: dict[str, str] = {}
        row = get_template("aliases/_row.html")
        for alias in aliases:
            if keys[alias.pk] not in found:
                missing[keys[alias.pk]] = row.render({"domain": domain, "alias": alias, "editable": editable})
        found.update(missing)
        cache.set_many({**missing, page_key: found}, ROW_SECONDS)
    for alias in aliases:
        alias.row_html = mark_safe(found[keys[alias.pk]])  # type: ignore[attr-defined]  # our template's output


def map_text_entries(domain: Domain) -> dict[str, int]:
    """How many live entries the header and footer hold: map lines the grid does not list."""
    return {
        name: sum(1 for e in parse_virtual(text).entries if e.enabled) if text else 0
        for name, text in (("header", domain.header), ("footer", domain.footer))
    }


@login_required
@require_GET
def domain_detail(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name, related=("live_check",))
    if domain.alias_of_id is not None:
        return alias_domain_page(request, domain)
    # A GET changes nothing: the domain row read above is the stored one.
    context = _grid_context(request, domain, fresh=True)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "grid":
        return render(request, "aliases/_grid.html", context)
    context.update(domain_status(domain, fresh=True))
    context["limit_warnings"] = warnings_for(domain, fresh=True)
    # The deploy's checks on the live map, when Postfix reads it from the database (postfix-config).
    try:
        context["live_check"] = domain.live_check  # read with the domain (one query)
    except LiveCheck.DoesNotExist:
        context["live_check"] = None
    return render(request, "aliases/domain_detail.html", context)


def alias_domain_page(request: HttpRequest, domain: Domain) -> HttpResponse:
    """An alias domain's page: what it forwards to, in which mode, and its generated lines, read-only."""
    q = request.GET.get("q", "").strip()[:200]
    lines = generated_lines(domain)
    shown = [line for line in lines if q.lower() in line[0].lower()] if q else lines
    page = Paginator(shown, PAGE_SIZE).get_page(_int(request.GET.get("page"), 1))
    target = Domain.objects.get(pk=int(domain.alias_of_id or 0))
    context = domain_page_context(
        request,
        domain,
        "aliases",
        target=target,
        lines=page,
        total=len(lines),
        q=q,
        sees_target=visible_domains(current_user(request)).filter(pk=target.pk).exists(),
        is_admin=can_administer(current_user(request)),
        text_entries=map_text_entries(domain),
    )
    return render(request, "aliases/alias_domain.html", context)


def _alias(domain: Domain, alias_id: int) -> Alias:
    return get_object_or_404(Alias, pk=alias_id, domain=domain)


def refuse_untouchable(request: HttpRequest, alias: Alias) -> None:
    """403 for an alias the user may see but not change (its key is not theirs to write)."""
    reason = untouchable_reason(current_user(request), alias)
    if reason:
        raise PermissionDenied(reason)


def with_status(request: HttpRequest, domain: Domain, response: HttpResponse, change: CountedChange) -> HttpResponse:
    """``response``, a part of the grid after ``change``, with the page head's counts and changes
    not deployed (aliases/_domain_status.html) for htmx to swap in out of band."""
    change.carry()
    context = {"domain": domain, "oob": True, **domain_status(domain)}
    response.content += render_to_string("aliases/_domain_status.html", context, request).encode()
    return response


def _row(
    request: HttpRequest, domain: Domain, alias: Alias, *, changed: CountedChange | None = None, **extra: Any
) -> HttpResponse:
    traffic_columns().attach([alias])
    mark_untouchable(current_user(request), domain, [alias])
    context = {"domain": domain, "alias": alias, "editable": can_edit(current_user(request), domain), **extra}
    response = render(request, "aliases/_row.html", context)
    return with_status(request, domain, response, changed) if changed else response


@login_required
def alias_edit(request: HttpRequest, name: str, alias_id: int) -> HttpResponse:
    """GET: the row as a form. POST: save it (with a version check) and give back the row."""
    domain = get_domain_for_user(request, name, write=True)
    alias = _alias(domain, alias_id)
    refuse_untouchable(request, alias)
    if request.method != "POST":
        return render(request, "aliases/_row_edit.html", {"domain": domain, "alias": alias, "form": alias_form(alias)})
    change = CountedChange.watch(domain, [alias.pk])
    form = request.POST
    changes: dict[str, Any] = {
        "key": form.get("key", alias.key),
        "destinations": form.get("destinations", ""),
        "comment": form.get("comment", ""),
        "enabled": form.get("enabled") == "on",
    }
    try:
        alias = services.update_alias(alias, version=_int(form.get("version")), user=current_user(request), **changes)
    except services.StaleEdit as stale:
        return render(
            request,
            "aliases/_row_edit.html",
            {"domain": domain, "alias": stale.current, "form": changes, "conflict": stale.current, "error": str(stale)},
        )
    except services.AliasError as exc:
        return render(
            request,
            "aliases/_row_edit.html",
            {
                "domain": domain,
                "alias": alias,
                "form": changes,
                "error": str(exc),
                "error_field": exc.field,
                "version": form.get("version"),
            },
        )
    claimed = claims_message(domain, alias.claimed)  # type: ignore[attr-defined]
    return _row(request, domain, alias, changed=change, saved=True, claimed=claimed)


def alias_form(alias: Alias) -> dict[str, Any]:
    return {"key": alias.key, "destinations": alias.destinations, "comment": alias.comment, "enabled": alias.enabled}


@login_required
@require_GET
def alias_row(request: HttpRequest, name: str, alias_id: int) -> HttpResponse:
    domain = get_domain_for_user(request, name)
    return _row(request, domain, _alias(domain, alias_id))


@login_required
@require_POST
def alias_toggle(request: HttpRequest, name: str, alias_id: int) -> HttpResponse:
    domain = get_domain_for_user(request, name, write=True)
    alias = _alias(domain, alias_id)
    refuse_untouchable(request, alias)
    change = CountedChange.watch(domain, [alias.pk])
    try:
        alias = services.update_alias(
            alias,
            version=_int(request.POST.get("version")),
            user=current_user(request),
            enabled=not alias.enabled,
        )
    except services.StaleEdit as stale:
        return _row(request, domain, stale.current, error=str(stale))
    except services.KeyNotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.AliasError as exc:  # a limit: too many destinations to switch it on
        return _row(request, domain, alias, error=str(exc))
    claimed = claims_message(domain, alias.claimed)  # type: ignore[attr-defined]
    return _row(request, domain, alias, changed=change, saved=True, claimed=claimed)


@login_required
@require_POST
def alias_delete(request: HttpRequest, name: str, alias_id: int) -> HttpResponse:
    domain = get_domain_for_user(request, name, write=True)
    alias = _alias(domain, alias_id)
    refuse_untouchable(request, alias)
    change = CountedChange.watch(domain, [alias.pk])
    try:
        services.soft_delete_alias(alias, version=_int(request.POST.get("version")), user=current_user(request))
    except services.StaleEdit as stale:
        return _row(request, domain, stale.current, error=str(stale))
    return with_status(request, domain, HttpResponse(""), change)


@login_required
@require_POST
def alias_create(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name, write=True)
    form = request.POST
    try:
        alias = services.create_alias(
            domain,
            form.get("key", ""),
            form.get("destinations", ""),
            user=current_user(request),
            comment=form.get("comment", ""),
            enabled=form.get("enabled", "on") == "on",
        )
    except services.AliasError as exc:
        context = _grid_context(request, domain)
        if not context.get("editable"):  # no form to say it under (an alias domain): said in a flash
            messages.error(request, str(exc))
        context.update(
            domain_status(domain),
            limit_warnings=warnings_for(domain),
            new=form,
            new_error=str(exc),
            new_error_field=exc.field,
        )
        return render(request, "aliases/domain_detail.html", context, status=422)
    added = _("Added {key}.").format(key=alias.key)
    messages.success(request, f"{added} {claims_message(domain, alias.claimed)}".strip())  # type: ignore[attr-defined]
    return redirect(reverse("domain-detail", args=[domain.name]) + f"?q={alias.key}")


BULK_ACTIONS = {"enable", "disable", "delete", "restore", "purge"}


@login_required
@require_POST
def alias_bulk(request: HttpRequest, name: str) -> HttpResponse:
    action = request.POST.get("action", "")
    domain = get_domain_for_user(request, name, write=True, admin=action == "purge")
    ids = [_int(i) for i in request.POST.getlist("ids") if i.isdigit()][:1000]
    back = _back(request, reverse("domain-detail", args=[domain.name]))
    change = CountedChange.watch(domain, ids)
    if action not in BULK_ACTIONS or not ids:
        return _bulk_answer(request, domain, back, change, messages.WARNING, _("Select aliases and an action first."))
    try:
        done = services.bulk_change(domain, ids, action, user=current_user(request))
    except services.KeyNotAllowed as exc:
        if not request.headers.get("HX-Request"):
            raise PermissionDenied(str(exc)) from exc
        return _bulk_answer(request, domain, back, change, messages.ERROR, str(exc))
    except services.AliasError as exc:
        return _bulk_answer(request, domain, back, change, messages.ERROR, str(exc))
    return _bulk_answer(request, domain, back, change, messages.SUCCESS, bulk_note(action, done))


def bulk_note(action: str, done: int) -> str:
    notes = {
        "enable": ngettext("Switched on: %(count)s alias.", "Switched on: %(count)s aliases.", done),
        "disable": ngettext("Switched off: %(count)s alias.", "Switched off: %(count)s aliases.", done),
        "delete": ngettext("Moved to trash: %(count)s alias.", "Moved to trash: %(count)s aliases.", done),
        "restore": ngettext("Restored: %(count)s alias.", "Restored: %(count)s aliases.", done),
        "purge": ngettext("Purged: %(count)s alias.", "Purged: %(count)s aliases.", done),
    }
    return notes[action] % {"count": done}


def _bulk_answer(
    request: HttpRequest, domain: Domain, back: str, change: CountedChange, level: int, note: str
) -> HttpResponse:
    """After a bulk action: from the grid (htmx), the grid of the view it was in, with ``note`` and the
    page head's counts; otherwise ``note`` as a message and a redirect to ``back``."""
    change.carry()
    path, _sep, view = back.partition("?")
    if not request.headers.get("HX-Request") or path != reverse("domain-detail", args=[domain.name]):
        messages.add_message(request, level, note)
        return redirect(back)
    context = _grid_context(request, domain, QueryDict(view))
    context.update(grid_path=back, note=note, note_tag=messages.DEFAULT_TAGS[level])
    return with_status(request, domain, render(request, "aliases/_grid.html", context), change)


@login_required
def alias_paste(request: HttpRequest, name: str) -> HttpResponse:
    """Add many aliases at once, written as map lines; the same parser and checks as import."""
    domain = get_domain_for_user(request, name, write=True)
    context = domain_page_context(request, domain, "paste", text="", **paste_input.limits())
    if request.method == "POST":
        try:
            paste_input.check_request_size(request)
            text = paste_input.pasted_text(request)
        except paste_input.PasteTooLarge as exc:
            context["problems"] = [str(exc)]
            return render(request, "aliases/paste.html", context, status=413)
        except paste_input.NotMapText as exc:
            context["problems"] = [str(exc)]
            context["text"] = request.POST.get("text", "")
            return render(request, "aliases/paste.html", context, status=422)
        context["text"] = text
        try:
            pasted = services.add_pasted(domain, text, user=current_user(request))
        except services.PasteRefused as exc:
            context["problems"] = exc.problems
            return render(request, "aliases/paste.html", context, status=422)
        added = pasted.added
        note = claims_message(domain, pasted.claimed)
        done = ngettext("Added {count} alias.", "Added {count} aliases.", added).format(count=added)
        messages.success(request, f"{done} {note}".strip())
        return redirect("domain-detail", domain.name)
    return render(request, "aliases/paste.html", context)


@login_required
@require_GET
def alias_history(request: HttpRequest, name: str, alias_id: int) -> HttpResponse:
    domain = get_domain_for_user(request, name)
    alias = _alias(domain, alias_id)
    versions = services.alias_versions(alias)
    context = domain_page_context(request, domain, "aliases", alias=alias, versions=versions)
    return render(request, "aliases/history.html", context)


@login_required
@require_POST
def alias_restore_version(request: HttpRequest, name: str, alias_id: int, history_id: int) -> HttpResponse:
    domain = get_domain_for_user(request, name, write=True)
    alias = _alias(domain, alias_id)
    refuse_untouchable(request, alias)
    record = alias.history.filter(history_id=history_id).only("history_date").first()
    try:
        version = _int(request.POST.get("version"))
        services.restore_version(alias, history_id, version=version, user=current_user(request))
    except services.AliasError as exc:
        messages.error(request, str(exc))
    else:
        when = date_format(timezone.localtime(record.history_date), "DATETIME_FORMAT") if record is not None else ""
        messages.success(request, _("%(key)s is back to its version of %(when)s.") % {"key": alias.key, "when": when})
    return redirect("alias-history", domain.name, alias.pk)


@login_required
@require_GET
def trash(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name)
    rows = (
        Alias.objects.filter(domain=domain, deleted_at__isnull=False)
        .select_related("updated_by")
        .order_by("-deleted_at")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(_int(request.GET.get("page"), 1))
    context = domain_page_context(request, domain, "trash", page=page, is_admin=can_administer(current_user(request)))
    return render(request, "aliases/trash.html", context)
