"""The traffic dashboard in a real browser: a month of demo log ingested, both charts drawn.

Saves screenshots/dashboard-admin.png, dashboard-editor.png (1280 wide, whole page) and
dashboard-phone.png (390 wide) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aliasdesk.aliases.models import Alias
from aliasdesk.maillog.demo import write_demo_log
from aliasdesk.maillog.ingest import ingest_log
from tests.browser.conftest import SCREENSHOTS, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),  # one worker, one chromium
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

CHARTS = ("chart-24h", "chart-30d")


@pytest.fixture
def traffic(desk: Desk, tmp_path: Path) -> Desk:
    """A month of demo log for the desk's aliases, ingested as ``logingest`` would."""
    aliases = Alias.objects.filter(deleted_at__isnull=True)
    path = tmp_path / "mail.log"
    write_demo_log(path, [a.key for a in aliases], seed=3, per_day=250,
                   destinations={a.key: a.destination_list for a in aliases})
    report = ingest_log(str(path), node="mx1")
    assert report.unparsed == 0
    return desk


def charts_drawn(ui: UI) -> list[dict[str, Any]]:
    """Wait for both Chart.js charts; their size and what they show."""
    ui.page.wait_for_function(
        "ids => window.Chart && ids.every(id => Chart.getChart(document.getElementById(id)))", arg=list(CHARTS)
    )
    return ui.page.evaluate(
        """ids => ids.map(id => {
            const canvas = document.getElementById(id), chart = Chart.getChart(canvas);
            const box = canvas.getBoundingClientRect();
            return {width: box.width, height: box.height, labels: chart.data.labels.length,
                    series: chart.data.datasets.map(d => d.label),
                    received: chart.data.datasets[0].data.reduce((a, b) => a + b, 0)};
        })""",
        list(CHARTS),
    )


def shot(ui: UI, name: str) -> None:
    """The whole page as screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    ui.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert not ui.problems, "\n".join(ui.problems)


def test_admin_sees_both_charts_of_the_whole_server(ui: UI, traffic: Desk):
    ui.sign_in(traffic.users["alice"])
    ui.open("/dashboard/")
    day, month = charts_drawn(ui)
    assert day["labels"] == 24 and month["labels"] == 30
    for chart in (day, month):
        assert chart["width"] > 300 and chart["height"] > 150
        assert chart["series"] == ["Received", "Delivered", "Deferred", "Bounced", "Rejected"]
    assert month["received"] > day["received"] > 0
    expect(ui.page.get_by_role("heading", name="Reject reasons")).to_be_visible()
    expect(ui.page.locator("#ingest-status")).to_contain_text("mx1:")
    expect(ui.page.locator("#top-aliases tbody tr").first).to_be_visible()
    expect(ui.page.get_by_role("link", name="Traffic")).to_have_attribute("aria-current", "page")
    shot(ui, "dashboard-admin")


def test_editor_sees_his_domain_only(ui: UI, traffic: Desk):
    ui.sign_in(traffic.users["bob"])
    ui.open("/dashboard/")
    day, month = charts_drawn(ui)
    assert day["series"] == ["Received", "Delivered", "Deferred", "Bounced"]
    assert month["received"] > 0
    expect(ui.page.get_by_role("heading", name="Reject reasons")).to_have_count(0)
    keys = ui.page.locator("#top-aliases td.key").all_inner_texts()
    assert keys and all(key.endswith("@example.com") for key in keys)
    shot(ui, "dashboard-editor")

    ui.page.locator("#top-aliases td.key a").first.click()
    expect(ui.page.locator("#grid tbody tr")).to_have_count(1)
    ui.check_assets()


def test_dashboard_fits_a_phone(phone: UI, traffic: Desk):
    phone.sign_in(traffic.users["alice"])
    phone.open("/dashboard/")
    for chart in charts_drawn(phone):
        assert 250 < chart["width"] <= 390 and chart["height"] > 150
    widths = phone.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is wider than the phone: {widths}"
    shot(phone, "dashboard-phone")


def test_without_chart_js_the_page_still_works(ui: UI, traffic: Desk):
    ui.page.route("**/vendor/chart.umd.min.js", lambda route: route.fulfill(status=200, body="/* blocked */",
                                                                           content_type="text/javascript"))
    ui.sign_in(traffic.users["alice"])
    ui.open("/dashboard/")
    expect(ui.page.locator(".chart-note")).to_have_count(2)
    expect(ui.page.locator(".chart-note").first).to_contain_text("could not be drawn")
    expect(ui.page.locator('[data-card="received"]')).not_to_have_text("0")
    assert not ui.problems
