"""Search across domains and offboarding: the web tests' people and domains, and aliases forwarding to bob.

alice is an administrator, bob edits example.com, carol is an auditor, dave reads
example.com, erin has no domain at all; other.org is granted to nobody. bob@example.org is
a destination in both domains, spelled several ways; ``root`` (a bare key, admin-only) in
example.com forwards to it too, so bob the editor may see that alias but not change it.
"""

from __future__ import annotations

import pytest

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias
from tests.api.conftest import api_as  # noqa: F401 - fixtures
from tests.cli.conftest import run  # noqa: F401
from tests.web.conftest import alice, bob, carol, dave, erin, login  # noqa: F401
from tests.web.conftest import everyone as everyone
from tests.web.conftest import example as example
from tests.web.conftest import other as other

BOB = "bob@example.org"


@pytest.fixture
def forwarders(example: Domain, other: Domain, everyone: dict[str, User]) -> dict[str, Alias]:
    """The aliases holding bob@example.org, by key; and one holding jimbob@ (no match)."""
    made = [
        create_alias(example, "team@example.com", "Bob@Example.org, carla@example.org", comment="the team"),
        create_alias(example, "solo@example.com", "bob@example.org"),
        create_alias(example, "root", "bob@example.org, admin@example.net"),
        create_alias(other, "help@other.org", '"bob"@example.org, dora@example.org'),
        create_alias(other, "old@other.org", "bob@example.org, x@example.net", enabled=False),
        create_alias(other, "jim@other.org", "jimbob@example.org"),
    ]
    return {a.key: a for a in made}
