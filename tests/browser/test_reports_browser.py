"""Downloads and printable reports in a real browser: the domain page's download menu (with
"this view" while a search is on), a download through it, and the printable pages on
screen and as printed.

Screenshots: screenshots/download-menu.png, download-menu-view.png, domain-list-downloads.png,
report-print-aliases.png (screen), report-print-aliases-print.png (print media),
report-print-audit-print.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import BROWSER_TEST, UI, Desk
from tests.web.report_files import ods_rows, xlsx_rows

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def open_report(ui: UI, path: str) -> None:
    """A printable page: no htmx or app.css there, only report.css (checked applied)."""
    response = ui.page.goto(ui.base_url + path)
    assert response is not None and response.status == 200, path
    collapse = ui.page.evaluate("() => getComputedStyle(document.querySelector('table.report')).borderCollapse")
    assert collapse == "collapse", "report.css did not load"
    assert not ui.problems, "\n".join(ui.problems)


def test_the_download_menu_offers_the_files_and_this_view(ui: UI, desk: Desk):
    ui.sign_in(desk.users["dave"])
    ui.open("/domains/example.com/")
    menu = ui.page.locator("#downloads")
    menu.locator("summary").click()
    expect(menu.get_by_text("CSV data file")).to_be_visible()
    expect(menu.get_by_text("exact, for re-import", exact=False)).to_be_visible()
    expect(menu.locator("#this-view")).to_have_count(0)
    ui.shot("download-menu")

    ui.page.locator("#q").fill("sales")
    expect(ui.page.locator("#grid tbody tr")).to_have_count(2)
    menu = ui.page.locator("#downloads")
    menu.locator("summary").click()
    expect(menu.locator("#this-view")).to_have_text("This view: search “sales”")
    ui.shot("download-menu-view")
    with ui.page.expect_download() as info:
        menu.locator("a[data-view][data-format='xlsx']").click()
    rows = xlsx_rows(Path(info.value.path()).read_bytes())
    assert [row[0] for row in rows[1:]] == ["sales@example.com", "sales-emea@example.com"]


def test_a_download_of_every_alias_opens(ui: UI, desk: Desk):
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    ui.page.locator("#downloads summary").click()
    with ui.page.expect_download() as info:
        ui.page.locator("#downloads a[data-format='ods']").first.click()
    assert info.value.suggested_filename.startswith("aliases-example.com-")
    rows = ods_rows(Path(info.value.path()).read_bytes())
    assert len(rows) == 7 and rows[1][0] == "info@example.com"


def test_the_domain_list_offers_the_summary(ui: UI, desk: Desk):
    ui.sign_in(desk.users["alice"])
    ui.open("/domains/")
    ui.page.locator("#downloads summary").click()
    expect(ui.page.get_by_text("One line per domain", exact=False)).to_be_visible()
    ui.shot("domain-list-downloads")


def test_the_printable_aliases_page(ui: UI, desk: Desk):
    ui.sign_in(desk.users["dave"])
    open_report(ui, "/domains/example.com/aliases.html")
    expect(ui.page.locator(".report-title")).to_have_text("Aliases · example.com")
    expect(ui.page.locator("tbody tr")).to_have_count(6)
    expect(ui.page.locator(".report-tools")).to_be_visible()
    ui.shot("report-print-aliases")
    ui.page.emulate_media(media="print")
    expect(ui.page.locator(".report-tools")).to_be_hidden()
    expect(ui.page.locator("nav")).to_have_count(0)
    ui.shot("report-print-aliases-print")
    # the head (report, domain, date) is a table head: Chromium repeats it on every printed page
    display = ui.page.evaluate("() => getComputedStyle(document.querySelector('table.report thead')).display")
    assert display == "table-header-group"


def test_the_printable_audit_report(ui: UI, desk: Desk):
    from aliasdesk.aliases import services

    alias = desk.alias("sales@example.com")
    services.update_alias(alias, version=alias.version, user=desk.users["bob"], destinations="nina@example.net")
    ui.sign_in(desk.users["alice"])
    ui.open("/audit/?domain=example.com")
    ui.page.locator(".page-head .downloads summary").click()
    link = ui.page.locator(".page-head .downloads a[data-format='print']")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href == "/reports/audit.html?domain=example.com&"
    open_report(ui, href)
    ui.page.emulate_media(media="print")
    row = ui.page.locator("tbody tr", has_text="nina@example.net")
    expect(row).to_contain_text("carla@example.net")
    expect(row).to_contain_text("bob")
    ui.shot("report-print-audit-print")
