"""The alias grid in a real browser: a change updates the page head's counts and changes not
deployed without a reload (htmx out-of-band), a bulk action swaps the grid in place, the
columns sort, ticket references link to the ticket system.

Screenshot: screenshots/domain-grid-sorted.png.
"""

from __future__ import annotations

import re

import pytest

from aliasdesk.aliases.models import Domain
from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def deployed(domain: Domain) -> None:
    Domain.objects.filter(pk=domain.pk).update(deployed_serial=Domain.objects.get(pk=domain.pk).serial)


def mark_page(ui: UI) -> None:
    """A mark on the window that a reload would wipe out."""
    ui.page.evaluate("() => { window.notReloaded = true; }")


def still_same_page(ui: UI) -> bool:
    return bool(ui.page.evaluate("() => window.notReloaded === true"))


def test_switching_an_alias_off_updates_the_counts_and_the_changes_not_deployed(ui: UI, desk: Desk):
    deployed(desk.domains["example.com"])
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    expect(ui.page.locator("#count-on")).to_have_text("6 on")
    expect(ui.page.locator("#count-off")).to_have_text("0 off")
    expect(ui.page.locator("#pending-changes")).to_have_count(0)
    mark_page(ui)

    ui.page.get_by_role("button", name="Switch off info@example.com").click()
    expect(ui.page.locator("#count-on")).to_have_text("5 on")
    expect(ui.page.locator("#count-off")).to_have_text("1 off")
    expect(ui.page.locator("#pending-changes")).to_have_text("1 change not deployed")
    row = ui.page.locator(f"#alias-{desk.alias('info@example.com').pk}")
    expect(row.locator("td.onoff")).to_have_text("off")

    ui.page.get_by_role("button", name="Switch off sales@example.com").click()
    expect(ui.page.locator("#count-off")).to_have_text("2 off")
    expect(ui.page.locator("#pending-changes")).to_have_text("2 changes not deployed")
    # one status in the page head, never a second one from a swap
    expect(ui.page.locator("#domain-status")).to_have_count(1)
    assert still_same_page(ui)


def test_a_bulk_action_swaps_the_grid_and_the_counts_in_place(ui: UI, desk: Desk):
    deployed(desk.domains["example.com"])
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/?q=sales")
    mark_page(ui)
    ui.page.get_by_label("Select all on this page").check()
    ui.page.locator("#bulk-action").select_option("disable")
    ui.page.get_by_role("button", name="Apply").click()
    expect(ui.page.locator("#grid .flash")).to_have_text("Switched off: 2 aliases.")
    expect(ui.page.locator("#count-on")).to_have_text("4 on")
    expect(ui.page.locator("#count-off")).to_have_text("2 off")
    expect(ui.page.locator("#pending-changes")).to_have_text("1 change not deployed")
    expect(ui.page.locator("#grid td.key")).to_have_count(2)  # still the search's view
    assert still_same_page(ui)


def test_sorted_by_a_column_with_a_ticket_link(ui: UI, desk: Desk, settings):
    settings.TICKET_URL = "https://tickets.example/browse/{ref}"
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    ui.page.get_by_role("link", name="Address").click()
    ui.check_assets()
    expect(ui.page).to_have_url(re.compile(r"order=key"))
    header = ui.page.locator("th[aria-sort]")
    expect(header).to_have_attribute("aria-sort", "ascending")
    ui.page.get_by_role("link", name="Address").click()
    ui.check_assets()
    expect(ui.page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    keys = ui.page.locator("#grid td.key").all_inner_texts()
    assert [k.split()[0] for k in keys][:3] == ["team@example.com", "sales@example.com", "sales-emea@example.com"]
    # the search keeps the order
    ui.page.locator("#q").fill("sales")
    expect(ui.page.locator("#grid td.key")).to_have_count(2)
    expect(ui.page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    ui.page.locator("#q").fill("")
    expect(ui.page.locator("#grid td.key")).to_have_count(6)
    link = ui.page.get_by_role("link", name="OPS-7")
    expect(link).to_have_attribute("href", "https://tickets.example/browse/OPS-7")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    ui.shot("domain-grid-sorted")
