from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_GET


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links to: the SVG icon, for good."""
    return redirect(static("aliasdesk/favicon.svg"), permanent=True)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("domain-list")


urlpatterns = [
    path("healthz", healthz),
    path("favicon.ico", favicon, name="favicon"),
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
