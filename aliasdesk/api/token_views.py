"""API tokens in the web: each user makes and revokes their own; administrators see and revoke all."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from aliasdesk.accounts.access import ReadOnlyMode
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases.access import visible_domains
from aliasdesk.api import tokens
from aliasdesk.api.models import ApiToken

NEW_TOKEN = "aliasdesk_new_api_token"  # session key: the secret, shown once on the next page


def _refuse_in_demo(request: HttpRequest) -> None:
    from django.conf import settings

    if settings.DEMO_READONLY:
        raise ReadOnlyMode(_("this demo is read-only"))


def _state(token: ApiToken, now: Any) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def token_list(request: HttpRequest) -> HttpResponse:
    """The user's tokens (an administrator's page lists everybody's) and the form for a new one."""
    user = current_user(request)
    error = ""
    form: dict[str, Any] = {"name": "", "domains": [], "read_only": False, "expires": ""}
    if request.method == "POST":
        _refuse_in_demo(request)
        expires = request.POST.get("expires", "").strip()
        form = {
            "name": request.POST.get("name", ""),
            "domains": request.POST.getlist("domains"),
            "read_only": request.POST.get("read_only") == "on",
            "expires": expires,
        }
        try:
            if expires and not expires.isdigit():
                raise tokens.TokenError(_("expiry is a number of days, or empty for never"))
            made = tokens.create_token(
                user,
                by=user,
                name=form["name"],
                domains=form["domains"],
                read_only=form["read_only"],
                expires_days=int(expires) if expires else None,
            )
        except tokens.TokenError as exc:
            error = str(exc)
        else:
            request.session[NEW_TOKEN] = {"id": made.token.pk, "secret": made.secret}
            return redirect("token-list")
    now = timezone.now()
    rows = [(token, _state(token, now)) for token in tokens.tokens_for(user)]
    context = {
        "rows": rows,
        "new": request.session.pop(NEW_TOKEN, None),
        "domains": list(visible_domains(user).values_list("name", flat=True)),
        "form": form,
        "error": error,
        "everybody": user.is_admin,
        "nav": "",
    }
    return render(request, "api/tokens.html", context, status=422 if error else 200)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = current_user(request)
    _refuse_in_demo(request)
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id)
    if token.user_id != user.pk and not user.is_admin:
        raise PermissionDenied(_("you may revoke only your own tokens"))
    if tokens.revoke_token(token, by=user):
        text = _("Token %(token)s is revoked: it stopped working at once.") % {"token": token.prefix}
        messages.success(request, text)
    return redirect("token-list")
