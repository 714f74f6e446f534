"""Reading bulk files (aliasdesk/aliases/bulk_files.py): the data CSV, XLSX and maps as entries,
with every problem by its row or line; files that are none of these are refused whole."""

from __future__ import annotations

import datetime
import io

import openpyxl
import pytest

from aliasdesk.aliases.bulk_files import NotABulkFile, guess_format, read_source

HEADER = "key,destinations,enabled,comment,valid_until\n"


def test_the_format_comes_from_the_name_or_the_option() -> None:
    assert guess_format("aliases.CSV") == "csv"
    assert guess_format("book.xlsx") == "xlsx"
    assert guess_format("virtual") == "map"
    assert guess_format("virtual.csv", "map") == "map"
    with pytest.raises(Exception, match="unknown format"):
        guess_format("x", "ods")


@pytest.mark.parametrize(
    ("word", "enabled"),
    [("on", True), ("off", False), ("Yes", True), ("no", False), ("TRUE", True), ("false", False), ("1", True),
     ("0", False), ("", True)],
)
def test_enabled_takes_the_usual_words(word: str, enabled: bool) -> None:
    source = read_source((HEADER + f"a@example.com,x@example.org,{word},,\n").encode(), "a.csv", "csv")
    assert [e.enabled for e in source.entries] == [enabled]


def test_a_csv_row_becomes_an_entry_with_its_row_number() -> None:
    data = (
        "\ufeff" + HEADER + "\n"
        'a@example.com,"x@example.org,y@example.org  z@example.org",on,"two\r\nlines",2030-01-31\n'
        "b@example.com,w@example.org,off,=SUM(A1:A2),\n"
    ).encode()
    source = read_source(data, "a.csv", "csv")
    assert source.unit == "row" and not source.problems
    first, second = source.entries
    assert (first.key, first.value, first.comment, first.line) == (
        "a@example.com", "x@example.org,y@example.org  z@example.org", "two\nlines", 3)
    assert source.valid_until == {3: datetime.date(2030, 1, 31), 4: None}
    assert (second.enabled, second.comment) == (False, "=SUM(A1:A2)")


def test_columns_may_come_in_any_order_and_extra_ones_are_noted() -> None:
    data = b"Destinations,Key,owner,last change\nx@example.org,a@example.com,anna,2025-01-01\n"
    source = read_source(data, "a.csv", "csv")
    assert [(e.key, e.value) for e in source.entries] == [("a@example.com", "x@example.org")]
    assert [(p.line, p.severity) for p in source.problems] == [(1, "warning")]  # owner; last change is the export's


def test_bad_cells_are_problems_of_their_row() -> None:
    data = (HEADER + "a@example.com,,on,,\n,x@example.org,on,,\nc@example.com,x@example.org,perhaps,,\n"
            "d@example.com,x@example.org,on,,31.12.2030\n").encode()
    source = read_source(data, "a.csv", "csv")
    assert not source.entries
    assert [p.line for p in source.problems] == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"key,comment\na@example.com,x\n", "missing: destinations"),
        (b"", "is empty"),
        (b"key,destinations,key\na,b,c\n", "there twice"),
        (b'key,destinations\n"a@example.com,x\n', "not a readable CSV"),
        (b"key,destinations\na\0b,c\n", "binary"),
    ],
)
def test_a_file_that_is_no_data_csv_is_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(NotABulkFile, match=message):
        read_source(data, "a.csv", "csv")


def test_an_xlsx_sheet_reads_as_text() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["key", "destinations", "enabled", "comment", "valid_until"])
    sheet.append(["a@example.com", "x@example.org", False, "=1+1", datetime.datetime(2031, 5, 6)])
    sheet.append([None, None, None, None, None])
    sheet.append(["b@example.com", "y@example.org", 1, 42, None])
    out = io.BytesIO()
    book.save(out)
    source = read_source(out.getvalue(), "b.xlsx", "xlsx")
    first, second = source.entries
    assert (first.enabled, first.comment, first.line) == (False, "=1+1", 2)
    assert source.valid_until == {2: datetime.date(2031, 5, 6), 4: None}
    assert (second.enabled, second.comment, second.line) == (True, "42", 4)


def test_a_map_keeps_the_parser_and_is_refused_whole_when_binary_for_an_upload() -> None:
    source = read_source(b"# head\n\na@example.com x@example.org\n", "virtual", "map")
    assert source.unit == "line" and source.header == "# head\n" and source.entries[0].line == 3
    with pytest.raises(NotABulkFile, match="binary"):
        read_source(b"a@example.com\0 x\n", "virtual", "map")
    lenient = read_source(b"a@example.com\0 x\n", "virtual", "map", strict=False)  # as `aliasdesk import`
    assert {p.line for p in lenient.problems if p.severity == "error"} == {1}
