"""Webhook pages: administrators manage hooks; auditors see them and their deliveries."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from aliasdesk.accounts.access import ReadOnlyMode, require_reader_of_everything
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.models import Domain
from aliasdesk.webhooks import services
from aliasdesk.webhooks.models import EVENTS, Delivery, Hook


def get_hook_for_user(request: HttpRequest, hook_id: int | None = None, *, write: bool = False) -> Hook | None:
    """The one place that decides access: 404 for who may not see webhooks (editors, viewers),
    403 for an auditor who tries to change one; the hook (or None when no id is given)."""
    require_reader_of_everything(request)
    if write:
        if not current_user(request).is_admin:
            raise PermissionDenied(_("only administrators change webhooks"))
        if settings.DEMO_READONLY:
            raise ReadOnlyMode(_("this demo is read-only"))
    if hook_id is None:
        return None
    return get_object_or_404(Hook.objects.select_related("domain"), pk=hook_id)


def _input(form: QueryDict) -> services.HookInput:
    return services.HookInput(
        url=form.get("url", ""),
        domain=form.get("domain", ""),
        events=tuple(form.getlist("events")),
        description=form.get("description", ""),
        enabled=form.get("enabled") == "on",
        allow_private=form.get("allow_private") == "on",
    )


def _form_context(request: HttpRequest, hook: Hook | None, **extra: Any) -> dict[str, Any]:
    domains = Domain.objects.filter(deleted_at__isnull=True).order_by("name").values_list("name", flat=True)
    return {"nav": "webhooks", "hook": hook, "events": EVENTS.items(), "domains": list(domains), **extra}


def _form_of(hook: Hook) -> dict[str, Any]:
    return {
        "url": hook.url, "domain": hook.domain.name if hook.domain else "", "events": hook.events,
        "description": hook.description, "enabled": hook.enabled, "allow_private": hook.allow_private,
    }


def _posted(form: QueryDict) -> dict[str, Any]:
    data = _input(form)
    return {**data.__dict__, "events": list(data.events)}


@login_required
@require_GET
def hook_list(request: HttpRequest) -> HttpResponse:
    get_hook_for_user(request)
    last = Delivery.objects.filter(hook=OuterRef("pk")).order_by("-id")
    hooks = Hook.objects.select_related("domain").annotate(
        last_status=Subquery(last.values("status")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
        last_code=Subquery(last.values("response_status")[:1]),
    )
    return render(request, "webhooks/list.html", {"nav": "webhooks", "hooks": hooks, "event_names": EVENTS})


@login_required
def hook_create(request: HttpRequest) -> HttpResponse:
    get_hook_for_user(request, write=True)
    if request.method != "POST":
        form = {"events": list(EVENTS), "enabled": True}
        return render(request, "webhooks/edit.html", _form_context(request, None, form=form))
    try:
        hook = services.create_hook(_input(request.POST), user=current_user(request))
    except services.HookError as exc:
        context = _form_context(request, None, form=_posted(request.POST), error=str(exc), error_field=exc.field)
        return render(request, "webhooks/edit.html", context, status=422)
    return _secret_page(request, hook, created=True)


@login_required
def hook_detail(request: HttpRequest, hook_id: int) -> HttpResponse:
    """GET: the hook (a form for administrators) and its deliveries. POST: save the form."""
    hook = get_hook_for_user(request, hook_id, write=request.method == "POST")
    assert hook is not None
    status = 200
    context = _form_context(request, hook, form=_form_of(hook))
    if request.method == "POST":
        try:
            services.update_hook(hook, _input(request.POST), user=current_user(request))
        except services.HookError as exc:
            hook.refresh_from_db()
            context.update(form=_posted(request.POST), error=str(exc), error_field=exc.field)
            status = 422
        else:
            messages.success(request, _("Saved the webhook."))
            return redirect("webhook-detail", hook.pk)
    deliveries = hook.deliveries.prefetch_related("attempt_set")
    wanted = request.GET.get("status", "")
    if wanted in Delivery.Status.values:
        deliveries = deliveries.filter(status=wanted)
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    context.update(page=page, statuses=Delivery.Status.choices, wanted=wanted)
    return render(request, "webhooks/detail.html", context, status=status)


@login_required
@require_POST
def hook_rotate(request: HttpRequest, hook_id: int) -> HttpResponse:
    hook = get_hook_for_user(request, hook_id, write=True)
    assert hook is not None
    services.rotate_secret(hook, user=current_user(request))
    return _secret_page(request, hook, created=False)


def _secret_page(request: HttpRequest, hook: Hook, *, created: bool) -> HttpResponse:
    """The secret, shown this once (never stored by a cache)."""
    response = render(request, "webhooks/secret.html", {"nav": "webhooks", "hook": hook, "created": created})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def hook_test(request: HttpRequest, hook_id: int) -> HttpResponse:
    hook = get_hook_for_user(request, hook_id, write=True)
    assert hook is not None
    services.send_test(hook, user=current_user(request))
    messages.success(request, _("Queued test delivery: the webhooks worker sends it within seconds."))
    return redirect("webhook-detail", hook.pk)


@login_required
@require_POST
def hook_delete(request: HttpRequest, hook_id: int) -> HttpResponse:
    hook = get_hook_for_user(request, hook_id, write=True)
    assert hook is not None
    url = hook.url
    services.delete_hook(hook, user=current_user(request))
    messages.success(request, _("Deleted the webhook to %(url)s and its deliveries.") % {"url": url})
    return redirect("webhook-list")


@login_required
@require_POST
def delivery_retry(request: HttpRequest, hook_id: int, delivery_id: int) -> HttpResponse:
    hook = get_hook_for_user(request, hook_id, write=True)
    delivery = get_object_or_404(Delivery, pk=delivery_id, hook=hook)
    if services.retry_delivery(delivery, user=current_user(request)):
        messages.success(request, _("The delivery of %(when)s will be sent again.") % {"when": _when(delivery)})
    else:
        message = _("The delivery of %(when)s has not failed: nothing to retry.") % {"when": _when(delivery)}
        messages.warning(request, message)
    return redirect("webhook-detail", delivery.hook_id)


def _when(delivery: Delivery) -> str:
    """A delivery as people find it on the page: by its time (its id is internal)."""
    return date_format(timezone.localtime(delivery.created_at), "DATETIME_FORMAT")
