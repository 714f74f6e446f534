"""The deploy's checks run on the live maps while Postfix reads the database directly
(``postfix-config --sync``), loops across maps included, and show on the domain page."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Domain, LiveCheck
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.aliases.virtual_store import forget_lookup_file
from aliasdesk.deploys.live_checks import check_live_maps

pytestmark = pytest.mark.django_db


@pytest.fixture
def maps(aliasdesk_settings: Any) -> tuple[Domain, Domain]:
    alpha, zeta = create_domain("alpha.example"), create_domain("zeta.example")
    # Each map alone is fine; together they send the mail round in a circle.
    create_alias(alpha, "a@alpha.example", "b@zeta.example")
    create_alias(zeta, "b@zeta.example", "a@alpha.example")
    create_alias(alpha, "ok@alpha.example", "someone@example.org")
    return alpha, zeta


@pytest.fixture
def admin_client(db: Any) -> Client:
    user = User(username="alice", role=User.Role.ADMIN, is_staff=True)
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_a_loop_through_two_maps_is_found_on_the_live_maps(maps: tuple[Domain, Domain]) -> None:
    checks = {c.domain.name: c for c in check_live_maps()}
    assert set(checks) == {"alpha.example", "zeta.example"}
    for check in checks.values():  # shown on both maps the loop passes through
        loops = [str(f["message"]) for f in check.findings if f["code"] == "loop"]
        assert len(loops) == 1 and "b@zeta.example -> a@alpha.example -> b@zeta.example" in loops[0]
    assert not [f for f in checks["alpha.example"].findings if f["key"] == "ok@alpha.example"]


def test_nothing_is_checked_again_until_a_map_changes(maps: tuple[Domain, Domain]) -> None:
    alpha, _ = maps
    assert len(check_live_maps()) == 2
    assert check_live_maps() == []
    create_alias(alpha, "new@alpha.example", "x@example.org")
    assert len(check_live_maps()) == 2  # a change of one map can close a loop through another


def test_the_domain_page_shows_the_live_findings(maps: tuple[Domain, Domain], admin_client: Client) -> None:
    assert b"live-checks" not in admin_client.get("/domains/alpha.example/").content
    out = io.StringIO()
    call_command("postfix_config", "--sync", stdout=out)
    forget_lookup_file()
    assert "alpha.example: 0 error(s), 1 warning(s) in the live map" in out.getvalue()
    assert LiveCheck.objects.count() == 2
    page = admin_client.get("/domains/alpha.example/").content.decode()
    assert 'id="live-checks"' in page and "b@zeta.example -&gt; a@alpha.example" in page
