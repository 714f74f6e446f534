"""Pages over every domain a user may see: the search across domains and offboarding."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from aliasdesk.accounts.current import current_user
from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.across import AcrossPaginator, search_words
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.offboard import Offboarding, OffboardRefused, offboard, plan_offboarding

PAGE_SIZE = 50


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """Aliases of every domain the user may see whose key, destinations or comment hold the words."""
    q = request.GET.get("q", "").strip()[:200]
    page = AcrossPaginator(current_user(request), q, PAGE_SIZE).get_page(_int(request.GET.get("page")))
    words = search_words(q)
    # A search for one address offers to take it out of every alias (offboarding), to those who edit.
    one = len(words) == 1 and "@" in words[0] and page.paginator.count and _edits_some_domain(current_user(request))
    address = words[0] if one else ""
    context = {"q": q, "page": page, "nav": "search", "address": address}
    template = "aliases/_search_results.html" if request.headers.get("HX-Request") else "aliases/search.html"
    return render(request, template, context)


def _edits_some_domain(user: User) -> bool:
    """Whether the user may change aliases in any domain (the offboarding link is for them)."""
    if settings.DEMO_READONLY or user.role in (User.Role.AUDITOR, User.Role.VIEWER):
        return False
    return user.is_admin or Grant.objects.filter(user=user, role=Grant.Role.EDITOR).exists()


class OffboardForm:
    """What the offboarding page was asked: the old address, the new one or removal, and
    whether aliases left without destinations are switched off."""

    def __init__(self, data: QueryDict) -> None:
        self.old = data.get("old", "").strip()[:512]
        self.mode = "remove" if data.get("mode") == "remove" else "replace"
        self.new = data.get("new", "").strip()[:512] if self.mode == "replace" else ""
        self.switch_off = data.get("switch_off") == "on"
        self.change_id = data.get("change", "")[:8]

    def run(self, user: Any, *, dry_run: bool, expected: dict[int, int] | None = None) -> Offboarding:
        if self.mode == "replace" and not self.new:
            raise AliasError(_("give the new destination, or choose to remove the old one"), "new")
        new = self.new if self.mode == "replace" else None
        if dry_run:
            return plan_offboarding(user, self.old, new, switch_off_empty=self.switch_off)
        return offboard(
            user, self.old, new, switch_off_empty=self.switch_off, expected=expected, change_id=self.change_id
        )


def _expected(data: QueryDict) -> dict[int, int]:
    """The aliases and versions the preview showed (``seen`` = "id:version")."""
    seen: dict[int, int] = {}
    for value in data.getlist("seen"):
        pk, _colon, version = value.partition(":")
        if pk.isdigit() and version.isdigit():
            seen[int(pk)] = int(version)
    return seen


@login_required
@require_http_methods(["GET", "POST"])
def offboard_page(request: HttpRequest) -> HttpResponse:
    """GET: the form, and with an address the preview of every alias it touches. POST: apply
    what the preview showed (refused, changing nothing, when the aliases changed since)."""
    user = current_user(request)
    data = request.POST if request.method == "POST" else request.GET
    form = OffboardForm(data)
    context: dict[str, Any] = {"form": form, "nav": "search"}
    # The search page links here with the address alone: the form first, the preview once there is a choice.
    if form.old and (request.method == "POST" or form.mode == "remove" or form.new):
        try:
            if request.method == "POST":
                context["done"] = form.run(user, dry_run=False, expected=_expected(data))
            else:
                context["plan"] = form.run(user, dry_run=True)
        except OffboardRefused as exc:
            context.update(error=str(exc), plan=exc.plan)
        except AliasError as exc:
            context["error"] = str(exc)
    elif request.method == "POST":
        context["error"] = _("give the address to take out of the aliases")
    return render(request, "aliases/offboard.html", context)
