"""A domain's aliases as downloads (CONTRACT.md: aliases.csv, .xlsx, .ods), the spreadsheet CSV
and the printable page: each opened with the tool a user would, who may download what, the
grid's "this view", and that nothing a user typed runs as a formula."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from aliasdesk.aliases.alias_csv import DATA_HEADER
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, update_alias
from aliasdesk.maillog.models import AliasDay, AliasUsage
from tests.web.report_files import body, csv_rows, ods_rows, xlsx_rows

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

Login = Callable[[str], Client]
BASE = "/domains/example.com/"
TRICKY = [
    # key, destinations, enabled, comment, valid until
    ("calc@example.com", "x@example.org", True, "=HYPERLINK(\"http://evil.example\",\"click\")", None),
    ("plus@example.com", "y@example.org, z@example.org", False, "+1 for this\nsecond line, with a comma", None),
    ("at@example.com", "w@example.org", True, '@SUM(A1) and "quotes"', datetime.date(2031, 5, 17)),
    ("dash@example.com", "v@example.org", True, "-2+3\tand a tab", None),
    ("umlaut@example.com", "jürgen@example.org", True, "Grüße  with  double  spaces", None),
]


@pytest.fixture
def tricky(example: Domain) -> Domain:
    for key, destinations, enabled, comment, valid_until in TRICKY:
        create_alias(example, key, destinations, enabled=enabled, comment=comment, valid_until=valid_until)
    return example


def live_tuples(domain: Domain) -> list[tuple[str, str, bool, str, str]]:
    rows = Alias.objects.filter(domain=domain, deleted_at__isnull=True).order_by("id")
    return [
        (a.key, a.destinations, a.enabled, a.comment, a.valid_until.isoformat() if a.valid_until else "")
        for a in rows
    ]


def download(client: Client, path: str, **params: str) -> bytes:
    response = client.get(BASE + path, params)
    assert response.status_code == 200, (path, response.status_code)
    return body(response)


# --- the data CSV --------------------------------------------------------------------------


def test_the_data_csv_reads_back_to_the_same_aliases(tricky: Domain, login: Login):
    data = download(login("bob"), "aliases.csv")
    assert not data.startswith(b"\xef\xbb\xbf"), "the data file has no byte order mark"
    rows = csv_rows(data)
    assert tuple(rows[0]) == DATA_HEADER == ("key", "destinations", "enabled", "comment", "valid_until", "last_change")
    on_off = {"on": True, "off": False}
    parsed = [(key, dests, on_off[on], comment, until) for key, dests, on, comment, until, _ in rows[1:]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[5]) for row in rows[1:])
    assert parsed == live_tuples(tricky)


def test_the_data_csv_is_exact(tricky: Domain, login: Login):
    """Nothing is escaped in the data file: a re-import must give the same text back."""
    text = download(login("bob"), "aliases.csv").decode()
    assert '"=HYPERLINK(""http://evil.example"",""click"")"' in text
    assert '"+1 for this\nsecond line, with a comma"' in text, "a newline stays a real newline, quoted"
    assert "at@example.com,w@example.org,on,\"@SUM(A1) and \"\"quotes\"\"\",2031-05-17," in text
    assert "plus@example.com,\"y@example.org, z@example.org\",off," in text


def test_the_data_csv_leaves_out_the_trash(tricky: Domain, login: Login):
    gone = Alias.objects.get(key="dash@example.com")
    from aliasdesk.aliases.services import soft_delete_alias

    soft_delete_alias(gone, version=gone.version)
    keys = [row[0] for row in csv_rows(download(login("bob"), "aliases.csv"))[1:]]
    assert "dash@example.com" not in keys and "info@example.com" in keys


def test_the_data_csv_reads_every_row_of_a_domain_larger_than_one_batch(example: Domain, login: Login, monkeypatch):
    from aliasdesk.aliases import alias_csv

    monkeypatch.setattr(alias_csv, "BATCH", 3)
    for i in range(8):
        create_alias(example, f"n{i}@example.com", f"n{i}@example.org")
    rows = csv_rows(download(login("dave"), "aliases.csv"))[1:]
    assert [r[0] for r in rows] == [t[0] for t in live_tuples(example)]
    assert len(rows) == 10


# --- XLSX and ODS ------------------------------------------------------------------------------


def _traffic(key: str, received: int, days_ago: int) -> None:
    alias = Alias.objects.get(key=key)
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    AliasDay.objects.create(alias=alias, day=day, received=received)
    AliasUsage.objects.create(alias=alias, first_seen=timezone.now(), last_seen=timezone.now(), received=received)


@pytest.mark.parametrize(("path", "read"), [("aliases.xlsx", xlsx_rows), ("aliases.ods", ods_rows)])
def test_the_spreadsheets_hold_every_alias_as_text(tricky: Domain, login: Login, path: str, read):  # type: ignore[no-untyped-def]
    _traffic("info@example.com", 42, 3)
    rows = read(download(login("bob"), path))
    assert rows[0] == ["Address", "Destinations", "On/off", "Comment", "Valid until", "Last change", "Changed by",
                       "Mail received, 30 days", "Last seen"]
    by_key = {row[0]: row for row in rows[1:]}
    assert list(by_key) == [t[0] for t in live_tuples(tricky)]
    for key, destinations, enabled, comment, until in live_tuples(tricky):
        row = by_key[key]
        assert row[1:5] == [destinations, "on" if enabled else "off", comment, until], key
        assert row[5][:4] == str(timezone.localdate().year)
    assert by_key["info@example.com"][7] == "42"
    assert by_key["sales@example.com"][7:] == ["0", "never"]
    assert by_key["calc@example.com"][3].startswith("=HYPERLINK"), "text as typed, in a text cell"


def test_the_spreadsheet_csv_defuses_formulas(tricky: Domain, login: Login):
    data = download(login("bob"), "aliases-report.csv")
    assert data.startswith(b"\xef\xbb\xbf"), "Excel reads UTF-8 by the byte order mark"
    by_key = {row[0]: row for row in csv_rows(data)[1:]}
    assert by_key["calc@example.com"][3] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert by_key["plus@example.com"][3] == "'+1 for this\nsecond line, with a comma"
    assert by_key["at@example.com"][3] == "'@SUM(A1) and \"quotes\""
    assert by_key["dash@example.com"][3] == "'-2+3\tand a tab"
    assert by_key["umlaut@example.com"][3] == "Grüße  with  double  spaces"
    assert by_key["info@example.com"][3] == "OPS-1"


def test_a_key_starting_with_a_formula_sign_is_defused_too(example: Domain, login: Login):
    Alias.objects.filter(key="sales@example.com").update(key="=cmd|' /C calc'!A0", destinations="-x@example.org")
    by_key = {row[0]: row for row in csv_rows(download(login("bob"), "aliases-report.csv"))[1:]}
    assert by_key["'=cmd|' /C calc'!A0"][1] == "'-x@example.org"


def test_downloads_say_what_they_are(example: Domain, login: Login):
    client = login("bob")
    expected = {
        "aliases.csv": "text/csv",
        "aliases-report.csv": "text/csv",
        "aliases.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "aliases.ods": "application/vnd.oasis.opendocument.spreadsheet",
    }
    today = timezone.localdate().isoformat()
    for path, content_type in expected.items():
        response = client.get(BASE + path)
        assert response["Content-Type"].startswith(content_type), path
        extension = path.rsplit(".", 1)[1]
        assert f'attachment; filename="aliases-example.com-{today}.{extension}"' == response["Content-Disposition"]
        assert "no-store" in response["Cache-Control"]
        assert response.streaming, f"{path} is streamed"


# --- who may download --------------------------------------------------------------------------

PATHS = ["aliases.csv", "aliases-report.csv", "aliases.xlsx", "aliases.ods", "aliases.html"]


@pytest.mark.parametrize("path", PATHS)
def test_a_domain_one_may_not_see_answers_404(example: Domain, other: Domain, login: Login, path: str):
    for name in ("bob", "dave", "erin"):
        assert login(name).get(f"/domains/other.org/{path}").status_code == 404, name
    assert login("erin").get(BASE + path).status_code == 404
    assert login("bob").get(f"/domains/nowhere.example/{path}").status_code == 404


@pytest.mark.parametrize("path", PATHS)
def test_viewers_auditors_and_admins_download(example: Domain, other: Domain, login: Login, path: str):
    for name in ("dave", "carol", "alice"):
        assert login(name).get(BASE + path).status_code == 200, name
    for name in ("carol", "alice"):
        assert login(name).get(f"/domains/other.org/{path}").status_code == 200, name


def test_signing_in_comes_first(example: Domain):
    response = Client().get(BASE + "aliases.csv")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- this view ---------------------------------------------------------------------------------


def test_this_view_applies_the_grids_search_and_filters(tricky: Domain, login: Login):
    client = login("bob")

    def keys(path: str, **params: str) -> list[str]:
        return [row[0] for row in csv_rows(download(client, path, **params))[1:]]

    assert keys("aliases.csv", q="example.org, z") == ["plus@example.com"]
    assert keys("aliases-report.csv", show="disabled") == ["plus@example.com"]
    assert keys("aliases.csv", show="expiring") == ["at@example.com"]
    assert keys("aliases.csv", q="com", order="-key")[:3] == ["umlaut@example.com", "sales@example.com",
                                                               "plus@example.com"]
    assert [row[0] for row in xlsx_rows(download(client, "aliases.xlsx", q="sales"))[1:]] == ["sales@example.com"]
    assert [row[0] for row in ods_rows(download(client, "aliases.ods", q="OPS-1"))[1:]] == ["info@example.com"]


def test_this_view_can_list_aliases_without_mail(tricky: Domain, login: Login):
    Alias.objects.update(created_at=timezone.now() - datetime.timedelta(days=200))
    _traffic("info@example.com", 5, 1)
    keys = [row[0] for row in csv_rows(download(login("bob"), "aliases-report.csv", unused="90"))[1:]]
    assert "info@example.com" not in keys
    assert "plus@example.com" not in keys, "switched off: not counted as unused"
    assert "sales@example.com" in keys


def test_the_download_menu_offers_every_format_and_this_view(tricky: Domain, login: Login):
    client = login("dave")
    page = client.get(BASE).content.decode()
    for path in PATHS:
        assert f'href="{BASE}{path}"' in page, path
    assert "exact, for re-import" in page and "formula starts with" in page
    assert "This view" not in page
    grid = client.get(BASE, {"q": "sales", "show": "enabled"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="grid")
    html = grid.content.decode()
    assert "This view: search “sales”, switched on" in html
    assert f'href="{BASE}aliases.xlsx?q=sales&amp;show=enabled"' in html


# --- the printable page ------------------------------------------------------------------------


def test_the_printable_page_heads_every_page_with_domain_and_date(tricky: Domain, login: Login):
    html = download(login("dave"), "aliases.html", q="example.org").decode()
    assert html.startswith("<!doctype html>")
    assert 'class="mainnav"' not in html and "topbar" not in html, "no navigation"
    assert "aliasdesk/report.css" in html
    head = html.split("<tbody>")[0]
    assert "Aliases · example.com" in head and timezone.localdate().isoformat() in head
    assert "search “example.org”" in head
    assert "<thead>" in head and "<th scope=\"col\">Destinations</th>" in head
    cells = html.replace("/<wbr>", "/")  # a path or URL may wrap after each "/"
    assert "<td>=HYPERLINK(&quot;http://evil.example&quot;,&quot;click&quot;)</td>" in cells, "escaped"
    assert "<td>umlaut@example.com</td>" in html
    assert 'href="/domains/example.com/?q=example.org"' in html, "back to the same view"


def test_printed_cells_wrap(example: Domain, login: Login):
    """Numbers and days stay whole, a map path wraps at its slashes, a hash anywhere."""
    alias = Alias.objects.get(key="sales@example.com")
    update_alias(alias, version=alias.version, comment="see " + "f" * 64)
    html = download(login("alice"), "aliases.html").decode()
    assert '<td class="hash">see ' + "f" * 64 + "</td>" in html
    assert re.search(r'<td><span class="day">\d{4}-\d\d-\d\d</span> \d\d:\d\d:\d\d</td>', html)
    summary = login("alice").get("/reports/domains.html")
    page = b"".join(summary.streaming_content).decode()  # type: ignore[attr-defined]
    assert "<td>" + f"hash:{example.map_path}".replace("/", "/<wbr>") + "</td>" in page
    assert '<td class="num">2</td>' in page  # the aliases switched on


def test_the_printable_page_says_when_it_stops(example: Domain, login: Login, monkeypatch):
    from aliasdesk.web.reports import formats

    monkeypatch.setattr(formats, "PRINT_LIMIT", 1)
    html = download(login("bob"), "aliases.html").decode()
    assert html.count("@example.com</td>") == 1
    assert "Only the first 1 rows are printed" in html


def test_the_last_change_and_who_made_it(example: Domain, login: Login, everyone):  # type: ignore[no-untyped-def]
    alias = Alias.objects.get(key="sales@example.com")
    update_alias(alias, version=alias.version, user=everyone["bob"], comment="moved to the new team")
    by_key = {row[0]: row for row in xlsx_rows(download(login("dave"), "aliases.xlsx"))[1:]}
    assert by_key["sales@example.com"][3] == "moved to the new team"
    assert by_key["sales@example.com"][6] == "bob"
