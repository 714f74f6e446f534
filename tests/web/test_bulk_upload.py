"""The "Upload" page: a map file, CSV or XLSX, previewed (nothing changes), then applied or
cancelled; problems by line or row; editors add and change, admins may replace the whole map;
a stale preview is refused; every refusal changes nothing."""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from aliasdesk.aliases import services
from aliasdesk.aliases.bulk_files import COLUMNS
from aliasdesk.aliases.models import Alias, Domain

pytestmark = [pytest.mark.django_db]

URL = "/domains/example.com/upload"
APPLY = URL + "/apply"
CANCEL = URL + "/cancel"
Login = Callable[[str], Client]

# example.com holds info@ (anna, ben; comment OPS-1) and sales@ (carla).
MAP = (
    "new@example.com\tnew@example.org\n"
    "# moved to dora\n"
    "sales@example.com\tdora@example.org\n"
    "#info@example.com\tanna@example.org, ben@example.org\n"
)


def snapshot() -> list[Any]:
    return [
        list(Alias.objects.order_by("pk").values()),
        list(Domain.objects.order_by("pk").values()),
        Alias.history.count(),
        Domain.history.count(),
    ]


def csv_bytes(rows: list[list[str]], header: tuple[str, ...] = ("key", "destinations", "enabled", "comment",
                                                                  "valid_until")) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["key", "destinations", "enabled", "comment", "valid_until"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def preview(client: Client, name: str, content: bytes, **extra: str) -> Any:
    headers = {key: extra.pop(key) for key in list(extra) if key.startswith("HTTP_")}
    return client.post(URL, {"file": SimpleUploadedFile(name, content), **extra}, **headers)


def upload_id(response: Any) -> str:
    pending = response.context["pending"]
    assert pending is not None
    return str(pending.id)


def test_the_form_is_there_for_editors(login: Login, example: Domain) -> None:
    page = login("bob").get(URL).content.decode()
    assert 'type="file"' in page and 'name="format"' in page
    assert 'value="replace"' not in page  # replacing the whole map is for administrators
    assert 'value="replace"' in login("alice").get(URL).content.decode()


def test_the_columns_are_named_as_written_and_explained_in_the_readers_language(
    login: Login, example: Domain
) -> None:
    page = login("bob").get(URL, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    names = re.findall(r"<dt><code>([^<]+)</code></dt>", page)
    assert names == list(COLUMNS) == ["key", "destinations", "enabled", "comment", "valid_until"]
    assert "<dt><code>enabled</code></dt><dd>on oder off (auch yes/no, true/false oder 1/0); leer: ein" in page
    assert "<dt><code>key</code></dt><dd>die Adresse, für die Mail ankommt (Pflicht)</dd>" in page
    assert "Spalten einer CSV- oder XLSX-Datei" in page and "übernehmen" not in page.split("<main")[1]
    english = login("bob").get(URL).content.decode()
    assert "<dt><code>valid_until</code></dt><dd>the last day it forwards, as YYYY-MM-DD" in english


def test_the_preview_names_what_happens_in_the_readers_language(login: Login, example: Domain) -> None:
    page = preview(login("bob"), "virtual", MAP.encode(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert re.search(r'<span class="badge badge-ok">1</span> hinzugefügt</li>', page)
    assert re.search(r'<span class="badge badge-warn">1</span> ausgeschaltet</li>', page)
    assert ">Hinzugefügt (1)</h3>" in page and ">Zeile</th>" in page
    assert ">Änderungen speichern</button>" in page
    for english in ("> added<", "Added (", ">Line<", ">Row<", ">Apply<"):
        assert english not in page


def test_a_map_preview_counts_and_changes_nothing_then_apply(login: Login, example: Domain) -> None:
    client = login("bob")
    before = snapshot()
    response = preview(client, "virtual", MAP.encode())
    assert response.status_code == 200, response.content.decode()[:3000]
    counts = response.context["report"].counts
    assert counts == {"added": 1, "changed": 1, "switched off": 1, "deleted": 0}
    page = response.content.decode().replace("<wbr>", "")  # addresses may wrap after "@" and "."
    assert "new@example.com" in page and "carla@example.org" in page and "dora@example.org" in page
    assert snapshot() == before

    history = Alias.history.count()
    response = client.post(APPLY, {"upload": upload_id(response)})
    assert response.status_code == 302 and response["Location"] == "/domains/example.com/"
    new = Alias.objects.get(key="new@example.com")
    assert (new.destinations, new.enabled) == ("new@example.org", True)
    sales = Alias.objects.get(key="sales@example.com")
    assert (sales.destinations, sales.comment) == ("dora@example.org", "moved to dora")
    assert not Alias.objects.get(key="info@example.com").enabled
    assert Alias.history.count() == history + 3  # one history row per alias
    for alias in (new, sales):
        record = alias.history.latest()  # type: ignore[attr-defined]
        assert record.history_user.username == "bob"
        assert record.history_change_reason == "upload of virtual"
    assert not list((Path(settings.DATA_DIR) / "uploads").iterdir())  # the kept file is gone


def test_a_csv_upload_with_every_column(login: Login, example: Domain) -> None:
    content = csv_bytes([
        ["team@example.com", "anna@example.org,ben@example.org  carla@example.org", "yes", "line one\nline two",
         "2031-12-31"],
        ["old@example.com", "x@example.org", "off", "=HYPERLINK(\"http://evil\")", ""],
        ["sales@example.com", "carla@example.org", "1", "", ""],
    ])
    client = login("bob")
    response = preview(client, "aliases.csv", content)
    assert response.status_code == 200, response.content.decode()[:3000]
    assert response.context["report"].counts == {"added": 2, "changed": 0, "switched off": 0, "deleted": 0}
    assert response.context["report"].unchanged == 1
    assert client.post(APPLY, {"upload": upload_id(response)}).status_code == 302
    team = Alias.objects.get(key="team@example.com")
    assert team.destinations == "anna@example.org, ben@example.org, carla@example.org"
    assert (team.comment, team.valid_until) == ("line one\nline two", datetime.date(2031, 12, 31))
    old = Alias.objects.get(key="old@example.com")
    assert (old.enabled, old.comment) == (False, '=HYPERLINK("http://evil")')  # a formula is just text


def test_an_xlsx_upload_changes_and_adds(login: Login, example: Domain) -> None:
    content = xlsx_bytes([
        ["info@example.com", "anna@example.org", True, "OPS-1", datetime.date(2030, 1, 2)],
        ["xl@example.com", "x@example.org, y@example.org", "on", "=1+2", None],
    ])
    client = login("bob")
    response = preview(client, "book.xlsx", content)
    assert response.status_code == 200, response.content.decode()[:3000]
    report = response.context["report"]
    assert (report.counts["added"], report.counts["changed"]) == (1, 1)
    assert [(c.line, c.key) for c in report.changes["changed"]] == [(2, "info@example.com")]
    assert client.post(APPLY, {"upload": upload_id(response)}).status_code == 302
    info = Alias.objects.get(key="info@example.com")
    assert (info.destinations, info.valid_until) == ("anna@example.org", datetime.date(2030, 1, 2))
    assert Alias.objects.get(key="xl@example.com").comment == "=1+2"


def test_problems_are_listed_by_row_and_nothing_changes(login: Login, example: Domain) -> None:
    content = csv_bytes([
        ["ok@example.com", "x@example.org", "on", "", ""],
        ["x@unowned.example", "x@example.org", "on", "", ""],
        ["maybe@example.com", "x@example.org", "maybe", "", ""],
        ["date@example.com", "x@example.org", "on", "", "next week"],
        ["ok@example.com", "y@example.org", "on", "", ""],
    ])
    before = snapshot()
    response = preview(login("bob"), "aliases.csv", content)
    assert response.status_code == 422
    rows = [(p.line, p.message) for p in response.context["refused"] if p.severity == "error"]
    assert [line for line, _ in rows] == [3, 4, 5, 6]
    assert "not a mail domain of this map" in rows[0][1]
    assert "write on or off" in rows[1][1]
    assert "YYYY-MM-DD" in rows[2][1]
    assert "is on row 2 already" in rows[3][1]
    page = response.content.decode()
    assert "Nothing was changed" in page and "Apply" not in page
    assert snapshot() == before


def test_map_problems_are_listed_by_line(login: Login, example: Domain) -> None:
    text = "ok@example.com x@example.org\nnovalue@example.com\npostmaster@example.com x@example.org\n"
    response = preview(login("bob"), "virtual", text.encode())
    assert response.status_code == 422
    assert response.context["unit"] == "line"
    errors = {p.line: p.message for p in response.context["refused"] if p.severity == "error"}
    assert sorted(errors) == [2, 3]
    assert "administrators only" in errors[3]


def test_cancel_forgets_the_preview(login: Login, example: Domain) -> None:
    client = login("bob")
    response = preview(client, "virtual", MAP.encode())
    pending = upload_id(response)
    before = snapshot()
    assert client.post(CANCEL).status_code == 302
    response = client.post(APPLY, {"upload": pending}, follow=True)
    assert "No preview to apply" in response.content.decode()
    assert snapshot() == before
    assert not list((Path(settings.DATA_DIR) / "uploads").iterdir())


def test_a_stale_preview_is_refused(login: Login, example: Domain) -> None:
    client = login("bob")
    response = preview(client, "virtual", MAP.encode())
    sales = Alias.objects.get(key="sales@example.com")
    services.update_alias(sales, version=sales.version, destinations="zoe@example.org")
    before = snapshot()
    response = client.post(APPLY, {"upload": upload_id(response)}, follow=True)
    assert "changed since this preview was made; nothing was applied" in response.content.decode()
    assert snapshot() == before
    assert not Alias.objects.filter(key="new@example.com").exists()


def test_apply_checks_again_and_applies_nothing_when_it_no_longer_fits(login: Login, example: Domain) -> None:
    client = login("bob")
    response = preview(client, "virtual", b"a@example.com x@example.org\nb@example.com y@example.org\n")
    assert response.status_code == 200
    Domain.objects.filter(pk=example.pk).update(max_aliases=3)  # a limit is no alias change: same serial
    before = snapshot()
    response = client.post(APPLY, {"upload": upload_id(response)})
    assert response.status_code == 422
    assert "allows at most 3 aliases" in response.content.decode()
    assert snapshot() == before


def test_replace_is_for_administrators(login: Login, example: Domain) -> None:
    before = snapshot()
    assert preview(login("bob"), "virtual", MAP.encode(), mode="replace").status_code == 403
    assert snapshot() == before


def test_an_admin_replaces_the_whole_map(login: Login, example: Domain) -> None:
    client = login("alice")
    text = "# managed by the upload\n\nnew@example.com\tnew@example.org\nsales@example.com\tcarla@example.org\n"
    response = preview(client, "virtual", text.encode(), mode="replace")
    assert response.status_code == 200, response.content.decode()[:3000]
    report = response.context["report"]
    assert report.counts == {"added": 1, "changed": 0, "switched off": 0, "deleted": 1}
    assert [c.key for c in report.changes["deleted"]] == ["info@example.com"]
    assert client.post(APPLY, {"upload": upload_id(response)}).status_code == 302
    live = set(Alias.objects.filter(deleted_at__isnull=True).values_list("key", flat=True))
    assert live == {"new@example.com", "sales@example.com"}
    example.refresh_from_db()
    assert example.header == "# managed by the upload\n"
    gone = Alias.objects.get(key="info@example.com")
    assert gone.history.latest().history_user.username == "alice"  # type: ignore[attr-defined]


def test_a_viewer_cannot_preview_or_apply(login: Login, example: Domain) -> None:
    before = snapshot()
    client = login("dave")
    assert client.get(URL).status_code == 403
    assert preview(client, "virtual", MAP.encode()).status_code == 403
    assert client.post(APPLY, {"upload": "x" * 32}).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virtual.db", b"a@example.com b@example.org\n\0\0\0\x01", "is a binary file"),
        ("virtual", "a@example.com\tbj\u00f6rn@example.org\n".encode("latin-1"), "is not UTF-8 text"),
        ("aliases.csv", "key,destinations\nbj\u00f6rn@example.com,x@example.org\n".encode("latin-1"), "not UTF-8"),
        ("aliases.csv", b"key,comment\na@example.com,hello\n", "missing: destinations"),
        ("aliases.csv", b"", "is empty"),
        ("book.xlsx", b"PK\x03\x04 this is no workbook", "is not an XLSX workbook"),
    ],
    ids=["nul", "latin-1-map", "latin-1-csv", "missing-column", "empty-csv", "junk-xlsx"],
)
def test_bad_files_are_refused_with_a_message(
    login: Login, example: Domain, name: str, content: bytes, message: str
) -> None:
    before = snapshot()
    response = preview(login("bob"), name, content)
    assert response.status_code == 422
    page = response.content.decode()
    assert message in page and "Nothing was changed" in page
    assert snapshot() == before


def test_an_oversized_upload_is_refused(login: Login, example: Domain, settings: Any) -> None:
    settings.MAX_UPLOAD_BYTES = 1000
    before = snapshot()
    response = preview(login("bob"), "virtual", b"a@example.com b@example.org\n" + b"#" * 5000)
    assert response.status_code == 413
    assert "a file may hold at most" in response.content.decode()
    assert snapshot() == before


def test_no_file_is_a_message(login: Login, example: Domain) -> None:
    response = login("bob").post(URL, {})
    assert response.status_code == 422
    assert "Choose a file first" in response.content.decode()


def test_the_format_can_be_given(login: Login, example: Domain) -> None:
    content = csv_bytes([["csv@example.com", "x@example.org", "on", "", ""]])
    response = preview(login("bob"), "export.txt", content, format="csv")
    assert response.status_code == 200
    assert response.context["report"].counts["added"] == 1


def test_a_paste_writes_one_history_row_per_alias_by_the_user(login: Login, example: Domain) -> None:
    history = Alias.history.count()
    text = "".join(f"p{n}@example.com\tx{n}@example.org\n" for n in range(50))
    response = login("bob").post("/domains/example.com/paste", {"text": text})
    assert response.status_code == 302
    assert Alias.history.count() == history + 50
    records = Alias.history.filter(key__startswith="p")
    assert {r.history_user.username for r in records} == {"bob"}
    assert {r.history_type for r in records} == {"+"}


def test_a_paste_is_all_or_nothing(login: Login, example: Domain) -> None:
    before = snapshot()
    text = (
        "a@example.com x@example.org\nnovalue@example.com\nb@example.com y@example.org\n"
        "a@example.com z@example.org\n"
    )
    response = login("bob").post("/domains/example.com/paste", {"text": text})
    assert response.status_code == 422
    problems = response.context["problems"]
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 4"]
    assert "is on line 1 already" in problems[1]
    assert snapshot() == before
