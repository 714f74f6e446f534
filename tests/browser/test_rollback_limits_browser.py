"""Limits and rollback as an administrator meets them in a real browser: setting the limits
on the settings page (and the warning when one is below use), and rolling a domain back
from its deploy history through the preview."""

from __future__ import annotations

import pytest

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.engine import deploy_domain
from tests.browser.conftest import BROWSER_TEST, UI, Desk
from tests.conftest import require_postmap

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def test_admin_sets_limits_and_sees_the_warning_below_use(ui: UI, desk: Desk):
    ui.sign_in(desk.users["alice"])
    ui.open("/domains/example.com/settings")
    ui.page.get_by_label("Most aliases").fill("5")
    ui.page.get_by_label("Most destinations per alias").fill("2")
    ui.page.get_by_role("button", name="Save settings").click()
    expect(ui.page.get_by_text("Saved the limits of example.com")).to_be_visible()
    warning = ui.page.locator("#limit-warnings")
    expect(warning).to_contain_text("example.com holds 6 aliases, more than its limit of 5")
    expect(warning).to_contain_text("1 alias has more than 2 destinations (team@example.com)")
    expect(ui.page.get_by_label("Most aliases")).to_have_value("5")
    domain = Domain.objects.get(name="example.com")
    assert (domain.max_aliases, domain.max_destinations) == (5, 2)
    ui.shot("limits-settings-warning")
    ui.page.locator("fieldset", has_text="Limits").scroll_into_view_if_needed()
    ui.shot("limits-settings")


def test_admin_rolls_back_through_the_preview(ui: UI, desk: Desk):
    require_postmap()
    com = desk.domains["example.com"]
    first = deploy_domain(com)
    assert first.status == "ok", first.message
    info = desk.alias("info@example.com")
    services.update_alias(info, version=info.version, destinations="zoe@example.net", comment="OPS-9")
    press = desk.alias("press@example.com")
    services.soft_delete_alias(press, version=press.version)
    services.create_alias(com, "events@example.com", "fred@example.net", user=desk.users["alice"])
    assert deploy_domain(com).status == "ok"

    ui.sign_in(desk.users["alice"])
    ui.open("/domains/example.com/deploys/")
    ui.page.get_by_role("link", name=f"Roll back to this (deploy {first.deploy_id})").click()
    ui.check_assets()
    expect(ui.page.get_by_role("heading", name=f"Roll back to deploy #{first.deploy_id}")).to_be_visible()
    counts = ui.page.get_by_label("What changes")
    expect(counts).to_contain_text("1 restored")
    expect(counts).to_contain_text("1 removed")
    expect(counts).to_contain_text("1 changed")
    expect(ui.page.locator("pre.diff")).to_contain_text("+info@example.com\tanna@example.net, ben@example.net")
    expect(ui.page.get_by_text("same bytes")).to_be_visible()
    ui.shot("rollback-preview")
    ui.page.get_by_role("button", name=f"Roll back to deploy {first.deploy_id}").click()
    expect(ui.page.get_by_text("1 restored, 1 removed, 1 changed")).to_be_visible()
    ui.check_assets()
    assert desk.alias("info@example.com").destinations == "anna@example.net, ben@example.net"
    assert desk.alias("press@example.com").comment == "OPS-7"
