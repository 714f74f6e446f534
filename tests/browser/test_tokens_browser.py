"""API tokens in a real browser: an editor makes a read-only token for one domain, sees it
once, and revokes it; an administrator sees everybody's. Screenshots: screenshots/tokens-*.png."""

from __future__ import annotations

import pytest

from aliasdesk.api import tokens
from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def test_make_see_once_and_revoke_a_token(ui: UI, desk: Desk):
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/")
    ui.page.locator("summary", has_text="bob").click()
    ui.page.get_by_role("link", name="API tokens").click()
    ui.check_assets()
    expect(ui.page.get_by_role("heading", name="API tokens")).to_be_visible()
    ui.page.get_by_label("What it is for").fill("ticket tool")
    ui.page.get_by_label("example.com").check()
    ui.page.get_by_label("Read only").check()
    ui.page.get_by_label("Expires after (days)").fill("90")
    ui.page.get_by_role("button", name="Make the token").click()
    ui.check_assets()
    secret = ui.page.locator("#new-token").inner_text()
    token = tokens.authenticate(secret)
    assert token is not None and token.read_only and token.name == "ticket tool"
    expect(ui.page.locator("#tokens")).to_contain_text("ticket tool")
    ui.shot("tokens-new")
    ui.page.reload()
    expect(ui.page.locator("#new-token")).to_have_count(0)
    ui.page.get_by_role("button", name="Revoke").click()
    ui.check_assets()
    expect(ui.page.locator("#tokens")).to_contain_text("revoked")
    ui.shot("tokens-revoked")
    assert tokens.authenticate(secret) is None


def test_an_administrator_sees_every_token(ui: UI, desk: Desk):
    tokens.create_token(desk.users["bob"], by=None, name="hr sync", domains=["example.com"])
    ui.sign_in(desk.users["alice"])
    ui.open("/account/tokens/")
    expect(ui.page.locator("#tokens")).to_contain_text("hr sync")
    expect(ui.page.locator("#tokens")).to_contain_text("bob")
    ui.shot("tokens-admin")
