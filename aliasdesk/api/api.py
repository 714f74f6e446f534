"""The REST API (/api/v1/): one NinjaAPI, its token authentication, its routes by topic.

OpenAPI 3 at /api/v1/openapi.json and the interactive documents at /api/v1/docs need no
token; every operation does (see auth.py). Refusals are JSON (see errors.py).
"""

from __future__ import annotations

from ninja import NinjaAPI, Swagger
from ninja.openapi.docs import ABS_TPL_PATH

from aliasdesk.api import across, aliases, bulk, deploys, domains, errors, reports
from aliasdesk.api.auth import TokenAuth, as_token_user


class LocalSwagger(Swagger):
    """ninja's Swagger page on its own static files, never a CDN. ninja picks those where an
    app is named "ninja"; here its files are found without making it an app (see settings)."""

    template_cdn = str(ABS_TPL_PATH / "swagger.html")


DESCRIPTION = """\
aliasdesk's aliases, domains and deploys for scripts and configuration management.

Send a token in every request: `Authorization: Bearer adk_…` (make one with
`aliasdesk token create USER` or on your account page). A token acts as its user, never with
more: read-only tokens and tokens limited to some domains are refused the rest.

Refusals are JSON with a `detail`: 401 no or a bad token, 403 a domain or alias the token may
see but not change, 404 one it may not see (or none), 409 a stale `version` (the body holds
the alias as it is now) or a state that refuses the change, 422 invalid input (with `errors`
per field).
"""

api = NinjaAPI(
    title="aliasdesk",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=TokenAuth(),
    docs=LocalSwagger(settings={"persistAuthorization": False}),
)
api.add_decorator(as_token_user)
errors.install(api)
# bulk's operations are on the aliases router (the desired set's PUT shares the list's path).
assert bulk.router is aliases.router
for module in (domains, aliases, deploys, reports, across):
    api.add_router("/", module.router)
