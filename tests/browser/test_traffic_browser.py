"""Traffic in a real browser: the grid's mail columns, its "no mail for N days" filter, and
the unused-aliases report, at 1280×900 and on a phone.

Screenshots: screenshots/domain-grid-traffic.png, domain-grid-traffic-phone.png,
unused-aliases.png and unused-aliases-phone.png.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from aliasdesk.aliases.models import Alias
from aliasdesk.maillog.models import AliasDay, AliasUsage, LogSource
from tests.browser.conftest import UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),  # one worker, one chromium
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

# key -> (mail per day for the last days, days since last seen or None)
TRAFFIC = {
    "info@example.com": ([40, 35, 52, 18, 61, 44, 39], 0),
    "sales@example.com": ([3, 0, 5, 2], 1),
    "sales-emea@example.com": ([1], 12),
    "team@example.com": ([1200, 980, 1430, 1111, 1302], 0),
}


@pytest.fixture
def traffic(desk: Desk) -> Desk:
    """Mail for some of example.com's aliases; jobs@ and press@ silent, and a year old."""
    now = timezone.now()
    today = timezone.localdate()
    Alias.objects.update(created_at=now - timedelta(days=365))
    for key, (per_day, last_days) in TRAFFIC.items():
        alias = desk.alias(key)
        start = 0 if last_days is None else last_days
        for i, received in enumerate(per_day):
            AliasDay.objects.create(alias=alias, day=today - timedelta(days=start + i), received=received,
                                    delivered=max(0, received - 1), deferred=1 if received > 1 else 0,
                                    bounced=1 if key == "sales@example.com" else 0)
        last = now - timedelta(days=last_days or 0, hours=2)
        AliasUsage.objects.create(alias=alias, first_seen=last - timedelta(days=300), last_seen=last,
                                  received=sum(per_day))
    LogSource.objects.create(node="mx1", path="/var/log/mail.log", lines=123_456,
                             last_read_at=now - timedelta(minutes=4), last_line_at=now - timedelta(minutes=5))
    return desk


def fits(ui: UI) -> None:
    widths = ui.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is wider than the window: {widths}"


def table_fits(ui: UI, selector: str) -> None:
    sizes = ui.page.evaluate(
        f"""() => {{ const t = document.querySelector('{selector}');
                   return [t.scrollWidth, t.parentElement.clientWidth]; }}"""
    )
    assert sizes[0] <= sizes[1], f"{selector} overflows its box: {sizes}"


def test_the_grid_shows_each_aliases_mail_and_filters_the_unused(ui: UI, traffic: Desk):
    ui.sign_in(traffic.users["bob"])
    ui.open("/domains/example.com/")
    team = ui.page.locator(f"#alias-{traffic.alias('team@example.com').pk}")
    expect(team.locator("td.traffic")).to_have_text("6,023")
    expect(team.locator("td.seen")).to_have_text("2 hours ago")
    sales = ui.page.locator(f"#alias-{traffic.alias('sales@example.com').pk}")
    expect(sales.locator("td.traffic")).to_contain_text("4 bounced")
    expect(sales.locator("td.seen")).to_have_text("1 day ago")
    jobs = ui.page.locator(f"#alias-{traffic.alias('jobs@example.com').pk}")
    expect(jobs.locator("td.seen")).to_have_text("never")
    table_fits(ui, "#grid table")
    fits(ui)
    ui.shot("domain-grid-traffic")

    ui.page.evaluate("() => { window.stillTheSamePage = true; }")
    ui.page.locator("#unused").select_option("30")
    rows = ui.page.locator("#grid tbody tr")
    expect(rows).to_have_count(2)
    expect(ui.page).to_have_url(re.compile(r"[?&]unused=30\b"))
    assert ui.page.evaluate("() => window.stillTheSamePage") is True, "the filter loaded a whole page"
    assert sorted(rows.locator("td.key").all_inner_texts()) == ["jobs@example.com", "press@example.com"]
    ui.shot("domain-grid-unused-30")

    ui.page.locator("[data-select-all]").check()
    ui.page.locator("#bulk-action").select_option("disable")
    ui.page.get_by_role("button", name="Apply").click()
    expect(ui.page.locator(".flash")).to_contain_text("Switched off: 2 aliases.")
    expect(ui.page.locator("#grid tbody tr")).to_have_count(1)
    expect(ui.page.locator("#grid tbody")).to_contain_text("No alias here has gone 30 days without mail.")
    assert not Alias.objects.filter(key__in=["jobs@example.com", "press@example.com"], enabled=True).exists()


def test_the_grid_on_a_phone_stays_as_it_was(phone: UI, traffic: Desk):
    phone.sign_in(traffic.users["bob"])
    phone.open("/domains/example.com/")
    expect(phone.page.locator("#grid tbody tr")).to_have_count(6)
    expect(phone.page.locator("#grid td.traffic").first).to_be_hidden()
    fits(phone)
    phone.shot("domain-grid-traffic-phone")


def test_the_unused_report_lists_silent_aliases_and_downloads_them(ui: UI, traffic: Desk):
    ui.sign_in(traffic.users["alice"])
    ui.open("/traffic/unused/?days=30")
    rows = ui.page.locator("table.unused tbody tr")
    expect(rows).to_have_count(4)  # jobs@, press@ of example.com; billing@, info@ of example.org
    expect(ui.page.get_by_text("logs last read")).to_be_visible()
    table_fits(ui, "table.unused")
    fits(ui)
    ui.shot("unused-aliases")

    ui.page.locator(".toolbar .downloads summary").click()
    with ui.page.expect_download() as download:
        ui.page.locator(".downloads a[data-format='csv']").click()
    lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Domain,Address,Destinations,Created,Last seen"
    assert len(lines) == 5
    ui.page.locator(".toolbar .downloads summary").click()  # the menu closes again

    ui.page.get_by_role("link", name="jobs@example.com").click()
    expect(ui.page).to_have_url(re.compile(r"/domains/example.com/\?q=jobs%40example.com$"))
    expect(ui.page.locator("#grid tbody tr")).to_have_count(1)
    ui.check_assets()


def test_the_unused_report_on_a_phone(phone: UI, traffic: Desk):
    phone.sign_in(traffic.users["bob"])
    phone.open("/traffic/unused/?days=7")
    expect(phone.page.locator("table.unused tbody tr")).to_have_count(3)  # sales-emea@ last seen 12 days ago
    expect(phone.page.locator("table.unused td.dom").first).to_be_hidden()
    table_fits(phone, "table.unused")
    fits(phone)
    phone.shot("unused-aliases-phone")
