"""Alias domains in a real browser: an admin makes example.net an alias domain of example.com in
its settings, and its page then lists the generated lines read-only, with target and mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Domain
from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST

NOTES_SHOTS = Path("/work/notes/shots")


def test_admin_makes_an_alias_domain_and_its_page_is_read_only(ui: UI, desk: Desk):
    alice = desk.users["alice"]
    services.create_domain("example.net", user=alice)
    ui.sign_in(alice)
    ui.open("/domains/example.net/settings")
    ui.page.get_by_label("Alias domain of").select_option(label="example.com")
    ui.page.get_by_label("Expand (recommended)", exact=False).check()
    ui.page.locator("#alias-domain-form").scroll_into_view_if_needed()
    _keep(ui.shot("alias-domain-settings"))
    ui.page.get_by_role("button", name="Save alias domain").click()
    expect(ui.page.get_by_text("example.net is now an alias domain of example.com")).to_be_visible()
    ui.check_assets()
    assert Domain.objects.get(name="example.net").alias_of_id == desk.domains["example.com"].pk

    expect(ui.page.locator("#alias-domain-note")).to_contain_text("example.net is an alias domain of example.com")
    rows = ui.page.locator("#generated-lines tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("info@example.net")
    expect(rows.first).to_contain_text("info@example.com")
    expect(ui.page.get_by_role("button", name="Add an alias")).to_have_count(0)
    expect(ui.page.get_by_role("link", name="Add many")).to_have_count(0)
    _keep(ui.shot("alias-domain-page"))

    ui.page.get_by_role("link", name="example.com", exact=True).click()
    expect(ui.page.get_by_role("button", name="Add an alias")).to_be_visible()


def _keep(path: Path) -> None:
    """A copy for the people reviewing this work, when their notes folder is there."""
    if NOTES_SHOTS.is_dir():
        shutil.copy(path, NOTES_SHOTS / path.name)
