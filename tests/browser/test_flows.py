"""What people do in aliasdesk, in a real browser: sign in, search, edit, switch off, deploy,
restore, meet a conflict, hit a domain they may not see, edit the map header.

Every page visited is saved as screenshots/<name>.png (1280×900; the domain page also at
390×844) so a person can look at them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

from aliasdesk.aliases import services
from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.models import Deploy
from tests.browser.conftest import PASSWORD, UI, Desk
from tests.conftest import require_postmap

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),  # one worker, one chromium
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def row_of(ui: UI, alias_id: int):  # type: ignore[no-untyped-def]
    return ui.page.locator(f"#alias-{alias_id}")


def test_sign_in_refuses_a_wrong_password_and_takes_the_right_one(ui: UI, desk: Desk):
    ui.open("/domains/", status=200)  # redirected to the form
    expect(ui.page).to_have_url(re.compile(r"/login/\?next=/domains/"))
    ui.shot("login")

    ui.page.get_by_label("User name").fill("alice")
    ui.page.get_by_label("Password").fill("not-her-password")
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("do not match")
    expect(ui.page).to_have_url(re.compile(r"/login/"))
    ui.shot("login-wrong-password")

    ui.page.get_by_label("Password").fill(PASSWORD)
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page).to_have_url(re.compile(r"/domains/$"))
    expect(ui.page.get_by_role("heading", name="Domains")).to_be_visible()
    expect(ui.page.get_by_role("link", name="example.org")).to_be_visible()
    ui.check_assets()
    ui.shot("domains-admin")

    ui.page.locator("summary", has_text="alice").click()
    ui.page.get_by_role("button", name="Sign out").click()
    expect(ui.page).to_have_url(re.compile(r"/login/"))
    ui.check_assets()
    ui.shot("signed-out")


def test_search_narrows_the_grid_as_one_types_without_loading_a_page(ui: UI, desk: Desk):
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    rows = ui.page.locator("#grid tbody tr")
    expect(rows).to_have_count(6)
    ui.shot("domain-example.com")
    ui.page.evaluate("() => { window.stillTheSamePage = true; }")

    ui.page.locator("#q").press_sequentially("sales", delay=40)
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("sales@example.com")
    expect(ui.page).to_have_url(re.compile(r"[?&]q=sales\b"))
    ui.page.locator("#q").press_sequentially(" emea", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("sales-emea@example.com")
    expect(ui.page).to_have_url(re.compile(r"[?&]q=sales(\+|%20)emea\b"))
    ui.shot("domain-search-sales-emea")

    ui.page.locator("#show").select_option(label="Deleted (trash)")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("No alias matches")
    expect(ui.page).to_have_url(re.compile(r"[?&]show=deleted\b"))
    assert ui.page.evaluate("() => window.stillTheSamePage") is True, "the search loaded a whole page"


def test_domain_page_fits_a_phone(phone: UI, desk: Desk):
    phone.sign_in(desk.users["bob"])
    phone.open("/domains/example.com/")
    expect(phone.page.locator("#grid tbody tr")).to_have_count(6)
    phone.shot("domain-example.com-phone")
    widths = phone.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is wider than the phone: {widths}"


def test_inline_edit_saves_destinations_and_refuses_a_bad_address_at_the_field(ui: UI, desk: Desk):
    info = desk.alias("info@example.com")
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    row = row_of(ui, info.pk)

    ui.page.get_by_role("button", name="Edit info@example.com").click()
    expect(row.locator("textarea[name=destinations]")).to_be_visible()
    ui.shot("alias-edit-open")
    row.locator("textarea[name=destinations]").fill("zoe@example.net, yann@example.net")
    row.get_by_role("button", name="Save").click()
    expect(row.locator("td.dest")).to_have_text("zoe@example.net, yann@example.net")
    expect(row.get_by_role("status")).to_have_text("saved")
    ui.shot("alias-edit-saved")
    info.refresh_from_db()
    assert info.destinations == "zoe@example.net, yann@example.net"

    ui.page.get_by_role("button", name="Edit info@example.com").click()
    field = row.locator("textarea[name=destinations]")
    field.fill("|/usr/bin/evil")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_role("alert")).to_contain_text("cannot deliver to a command")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", f"err-{info.pk}")
    expect(ui.page.locator(f"#err-{info.pk}")).to_contain_text("|/usr/bin/evil")
    expect(field).to_have_value("|/usr/bin/evil")
    ui.shot("alias-edit-bad-address")
    before = info.version
    info.refresh_from_db()
    assert (info.destinations, info.version) == ("zoe@example.net, yann@example.net", before)


def test_bulk_switch_off_turns_the_selected_rows_off(ui: UI, desk: Desk):
    picked = [desk.alias("sales@example.com"), desk.alias("jobs@example.com")]
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    for alias in picked:
        ui.page.get_by_label(f"Select {alias.key}").check()
    ui.page.locator("#bulk-action").select_option(label="Switch off")
    ui.shot("bulk-selected")
    ui.page.get_by_role("button", name="Apply").click()  # the grid comes back in place (htmx)
    expect(ui.page.locator("#grid .flash")).to_contain_text("Switched off: 2 aliases.")
    for alias in picked:
        expect(row_of(ui, alias.pk)).to_have_class(re.compile(r"\boff\b"))
        expect(row_of(ui, alias.pk).locator(".badge", has_text="off")).to_be_visible()
        alias.refresh_from_db()
        assert alias.enabled is False
    expect(row_of(ui, desk.alias("info@example.com").pk)).not_to_have_class(re.compile(r"\boff\b"))
    ui.shot("bulk-switched-off")


def test_deploy_shows_the_diff_then_writes_the_map(ui: UI, desk: Desk):
    require_postmap()
    domain = desk.domains["example.com"]
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    ui.page.get_by_role("navigation", name="example.com").get_by_role("link", name="Deploy", exact=True).click()
    expect(ui.page).to_have_url(re.compile(r"/domains/example.com/deploy$"))
    ui.check_assets()
    diff = ui.page.locator("pre.diff")
    expect(diff).to_contain_text("info@example.com")
    expect(diff.locator("span.add", has_text="sales-emea@example.com")).to_be_visible()
    ui.shot("deploy-preview")

    ui.page.get_by_role("button", name="Deploy now").click()
    expect(ui.page.locator(".messages")).to_contain_text("example.com")
    ui.check_assets()
    ui.shot("deploy-done")
    ui.page.get_by_role("link", name="Deploy history").click()
    first = ui.page.locator("tbody tr").first
    expect(first.locator(".badge-ok")).to_have_text("Deployed")
    ui.shot("deploy-history")

    deploy = Deploy.objects.get(domain=domain)
    assert deploy.status == Deploy.Status.OK
    text = Path(domain.map_path).read_text()
    assert re.search(r"^sales-emea@example\.com\s+dario@example\.net$", text, re.MULTILINE), text
    assert Path(domain.map_path + ".db").exists()


def test_history_restores_the_first_version(ui: UI, desk: Desk):
    bob = desk.users["bob"]
    info = desk.alias("info@example.com")
    first = info.destinations
    info = services.update_alias(info, version=info.version, user=bob, destinations="second@example.net")
    info = services.update_alias(info, version=info.version, user=bob, destinations="third@example.net")
    ui.sign_in(bob)
    ui.open("/domains/example.com/")
    with ui.page.expect_navigation():
        ui.page.get_by_role("link", name="History of info@example.com").click()
    ui.check_assets()
    rows = ui.page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("third@example.net")
    ui.shot("alias-history")

    with ui.page.expect_navigation():
        rows.last.get_by_role("button", name="Restore this version").click()
    expect(ui.page.locator(".messages")).to_contain_text("is back to its version of")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text(first)
    ui.shot("alias-history-restored")
    info.refresh_from_db()
    assert info.destinations == first


def test_stale_edit_shows_the_other_persons_value_and_overwrites_nothing(ui: UI, desk: Desk):
    info = desk.alias("info@example.com")
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    row = row_of(ui, info.pk)
    ui.page.get_by_role("button", name="Edit info@example.com").click()
    expect(row.locator("textarea[name=destinations]")).to_be_visible()

    services.update_alias(info, version=info.version, user=desk.users["alice"], destinations="theirs@example.net")

    row.locator("textarea[name=destinations]").fill("mine@example.net")
    row.get_by_role("button", name="Save").click()
    conflict = row.locator(".conflict")
    expect(conflict).to_contain_text("Someone else saved first")
    expect(conflict).to_contain_text("theirs@example.net")
    expect(row.locator("textarea[name=destinations]")).to_have_value("mine@example.net")
    ui.shot("alias-edit-conflict")
    info.refresh_from_db()
    assert info.destinations == "theirs@example.net"


def test_editor_meets_a_404_on_a_domain_not_granted(ui: UI, desk: Desk):
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/")
    expect(ui.page.get_by_role("link", name="example.com")).to_be_visible()
    expect(ui.page.get_by_role("link", name="example.org")).to_have_count(0)
    ui.shot("domains-editor")
    ui.open("/domains/example.org/", status=404)
    expect(ui.page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(ui.page.locator("main")).not_to_contain_text("olga@example.net")
    ui.shot("domain-not-granted-404")


def test_header_edit_shows_a_live_preview_then_saves(ui: UI, desk: Desk):
    try:
        resolve("/domains/example.com/settings")
    except Resolver404:
        pytest.skip("the domain settings page (/domains/<name>/settings) does not exist yet")
    ui.sign_in(desk.users["alice"])
    ui.open("/domains/example.com/settings")
    ui.shot("settings")
    preview = ui.page.locator("#preview")
    expect(preview).to_contain_text("info@example.com")

    header = ui.page.locator("textarea[name=header]")
    header.fill("# Managed by aliasdesk, ticket OPS-9\n# do not edit by hand")
    ui.page.locator("textarea[name=footer]").fill("# end of example.com")
    expect(preview).to_contain_text("ticket OPS-9")
    expect(preview).to_contain_text("# end of example.com")
    preview_text = preview.inner_text()
    assert preview_text.index("OPS-9") < preview_text.index("info@example.com"), "the header is not on top"
    assert Domain.objects.get(name="example.com").header == "", "the preview saved something"
    ui.shot("settings-live-preview")

    with ui.page.expect_navigation():
        ui.page.get_by_role("button", name="Save settings").click()
    ui.check_assets()
    expect(ui.page.locator(".messages")).to_contain_text("Saved the settings of example.com")
    ui.shot("settings-saved")
    domain = Domain.objects.get(name="example.com")
    assert domain.header == "# Managed by aliasdesk, ticket OPS-9\n# do not edit by hand\n"
    assert domain.footer == "# end of example.com\n"


def test_deploy_on_save_says_where_the_user_saved_that_the_change_is_live(ui: UI, desk: Desk):
    require_postmap()
    from aliasdesk.deploys.engine import deploy_domain

    com = desk.domains["example.com"]
    assert deploy_domain(com).status == "ok"
    ui.sign_in(desk.users["alice"])
    ui.open("/domains/example.com/settings")
    ui.page.get_by_label("Deploy on save").check()
    ui.shot("settings-deploy-on-save")
    ui.page.get_by_role("button", name="Save settings").click()
    ui.page.wait_for_load_state("load")
    assert Domain.objects.get(pk=com.pk).deploy_on_save

    info = desk.alias("info@example.com")
    ui.open("/domains/example.com/")
    row = row_of(ui, info.pk)
    ui.page.get_by_role("button", name="Edit info@example.com").click()
    row.locator("textarea[name=destinations]").fill("live@example.net")
    row.get_by_role("button", name="Save").click()
    expect(ui.page.locator("#deploy-status")).to_contain_text("example.com: saved and deployed")
    ui.shot("alias-edit-deployed-on-save")
    last = Deploy.objects.filter(domain=com).first()
    assert last is not None and last.status == "ok"
    assert "live@example.net" in Path(com.map_path).read_text()
    ui.open(f"/domains/example.com/deploys/{last.pk}")
    ui.shot("deploy-detail-patch")
