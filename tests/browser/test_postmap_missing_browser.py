"""Without postmap: the domain list and the deploy preview say so (screenshots/postmap-missing-*.png)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def test_the_pages_say_how_to_get_postmap(ui: UI, desk: Desk, settings):
    settings.POSTMAP = "/nonexistent/sbin/postmap"
    ui.sign_in(desk.users["alice"])
    ui.open("/domains/")
    expect(ui.page.locator("#postmap-missing")).to_contain_text("apt install postfix")
    ui.shot("postmap-missing-domains")
    ui.open("/domains/example.com/deploy")
    expect(ui.page.locator("#postmap-missing")).to_be_visible()
    expect(ui.page.get_by_role("button", name="Deploy now")).to_have_count(0)
    ui.shot("postmap-missing-deploy")
