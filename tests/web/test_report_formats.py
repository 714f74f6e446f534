"""The writers under every report: text cells whatever the text, and rows streamed, not gathered."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.utils import timezone

from aliasdesk.web.reports import formats
from aliasdesk.web.reports.formats import Cell, Report, guarded
from aliasdesk.web.reports.ods import ods_stream, paragraphs
from tests.web.report_files import csv_rows, ods_rows, xlsx_rows


def report(rows: list[tuple[Cell, ...]] | Iterator[tuple[Cell, ...]]) -> Report:
    return Report("Test", "example.com", ("A", "B"), rows, "test-example.com")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_the_spreadsheet_csv_defuses_every_formula_start(text: str):
    assert guarded(text) == "'" + text
    assert guarded("a" + text) == "a" + text
    assert guarded(-5) == "-5", "a number the report made is no formula"


def test_ods_keeps_spaces_tabs_and_lines_and_drops_what_xml_cannot_hold():
    assert paragraphs("a  b") == '<text:p>a <text:s text:c="1"/>b</text:p>'
    assert paragraphs(" lead") == "<text:p><text:s/>lead</text:p>"
    assert paragraphs("one\ntwo\r\nthree") == "<text:p>one</text:p><text:p>two</text:p><text:p>three</text:p>"
    assert paragraphs("x\ty") == "<text:p>x<text:tab/>y</text:p>"
    assert paragraphs("bell\x07 <b>&") == "<text:p>bell &lt;b&gt;&amp;</text:p>"


def test_every_format_reads_back_the_same_text():
    rows: list[tuple[Cell, ...]] = [("=SUM(A1:A2)", "two  spaces\nand a line"), ("<tag>&", 7), (None, "")]
    data = b"".join(ods_stream(report(list(rows))))
    assert ods_rows(data) == [["A", "B"], ["=SUM(A1:A2)", "two  spaces\nand a line"], ["<tag>&", "7"], ["", ""]]
    out = io.BytesIO()
    assert formats.write_xlsx(report(list(rows)), out) == 3
    expected = [["A", "B"], ["=SUM(A1:A2)", "two  spaces\nand a line"], ["<tag>&", "7"], ["", ""]]
    assert xlsx_rows(out.getvalue()) == expected
    response = formats.sheet_csv_response(report(list(rows)))
    data = b"".join(response.streaming_content)
    assert csv_rows(data) == [["A", "B"], ["'=SUM(A1:A2)", "two  spaces\nand a line"], ["<tag>&", "7"], ["", ""]]


def test_an_overlong_cell_is_cut_where_excel_stops():
    out = io.BytesIO()
    formats.write_xlsx(report([("x" * 40_000, "ok")]), out)
    cell = xlsx_rows(out.getvalue())[1][0]
    assert len(cell) == formats.XLSX_CELL_MAX and cell.endswith("…")


def test_the_ods_file_goes_out_while_the_rows_are_read():
    read = [0]

    def rows() -> Iterator[tuple[Cell, ...]]:
        for i in range(20_000):
            read[0] += 1
            yield (f"key{i}@example.com", f"some destination {i}@example.org")

    stream = ods_stream(report(rows()))
    first = next(stream)
    assert first.startswith(b"PK") and read[0] < 20_000, "bytes before the last row is read"
    rest = b"".join(stream)
    assert len(ods_rows(first + rest)) == 20_001


def test_file_names_carry_the_report_and_the_day():
    name = report([]).filename("xlsx")
    assert name == f"test-example.com-{timezone.localdate().isoformat()}.xlsx"
    assert formats.dated_name("aliases-bad/../name ä", "csv").startswith("aliases-bad_.._name-")
