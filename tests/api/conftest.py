"""The web tests' named users and domains (alice admin, bob editor of example.com, carol
auditor, dave viewer of example.com, erin with no domain; other.org granted to nobody)."""

from tests.web.conftest import alice, bob, carol, dave, erin, everyone, example, login, other  # noqa: F401
