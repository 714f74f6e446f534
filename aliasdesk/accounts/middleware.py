"""The read-only demo: every change refused in one place, whatever the view."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

ALWAYS_ALLOWED = ("/login/", "/logout/")


class ReadOnlyDemoMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.DEMO_READONLY
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and request.path not in ALWAYS_ALLOWED
        ):
            return HttpResponseForbidden("This demo is read-only: nothing can be changed.", content_type="text/plain")
        return self.get_response(request)
