"""Key ownership as people meet it in a real browser: an editor cannot take over another
domain's mail, sees which rows are for administrators, and learns from "Where does it go?"
when a map they cannot see answers too; an admin lists a map's further mail domains.
"""

from __future__ import annotations

import re

import pytest

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias, MailDomain, OwnershipConflict
from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def test_editor_cannot_add_a_key_of_another_domain(ui: UI, desk: Desk):
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    ui.page.get_by_role("button", name="Add an alias").click()
    ui.page.get_by_label("Address").fill("info@example.org")
    ui.page.get_by_placeholder("anna@example.org, ben@example.org").fill("bob@evil.example")
    ui.page.get_by_role("button", name="Add", exact=True).click()
    expect(ui.page.get_by_role("alert").filter(has_text="belongs to the map of example.org")).to_be_visible()
    expect(ui.page.get_by_label("Address")).to_have_attribute("aria-invalid", "true")
    ui.check_assets()
    ui.shot("ownership-editor-refused")
    assert not Alias.objects.filter(key_folded="info@example.org", domain=desk.domains["example.com"]).exists()


def test_editor_sees_role_addresses_as_admins_only(ui: UI, desk: Desk):
    services.create_alias(desk.domains["example.com"], "postmaster@example.com", "ops@example.net")
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/?q=postmaster")
    row = ui.page.locator("tr", has_text="postmaster@example.com")
    expect(row.get_by_text("admins only")).to_be_visible()
    expect(row.get_by_role("button", name=re.compile("Edit"))).to_have_count(0)
    expect(row.locator("input[type=checkbox]")).to_have_count(0)
    ui.shot("ownership-editor-role-address")


def test_resolve_tells_an_editor_when_a_hidden_map_answers(ui: UI, desk: Desk):
    com, org = desk.domains["example.com"], desk.domains["example.org"]
    # A key left in example.org's map from before keys were tied to their domains.
    Alias.objects.create(
        domain=org, key="jobs@example.com", key_folded="jobs@example.com", destinations="x@evil.example"
    )
    OwnershipConflict.objects.create(domain=org, mail_domain="example.com", keys=1)
    assert com.pk
    ui.sign_in(desk.users["bob"])
    ui.open("/resolve/?address=jobs@example.com")
    warning = ui.page.locator("#hidden-answers")
    expect(warning).to_contain_text("the map of example.org defines it too")
    # Postfix asks the maps by name here (no main.cf lists them): example.com's own map first.
    expect(warning).to_contain_text("Postfix consults your map first")
    expect(ui.page.locator("body")).not_to_contain_text("x@evil.example")
    ui.shot("ownership-resolve-hidden-map")


def test_admin_lists_further_mail_domains(ui: UI, desk: Desk):
    ui.sign_in(desk.users["alice"])
    ui.open("/domains/example.com/settings")
    ui.page.get_by_label("Further mail domains").fill("example.org\nshop.example")
    ui.page.get_by_role("button", name="Save settings").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("example.org is a mail domain of the map of example.org")
    ui.shot("ownership-settings-refused")
    ui.page.get_by_label("Further mail domains").fill("shop.example")
    ui.page.get_by_role("button", name="Save settings").click()
    expect(ui.page.locator(".flash").first).to_contain_text("Saved the settings")
    assert MailDomain.objects.get(name="shop.example").domain_id == desk.domains["example.com"].pk
    ui.shot("ownership-settings-saved")
