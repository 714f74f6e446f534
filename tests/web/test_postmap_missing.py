"""Without postmap on the host, the domain list and the deploy preview say so and how to fix
it, and offer no "Deploy now"; in agent mode the agents' hosts run postmap, so nothing is said."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_postmap(settings, aliasdesk_settings):  # type: ignore[no-untyped-def]
    settings.POSTMAP = "/nonexistent/sbin/postmap"
    return settings


def test_the_pages_say_postmap_is_missing_and_offer_no_deploy(login, no_postmap):
    client = login("alice")
    listing = client.get("/domains/").content.decode()
    assert 'id="postmap-missing"' in listing and "apt install postfix" in listing
    preview = client.get("/domains/example.com/deploy").content.decode()
    assert 'id="postmap-missing"' in preview and "Deploy now" not in preview


def test_with_postmap_or_in_agent_mode_nothing_is_said(login, aliasdesk_settings, settings):
    client = login("alice")
    assert 'id="postmap-missing"' not in client.get("/domains/").content.decode()
    assert "Deploy now" in client.get("/domains/example.com/deploy").content.decode()
    settings.POSTMAP = "/nonexistent/sbin/postmap"
    settings.DEPLOY_MODE = "agent"
    assert 'id="postmap-missing"' not in client.get("/domains/").content.decode()
