"""/api/…: version 1 of the API, and JSON (never an HTML page) for any other path under it."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, path, re_path
from django.utils.translation import gettext as _

from aliasdesk.api.api import api

JSON = "application/json; charset=utf-8"


def _json(status: int, detail: str) -> HttpResponse:
    return HttpResponse(json.dumps({"detail": detail}), status=status, content_type=JSON)


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _json(
        404, _("no such API path: %(path)s (the API is under /api/v1/, see /api/v1/docs)") % {"path": request.path}
    )


def _json_refusals(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """django-ninja answers a method a path does not take with a plain-text 405: JSON instead."""

    @functools.wraps(view)  # keeps csrf_exempt: only tokens authenticate here
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            refusal = _json(
                405,
                _("%(method)s is not allowed on %(path)s; it takes %(allowed)s")
                % {"method": request.method, "path": request.path, "allowed": allowed},
            )
            refusal["Allow"] = allowed
            return refusal
        return response

    return wrapped


def _v1() -> tuple[list[Any], str, str]:
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _json_refusals(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [
    path("v1/", _v1()),
    re_path(r"^(?P<rest>.*)$", not_found),
]
