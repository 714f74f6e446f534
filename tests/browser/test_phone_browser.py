"""A 375 px phone: the pages a newcomer meets first fit the screen.

No page scrolls sideways (``scrollWidth <= innerWidth``) and every link, button and field
shown lies within the window: nothing is cut off or hidden in a table that scrolls. An
alias with a long address and long destinations is among the aliases, the traffic
dashboard has a month of demo log. Saves screenshots/phone-375-<page>.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias
from aliasdesk.maillog.demo import write_demo_log
from aliasdesk.maillog.ingest import ingest_log
from tests.browser.conftest import BROWSER_TEST, UI, Desk, _ui

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST

LONG_KEY = "accounts-payable.europe-middle-east-africa.shared-services@example.com"
LONG_DESTINATIONS = (
    "finance.accounts-payable.invoices-and-credit-notes@ledger.accounting.subsidiaries.example.net, "
    "maximiliane.von-hohenzollern-sigmaringen@subsidiaries.europe.holding.example.org"
)
# What sticks out of the window: the page's width, and each control shown beyond an edge.
OUTSIDE_JS = """() => {
    const width = window.innerWidth, outside = [];
    for (const el of document.querySelectorAll('a, button, summary, input, select, textarea')) {
        const box = el.getBoundingClientRect();
        if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
        if (el.closest('.visually-hidden, .skip-link, details:not([open]) > :not(summary)')) continue;
        if (box.left < -1 || box.right > width + 1) {
            const name = (el.textContent || el.name || '').trim().slice(0, 40);
            outside.push(`${el.tagName} "${name}" ${box.left}..${box.right}`);
        }
    }
    const wide = [...document.body.querySelectorAll('*')]
        .filter(el => el.getBoundingClientRect().right > width + 1 && !el.closest('.visually-hidden'))
        .filter(el => ![...el.children].some(child => child.getBoundingClientRect().right > width + 1))
        .slice(0, 5).map(el => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
    return {page: document.documentElement.scrollWidth, window: width, outside, wide};
}"""


@pytest.fixture
def small(browser: Any, live_server: Any) -> Iterator[UI]:
    """A 375×812 tab, the narrowest phone in common use."""
    yield from _ui(browser, live_server, {"width": 375, "height": 812})


@pytest.fixture
def long_alias(desk: Desk) -> Alias:
    alias = services.create_alias(
        desk.domains["example.com"], LONG_KEY, LONG_DESTINATIONS, user=desk.users["alice"], comment="FIN-20931"
    )
    return services.update_alias(alias, version=alias.version, user=desk.users["alice"], comment="FIN-20931, FIN-21007")


def fits(ui: UI, name: str) -> None:
    found = ui.page.evaluate(OUTSIDE_JS)
    ui.shot(f"phone-375-{name}")
    assert found["page"] <= found["window"], (
        f"{name}: the page is {found['page']} px wide in {found['window']}: {found['wide']}"
    )
    assert not found["outside"], f"{name}: outside the window: {found['outside']}"


def test_domain_list_and_its_download_menu_fit(small: UI, desk: Desk):
    small.sign_in(desk.users["alice"])
    small.open("/domains/")
    expect(small.page.get_by_role("link", name="example.com")).to_be_visible()
    fits(small, "domains")
    small.page.locator("#downloads summary").click()
    expect(small.page.locator("#downloads li a").first).to_be_visible()
    fits(small, "domains-downloads")
    small.page.locator("#downloads summary").click()  # closed again (an open menu covers the page)
    small.page.locator(".topbar details.dropdown summary").click()
    expect(small.page.locator(".topbar details.dropdown")).to_have_attribute("open", "")
    expect(small.page.get_by_role("button", name="Sign out")).to_be_visible()
    small.page.wait_for_timeout(400)  # Pico fades the menu in: the screenshot shows it whole
    fits(small, "user-menu")


def test_alias_grid_inline_edit_and_history_fit(small: UI, desk: Desk, long_alias: Alias):
    small.sign_in(desk.users["alice"])
    small.open("/domains/example.com/")
    expect(small.page.get_by_role("button", name=f"Edit {LONG_KEY}")).to_be_visible()
    # the long address wraps after "@" and ".", never inside a name
    cell = small.page.locator(f"#alias-{long_alias.pk} td.key")
    assert cell.inner_html().startswith("accounts-payable.<wbr>europe-middle-east-africa.<wbr>")
    fits(small, "grid")
    small.page.get_by_role("button", name=f"Edit {LONG_KEY}").click()
    expect(small.page.locator(f"#alias-{long_alias.pk} textarea[name=destinations]")).to_be_visible()
    fits(small, "grid-edit")
    small.open(f"/domains/example.com/aliases/{long_alias.pk}/history")
    expect(small.page.get_by_role("button", name="Restore this version")).to_be_visible()
    fits(small, "history")


def test_search_box_focus_ring_stays_inside_it(small: UI, desk: Desk):
    small.sign_in(desk.users["alice"])
    small.open("/domains/example.com/")
    small.page.locator("#q").focus()
    shadow = small.page.evaluate("getComputedStyle(document.querySelector('#q')).boxShadow")
    assert "inset" in shadow, shadow


def test_deploy_preview_fits(small: UI, desk: Desk, long_alias: Alias):
    small.sign_in(desk.users["alice"])
    small.open("/domains/example.com/deploy")
    expect(small.page.get_by_role("button", name="Deploy now")).to_be_visible()
    fits(small, "deploy-preview")


def test_dashboard_fits_and_shows_the_current_hour_apart(small: UI, desk: Desk, tmp_path: Path):
    aliases = Alias.objects.filter(deleted_at__isnull=True)
    log = tmp_path / "mail.log"
    write_demo_log(log, [a.key for a in aliases], seed=3, per_day=250,
                   destinations={a.key: a.destination_list for a in aliases})
    ingest_log(str(log), node="mx1")
    small.sign_in(desk.users["alice"])
    small.open("/dashboard/")
    small.page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-24h'))")
    # the line stops before the hour still counting, which is an open dot instead
    last = small.page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('chart-24h'));
            const meta = chart.getDatasetMeta(0), n = chart.data.labels.length;
            return {radius: meta.data[n - 1].options.radius, before: meta.data[n - 2].options.radius};
        }"""
    )
    assert last["radius"] > 0 and last["before"] == 0, last
    expect(small.page.locator(".chart-foot").first).to_contain_text("still counting")
    fits(small, "dashboard")
