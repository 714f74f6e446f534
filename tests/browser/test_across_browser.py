"""Across domains in a real browser: the search over every domain (as you type) and the
offboarding preview and its result, at 1280×900 and on a phone.

Screenshots: screenshots/search-across.png, search-across-phone.png, offboard-preview.png,
offboard-preview-phone.png and offboard-done.png.
"""

from __future__ import annotations

import pytest

from aliasdesk.aliases import services
from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST

LEAVER = "carla@example.net"


@pytest.fixture
def leaving(desk: Desk) -> Desk:
    """carla@example.net in both domains: sales@ and team@ of example.com, accounts@ of example.org."""
    services.create_alias(desk.domains["example.org"], "accounts@example.org", f"{LEAVER}, paul@example.net",
                          comment="finance shared box")
    return desk


def fits(ui: UI) -> None:
    widths = ui.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is wider than the window: {widths}"


def test_the_search_finds_an_address_in_every_domain_as_you_type(ui: UI, leaving: Desk) -> None:
    ui.sign_in(leaving.users["alice"])
    ui.open("/domains/")
    ui.page.get_by_role("link", name="Search", exact=True).click()
    ui.check_assets()
    ui.page.locator("#q").press_sequentially(LEAVER, delay=10)
    groups = ui.page.locator(".search-group h2")
    expect(groups).to_have_text(["example.com", "example.org"])
    expect(ui.page.locator("#search-summary")).to_contain_text("3 aliases")
    expect(ui.page).to_have_url(f"{ui.base_url}/search/?q=carla%40example.net")
    ui.shot("search-across")
    ui.page.locator(f"#hit-{leaving.alias('team@example.com').pk} a").click()
    ui.check_assets()
    expect(ui.page.locator(f"#alias-{leaving.alias('team@example.com').pk}")).to_be_visible()


def test_a_viewer_searches_only_their_domain_on_a_phone(phone: UI, leaving: Desk) -> None:
    phone.sign_in(leaving.users["dave"])
    phone.open(f"/search/?q={LEAVER}")
    expect(phone.page.locator(".search-group h2")).to_have_text(["example.com"])
    fits(phone)
    phone.shot("search-across-phone")


def test_offboarding_preview_then_apply(ui: UI, leaving: Desk) -> None:
    ui.sign_in(leaving.users["alice"])
    ui.open(f"/search/?q={LEAVER}")
    ui.page.locator("#offboard-link").click()
    ui.check_assets()
    expect(ui.page.locator("#old")).to_have_value(LEAVER)
    ui.page.locator("#new").fill("nina@example.net")
    ui.page.get_by_role("button", name="Preview").click()
    ui.check_assets()
    rows = ui.page.locator("#offboard-items tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("nina@example.net")
    button = ui.page.locator("#offboard-apply button")
    expect(button).to_have_text("Change 3 aliases in 2 domains")
    ui.shot("offboard-preview")
    button.click()
    ui.check_assets()
    expect(ui.page.locator("#offboard-done")).to_contain_text("3 aliases changed")
    expect(ui.page.locator("#offboard-deploys a")).to_have_text(["example.com", "example.org"])
    ui.shot("offboard-done")
    assert leaving.alias("team@example.com").destinations == "anna@example.net, nina@example.net, dario@example.net"
    ui.page.locator("#offboard-deploys a").first.click()
    ui.check_assets()
    expect(ui.page).to_have_url(f"{ui.base_url}/domains/example.com/deploy")


def test_an_editor_sees_what_is_skipped_and_what_is_refused_on_a_phone(phone: UI, leaving: Desk) -> None:
    phone.sign_in(leaving.users["bob"])
    phone.open(f"/offboard/?old={LEAVER}&mode=remove")
    expect(phone.page.locator("#offboard-items tbody tr")).to_have_count(2)
    expect(phone.page.locator("#offboard-apply")).to_have_count(0)
    phone.page.get_by_label("Switch off aliases").check()
    phone.page.get_by_role("button", name="Preview").click()
    phone.check_assets()
    expect(phone.page.locator("#offboard-items")).to_contain_text("switched off (no destination left)")
    expect(phone.page.locator("#offboard-apply button")).to_be_visible()
    fits(phone)
    phone.shot("offboard-preview-phone")
