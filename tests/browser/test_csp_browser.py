"""The enforced Content-Security-Policy in a real browser: every page, as admin and as
editor, loads without one violation and still works (htmx search, inline edit, live
preview, charts). Screenshots: screenshots/csp-<role>-<page>.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias
from aliasdesk.deploys.models import Deploy
from aliasdesk.maillog.demo import write_demo_log
from aliasdesk.maillog.ingest import ingest_log
from tests.browser.conftest import SCREENSHOTS, UI, Desk
from tests.conftest import require_postmap

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),  # one worker, one chromium
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

# Every violation is collected in the page, and said on the console (which UI watches too).
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const what = `${e.violatedDirective} ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`;
  window.__csp.push(what);
  console.error("CSP violation: " + what);
});
"""


@pytest.fixture
def csp_ui(ui: UI) -> UI:
    ui.page.context.add_init_script(LISTEN)
    return ui


@pytest.fixture
def world(desk: Desk, tmp_path: Path) -> Desk:
    """The desk with some traffic, a deploy, an alias in the trash and one with history."""
    require_postmap()
    aliases = Alias.objects.filter(deleted_at__isnull=True)
    log = tmp_path / "mail.log"
    write_demo_log(log, [a.key for a in aliases], seed=5, per_day=60,
                   destinations={a.key: a.destination_list for a in aliases})
    ingest_log(str(log), node="mx1")
    alice = desk.users["alice"]
    press = desk.alias("press@example.com")
    services.update_alias(press, destinations="fred@example.net", version=press.version, user=alice)
    jobs = desk.alias("jobs@example.com")
    services.soft_delete_alias(jobs, version=jobs.version, user=alice)
    from aliasdesk.deploys.engine import deploy_domain

    assert deploy_domain(desk.domains["example.com"], user=alice).status == Deploy.Status.OK
    return desk


def visit(ui: UI, role: str, name: str, path: str, status: int = 200) -> None:
    """Open a page; it must load its assets and report no CSP violation."""
    ui.open(path, status=status)
    settle_and_check(ui, role, name)


def settle_and_check(ui: UI, role: str, name: str) -> None:
    ui.page.wait_for_load_state("networkidle")
    violations = ui.page.evaluate("() => window.__csp")
    assert violations == [], f"{role} {name}: {violations}"
    assert not ui.problems, "\n".join(ui.problems)
    SCREENSHOTS.mkdir(exist_ok=True)
    ui.page.screenshot(path=str(SCREENSHOTS / f"csp-{role}-{name}.png"), full_page=True)


def charts_drawn(ui: UI) -> list[int]:
    ui.page.wait_for_function(
        "() => window.Chart && ['chart-24h', 'chart-30d'].every(id => Chart.getChart(document.getElementById(id)))"
    )
    return ui.page.evaluate(
        "() => ['chart-24h', 'chart-30d'].map(id => Chart.getChart(document.getElementById(id)).data.labels.length)"
    )


def domain_pages(ui: UI, world: Desk, role: str) -> None:
    press = world.alias("press@example.com")
    jobs = Alias.objects.get(key="jobs@example.com")
    deploy = Deploy.objects.filter(domain=world.domains["example.com"]).latest("pk")

    visit(ui, role, "domains", "/domains/")
    visit(ui, role, "domain", "/domains/example.com/")
    rows = ui.page.locator("#grid tbody tr")
    ui.page.locator("#q").press_sequentially("sales", delay=30)  # htmx search as one types
    expect(rows).to_have_count(2)
    info = world.alias("info@example.com")
    ui.page.locator("#q").fill("")
    ui.page.locator("#q").press_sequentially("info", delay=30)
    expect(rows).to_have_count(1)
    ui.page.get_by_role("button", name="Edit info@example.com").click()  # inline edit opened
    expect(ui.page.locator(f"#alias-{info.pk} textarea[name=destinations]")).to_be_visible()
    settle_and_check(ui, role, "domain-inline-edit")
    ui.page.locator(f"#alias-{info.pk} textarea[name=destinations]").press("Escape")

    visit(ui, role, "paste", "/domains/example.com/paste")
    ui.page.locator("#paste-text").fill("new@example.com anna@example.net")
    with ui.page.expect_navigation():
        ui.page.get_by_role("button", name="Add these aliases").click()
    settle_and_check(ui, role, "paste-done")
    expect(ui.page.locator(".messages")).to_contain_text("Added 1 alias")
    Alias.objects.filter(key="new@example.com").delete()

    visit(ui, role, "deploy-preview", "/domains/example.com/deploy")
    visit(ui, role, "deploy-history", "/domains/example.com/deploys/")
    visit(ui, role, "deploy-detail", f"/domains/example.com/deploys/{deploy.pk}")
    visit(ui, role, "alias-history", f"/domains/example.com/aliases/{press.pk}/history")
    visit(ui, role, "trash", "/domains/example.com/trash")
    assert jobs.deleted_at is not None
    visit(ui, role, "resolve", "/resolve/?address=team%40example.com")
    visit(ui, role, "dashboard", "/dashboard/")
    assert charts_drawn(ui) == [24, 30]
    settle_and_check(ui, role, "dashboard")
    visit(ui, role, "unused", "/traffic/unused/")
    visit(ui, role, "password", "/password/")
    visit(ui, role, "two-factor", "/account/2fa/")  # the enrolment page: its QR code is inline SVG
    visit(ui, role, "tokens", "/account/tokens/")
    visit(ui, role, "not-found", "/domains/nothing.example/", status=404)


def test_every_page_as_admin_keeps_the_policy(csp_ui: UI, world: Desk) -> None:
    ui = csp_ui
    ui.sign_in(world.users["alice"])
    domain_pages(ui, world, "admin")
    visit(ui, "admin", "settings", "/domains/example.com/settings")
    ui.page.locator("textarea[name=header]").fill("# Managed by aliasdesk, ticket OPS-12")
    expect(ui.page.locator("#preview")).to_contain_text("ticket OPS-12")  # live preview (htmx)
    settle_and_check(ui, "admin", "settings-live-preview")
    visit(ui, "admin", "audit", "/audit/")
    visit(ui, "admin", "users", "/users/")
    visit(ui, "admin", "user-edit", f"/users/{world.users['bob'].pk}/")
    visit(ui, "admin", "user-new", "/users/new")


def test_every_page_as_editor_keeps_the_policy(csp_ui: UI, world: Desk) -> None:
    ui = csp_ui
    ui.sign_in(world.users["bob"])
    domain_pages(ui, world, "editor")
    visit(ui, "editor", "other-domain", "/domains/example.org/", status=404)


def test_the_login_page_keeps_the_policy(csp_ui: UI, world: Desk) -> None:
    ui = csp_ui
    visit(ui, "anonymous", "login", "/login/?next=/domains/")
    ui.page.get_by_label("User name").fill("bob")
    ui.page.get_by_label("Password").fill("wrong")
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page.get_by_role("alert")).to_be_visible()
    settle_and_check(ui, "anonymous", "login-wrong-password")


def test_the_policy_is_enforced_not_only_reported(csp_ui: UI, world: Desk) -> None:
    """The listener does see violations, and the browser blocks what they try."""
    ui = csp_ui
    visit(ui, "anonymous", "login-before-injection", "/login/")
    result: dict[str, Any] = ui.page.evaluate(
        """() => {
            document.body.setAttribute("style", "background: rgb(255, 0, 0)");
            const s = document.createElement("script");
            s.textContent = "window.__ran = true";
            document.head.appendChild(s);
            return {background: getComputedStyle(document.body).backgroundColor, ran: window.__ran === true};
        }"""
    )
    assert result["background"] != "rgb(255, 0, 0)" and result["ran"] is False
    ui.page.wait_for_function("() => window.__csp.length >= 2")
    violations = ui.page.evaluate("() => window.__csp")
    assert any(v.startswith("style-src") for v in violations), violations
    assert any(v.startswith("script-src") for v in violations), violations
    ui.problems.clear()  # the console errors of this test are the point of it


def test_a_paste_too_large_is_stopped_in_the_browser_and_the_text_stays(csp_ui: UI, world: Desk, settings) -> None:  # type: ignore[no-untyped-def]
    """paste.js checks the size before sending (the limit made small here); nothing is sent."""
    settings.MAX_PASTE_BYTES = 2000
    ui = csp_ui
    ui.sign_in(world.users["bob"])
    visit(ui, "editor", "paste-limit", "/domains/example.com/paste")
    text = "".join(f"many{n}@example.com\tanna@example.net\n" for n in range(80))
    ui.page.locator("#paste-text").fill(text)
    posts: list[str] = []
    ui.page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    ui.page.get_by_role("button", name="Add these aliases").click()
    said = re.compile(r"The text is 2\.\d KB; at most 2\.0\xa0KB can be added at once")
    expect(ui.page.locator("#paste-size")).to_contain_text(said)
    expect(ui.page.locator("#paste-text")).to_have_value(text)
    assert posts == [] and not Alias.objects.filter(key__startswith="many").exists()
    settle_and_check(ui, "editor", "paste-too-large")
