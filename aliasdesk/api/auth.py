"""Who an API request acts as: the user of its bearer token, within the token's scope.

Only ``Authorization: Bearer <token>`` authenticates; a session cookie never does, so a
page open in a browser cannot be made to call the API (no CSRF to guard against). Each
operation runs inside ``limited_to(scope_of(token))`` and ``via("API")``: the services
refuse what the token may not do (read-only, other domains), and history says "via API".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from aliasdesk.accounts.channel import via
from aliasdesk.accounts.clientaddr import client_address
from aliasdesk.accounts.models import User
from aliasdesk.accounts.scope import limited_to
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.models import Domain
from aliasdesk.api.models import ApiToken
from aliasdesk.api.tokens import authenticate, scope_of


class TokenAuth(HttpBearer):
    """The bearer token of the request, checked (revoked, expired, disabled user: none)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return authenticate(token, client_address(request) or None)


def as_token_user(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run an operation as the token's user, in the token's scope, marked "via API"."""

    @functools.wraps(func)
    def operation(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return func(request, *args, **kwargs)  # the documents: no token needed
        # The user of the request from here on (history's user, current_user) is the token's,
        # whatever session cookie came along.
        request.user = token.user
        with limited_to(scope_of(token)), via("API"):
            return func(request, *args, **kwargs)

    return operation


def user_of(request: HttpRequest) -> User:
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    return token.user


def domain_for(request: HttpRequest, name: str, *, write: bool = False, admin: bool = False) -> Domain:
    """The domain if the token may see it (404), and change it when asked (403): the same
    function every web page asks."""
    return get_domain_for_user(request, name, write=write, admin=admin)
