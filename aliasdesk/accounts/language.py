"""A user's own interface language, chosen in the user menu (UserLanguageMiddleware applies it)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from aliasdesk.accounts.models import User


def choices() -> list[tuple[str, str]]:
    """The languages to choose from, each in its own language; "" follows the browser."""
    return [(code, name) for code, name in settings.LANGUAGES]


@login_required
@require_POST
def choose_language(request: HttpRequest) -> HttpResponse:
    """Keep the chosen language ("" for the browser's) and go back where the user was."""
    wanted = request.POST.get("language", "")
    if wanted != "" and wanted not in dict(settings.LANGUAGES):
        wanted = ""
    user = request.user
    assert isinstance(user, User)
    if user.language != wanted:
        user.language = wanted
        user.save(update_fields=["language"])
    translation.activate(wanted or translation.get_language_from_request(request))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
        back = "/"
    return redirect(back)
