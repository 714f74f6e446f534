from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def home(request: HttpRequest) -> HttpResponse:
    return redirect("domain-list")


urlpatterns = [
    path("healthz", healthz),
    path("", home),
    path("", include("aliasdesk.accounts.urls")),
    path("", include("aliasdesk.api.token_urls")),
    path("", include("aliasdesk.web.urls")),
    path("", include("aliasdesk.aliases.urls")),
    path("", include("aliasdesk.deploys.urls")),
    path("", include("aliasdesk.maillog.urls")),
    path("", include("aliasdesk.maillog.report_urls")),
    path("api/", include("aliasdesk.api.urls")),
    path("", include("aliasdesk.webhooks.urls")),
]

handler400 = "aliasdesk.aliases.paste_input.bad_request"
