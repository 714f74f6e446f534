"""Every refusal of the API as JSON, in one place: ``{"detail": "..."}`` and a fitting status.

401 no or a bad token · 403 visible but not the token's to change · 404 not there (or not
visible) · 409 a stale version or a state that refuses the change · 422 invalid input, with
``errors`` per field · 400 a body that is not JSON. The services raise the same exceptions
for the web pages; here each becomes its status.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from aliasdesk.aliases.bulk_add import BulkRefused
from aliasdesk.aliases.importer import ImportRefused
from aliasdesk.aliases.ownership import AliasDomainRefused, KeyNotAllowed
from aliasdesk.aliases.services import AliasError, PasteRefused, StaleEdit
from aliasdesk.api.schemas import alias_out

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

log = logging.getLogger(__name__)

# The details follow the client's Accept-Language (LocaleMiddleware); keys and statuses never change.
NO_TOKEN = gettext_lazy(
    "this API takes a token: send the header 'Authorization: Bearer <token>' "
    "(make one with `aliasdesk token create USER` or on your account page)"
)
BAD_TOKEN = gettext_lazy("the token is not valid: it is unknown, revoked or expired, or its user is disabled")


def problem(api: NinjaAPI, request: HttpRequest, status: int, detail: StrOrPromise, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"detail": str(detail), **extra}, status=status)


def _unauthorized(api: NinjaAPI, request: HttpRequest, exc: Any) -> HttpResponse:
    given = bool(request.headers.get("Authorization", "").strip())
    response = problem(api, request, 401, BAD_TOKEN if given else NO_TOKEN)
    challenge = 'Bearer realm="aliasdesk"'
    response["WWW-Authenticate"] = f'{challenge}, error="invalid_token"' if given else challenge
    return response


def _field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    """``["body", "payload", "aliases", 3, "key"]`` -> ``aliases[3].key``."""
    parts = [p for p in loc[1:] if p != "payload"] if loc and loc[0] == "body" else list(loc[1:] or loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or str(loc[0] if loc else "body")


def _invalid(api: NinjaAPI, request: HttpRequest, exc: Any) -> HttpResponse:
    errors: dict[str, str] = {}
    for error in exc.errors:
        errors.setdefault(_field_name(error.get("loc", ())), str(error.get("msg", _("not valid"))))
    first = next(iter(errors.items()), ("body", _("not valid")))
    if len(errors) > 1:
        detail = ngettext(
            "the request is not valid: %(field)s: %(problem)s (and %(more)s more, see errors)",
            "the request is not valid: %(field)s: %(problem)s (and %(more)s more, see errors)",
            len(errors) - 1,
        ) % {"field": first[0], "problem": first[1], "more": len(errors) - 1}
    else:
        detail = _("the request is not valid: %(field)s: %(problem)s") % {"field": first[0], "problem": first[1]}
    return problem(api, request, 422, detail, errors=errors)


def _alias_error(api: NinjaAPI, request: HttpRequest, exc: Any) -> HttpResponse:
    if isinstance(exc, StaleEdit):
        current = exc.current
        return problem(api, request, 409, str(exc), current=alias_out(current, current.domain.name))
    if isinstance(exc, KeyNotAllowed):
        return problem(api, request, 403, str(exc), errors={exc.field or "key": str(exc)})
    if isinstance(exc, AliasDomainRefused):
        return problem(api, request, 409, str(exc))
    if isinstance(exc, BulkRefused):
        errors: dict[str, str] = {}
        for item in exc.problems:
            where = f"aliases[{item.index}]" if item.index >= 0 else "aliases"
            errors.setdefault(f"{where}.{item.field}" if item.field and item.index >= 0 else where, item.message)
        status = 403 if all(item.refused for item in exc.problems) else 422
        return problem(api, request, status, str(exc), errors=errors)
    if isinstance(exc, PasteRefused):
        return problem(api, request, 422, str(exc), errors={"text": "; ".join(exc.problems[:20])})
    if isinstance(exc, ImportRefused):
        return problem(api, request, 422, str(exc), errors={"file": "; ".join(map(str, exc.problems[:20]))})
    return problem(api, request, 422, str(exc), errors={exc.field: str(exc)} if exc.field else {})


def _http_error(api: NinjaAPI, request: HttpRequest, exc: Any) -> HttpResponse:
    detail = str(exc)
    if exc.status_code == 400 and "parse" in detail.lower():
        detail = _("the request body is not valid JSON")
    return problem(api, request, exc.status_code, detail)


def _unexpected(api: NinjaAPI, request: HttpRequest, exc: Any) -> HttpResponse:
    log.exception("API %s %s failed", request.method, request.path)
    return problem(api, request, 500, _("the server failed to answer this request; the error is in its log"))


def install(api: NinjaAPI) -> None:
    """The API's exception handlers: the one place that turns refusals into statuses."""
    api.add_exception_handler(AuthenticationError, lambda r, e: _unauthorized(api, r, e))
    api.add_exception_handler(ValidationError, lambda r, e: _invalid(api, r, e))
    api.add_exception_handler(HttpError, lambda r, e: _http_error(api, r, e))
    api.add_exception_handler(Http404, lambda r, e: problem(api, r, 404, str(e) or _("not found")))
    api.add_exception_handler(
        PermissionDenied, lambda r, e: problem(api, r, 403, str(e) or _("this token may not do that"))
    )
    api.add_exception_handler(AliasError, lambda r, e: _alias_error(api, r, e))
    api.add_exception_handler(Exception, lambda r, e: _unexpected(api, r, e))
