"""API test fixtures: the web tests' people and domains, a token for each, a JSON client.

alice is an administrator, bob edits example.com, carol is an auditor, dave reads
example.com, erin has no domain at all; other.org is granted to nobody.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aliasdesk.accounts.models import User
from aliasdesk.api.tokens import create_token
from tests.web.conftest import alice, bob, carol, dave, erin, example, login, other  # noqa: F401 (fixtures)
from tests.web.conftest import everyone as everyone

BASE = "/api/v1"


class Api:
    """A client that sends a bearer token (or none) and JSON bodies, and reads JSON back."""

    def __init__(self, token: str | None, client: Client | None = None) -> None:
        self.token = token
        self.client = client or Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        url = path if path.startswith("/") else f"{BASE}/{path}"
        handler = getattr(self.client, method.lower())
        if method.upper() in ("GET", "DELETE") and body is None:
            response = handler(url, params or None, headers=self._headers()) if method.upper() == "GET" else (
                handler(url + _query(params), headers=self._headers())
            )
        else:
            data = json.dumps(body) if body is not None else ""
            response = handler(url + _query(params), data, content_type="application/json", headers=self._headers())
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.call("POST", path, body, **params)

    def patch(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.call("PATCH", path, body, **params)

    def put(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.call("PUT", path, body, **params)

    def delete(self, path: str, **params: Any) -> Any:
        return self.call("DELETE", path, **params)


def _query(params: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    if not params:
        return ""
    return "?" + urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()})


def token_for(user: User, **options: Any) -> str:
    return create_token(user, by=None, **options).secret


@pytest.fixture
def api_as(everyone: dict[str, User]) -> Callable[..., Api]:
    """``api_as("bob")``: a client with a fresh token of bob; options as create_token's."""

    def make(name: str, **options: Any) -> Api:
        return Api(token_for(everyone[name], **options))

    return make
