"""Uploading a bulk file in a real browser: the form, the preview with its counts and
problems, Apply and Cancel."""

from __future__ import annotations

import pytest

from aliasdesk.aliases.models import Alias
from tests.browser.conftest import BROWSER_TEST, UI, Desk

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST

CSV = (
    "key,destinations,enabled,comment,valid_until\n"
    'events@example.com,"fred@example.net, gina@example.net",on,OPS-12,2031-01-31\n'
    "sales@example.com,zoe@example.net,on,,\n"
    "jobs@example.com,hr@example.net,off,closed for now,\n"
)


def test_editor_uploads_a_csv_previews_and_applies(ui: UI, desk: Desk, tmp_path):  # type: ignore[no-untyped-def]
    src = tmp_path / "aliases.csv"
    src.write_text(CSV)
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/")
    ui.page.get_by_role("link", name="Upload").click()
    ui.check_assets()
    expect(ui.page.get_by_label("File (a map, .csv or .xlsx")).to_be_visible()
    ui.shot("upload-form")
    ui.page.get_by_label("File (a map, .csv or .xlsx").set_input_files(str(src))
    ui.page.get_by_role("button", name="Preview").click()
    ui.check_assets()
    counts = ui.page.get_by_label("What changes")
    expect(counts).to_contain_text("1 added")
    expect(counts).to_contain_text("1 changed")
    expect(counts).to_contain_text("1 switched off")
    expect(counts).to_contain_text("0 deleted")
    expect(ui.page.get_by_role("table", name="Changed")).to_contain_text("carla@example.net")
    expect(ui.page.get_by_role("table", name="Changed")).to_contain_text("zoe@example.net")
    assert desk.alias("sales@example.com").destinations == "carla@example.net"  # nothing changed yet
    ui.shot("upload-preview")
    ui.page.get_by_role("button", name="Apply").click()
    expect(ui.page.get_by_text("Applied aliases.csv: 1 added, 1 changed, 1 switched off, 0 deleted")).to_be_visible()
    ui.check_assets()
    assert desk.alias("sales@example.com").destinations == "zoe@example.net"
    assert not desk.alias("jobs@example.com").enabled
    assert desk.alias("events@example.com").comment == "OPS-12"


def test_problems_by_row_and_cancel(ui: UI, desk: Desk, tmp_path):  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "x@example.org,y@example.net,on,,\nnew@example.com,,on,,\n")
    ui.sign_in(desk.users["bob"])
    ui.open("/domains/example.com/upload")
    ui.page.get_by_label("File (a map, .csv or .xlsx").set_input_files(str(bad))
    ui.page.get_by_role("button", name="Preview").click()
    problems = ui.page.get_by_role("table", name="Problems")
    expect(problems).to_contain_text("belongs to the map of example.org")
    expect(problems).to_contain_text("give at least one destination")
    expect(ui.page.get_by_role("button", name="Apply")).to_have_count(0)
    ui.shot("upload-problems")

    good = tmp_path / "good.csv"
    good.write_text(CSV)
    ui.open("/domains/example.com/upload")
    ui.page.get_by_label("File (a map, .csv or .xlsx").set_input_files(str(good))
    ui.page.get_by_role("button", name="Preview").click()
    expect(ui.page.get_by_label("What changes")).to_contain_text("1 added")
    ui.page.get_by_role("button", name="Cancel").click()
    expect(ui.page.get_by_text("Cancelled: nothing was changed.")).to_be_visible()
    ui.check_assets()
    assert not Alias.objects.filter(key="events@example.com").exists()
