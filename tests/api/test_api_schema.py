"""schemathesis against the API's own OpenAPI document, through the WSGI application.

Generated requests (valid ones and malformed ones) with an administrator's token on a
domain with aliases, history and a deploy: no answer may be a server error, and every
answer must match the schema the document gives for its status.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Domain
from aliasdesk.wsgi import application
from tests.api.conftest import token_for

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore")]

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture
def admin_token(example: Domain, other: Domain, alice: User) -> str:
    return token_for(alice)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_answers_every_generated_request_within_its_schema(case, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    # Most generated names are no domain at all: every other case asks a real one.
    if case.path_parameters and "name" in case.path_parameters and hash(str(case.body) + str(case.query)) % 2:
        case.path_parameters["name"] = "example.com"
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
