"""The formats of every report: spreadsheet CSV, XLSX, ODS (ods.py) and a printable page.

A :class:`Report` is a title, its columns and an iterable of rows; the writers here read
the rows once, in order, and never hold them all. Whatever a cell holds, a spreadsheet
shows it as text and runs nothing: XLSX and ODS cells are text cells, and the CSV puts an
apostrophe before a cell that a spreadsheet would take for a formula.

Titles, columns and words in cells speak the reader's language, in the spreadsheets and on the
printed page; the CSV is English throughout (its column names are for scripts too). Rows are
read while the response streams, so each writer reads them in the language it was asked in.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, TypeVar

import xlsxwriter
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Cell = str | int | date | datetime | None
# A spreadsheet runs a cell starting with one of these as a formula (or a DDE command).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024
# Excel keeps at most this many characters in a cell.
XLSX_CELL_MAX = 32_767
# A printed report beyond this many rows helps nobody: the page says so and points to the files.
PRINT_LIMIT = 20_000
ROWS_MARK = "<!--report-rows-->"
# A printed cell wraps between words (at blanks, after hyphens) and after each "/" of a path;
# a cell with a longer run than this (a hash, a long address) may break anywhere.
_BREAKS = re.compile(r"[\s/,;-]+")
LONGEST_WORD = 30
T = TypeVar("T")


@dataclass
class Report:
    """One report, ready for any format: rows are read once, when a writer streams them."""

    title: StrOrPromise  # "Aliases" (translated: gettext_lazy)
    scope: str  # the domain, or "all domains you may see"
    columns: Sequence[StrOrPromise]  # translated (gettext_lazy): the CSV has them in English
    rows: Iterable[Sequence[Cell]]
    slug: str  # the file name's stem: "aliases-example.com"
    notes: list[str] = field(default_factory=list)  # what the rows are: "search “sales”", "last 30 days"
    widths: Sequence[int] = ()  # column widths in characters, for the spreadsheet and the page
    made_at: datetime = field(default_factory=timezone.now)

    @property
    def made_text(self) -> str:
        return timezone.localtime(self.made_at).strftime("%Y-%m-%d %H:%M")

    def filename(self, extension: str) -> str:
        return dated_name(self.slug, extension, self.made_at)


def speaking(language: str, pieces: Iterable[T]) -> Iterator[T]:
    """``pieces`` made in ``language`` (a streamed response makes them after its view returned)."""
    items = iter(pieces)
    while True:
        with translation.override(language):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def dated_name(slug: str, extension: str, when: datetime | None = None) -> str:
    """A download's file name: ``aliases-example.com-2026-12-03.xlsx`` (safe characters only)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", slug).strip("._") or "report"
    return f"{stem}-{timezone.localtime(when or timezone.now()):%Y-%m-%d}.{extension}"


def cell_text(value: Cell) -> str:
    """A cell as the text every format shows: times in local time, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def guarded(value: Cell) -> str:
    """The cell for the spreadsheet CSV: text a spreadsheet would run gets a leading apostrophe."""
    text = cell_text(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_START) else text


def in_chunks(pieces: Iterable[str], size: int = CHUNK) -> Iterator[bytes]:
    """Text pieces as UTF-8 blocks of about ``size`` bytes: one write per block, not per line."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer).encode("utf-8")
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def attachment(response: StreamingHttpResponse, name: str) -> StreamingHttpResponse:
    response["Content-Disposition"] = content_disposition_header(True, name)
    # Never kept by a proxy or the browser's cache: the rows are the reader's, and change.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class _Line:
    """A file for csv.writer that hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(columns: Sequence[StrOrPromise], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow([str(name) for name in columns])
    for row in rows:
        yield writer.writerow(row)


def text_csv_response(lines: Iterable[str], name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(in_chunks(lines), content_type="text/csv; charset=utf-8")
    return attachment(response, name)


def sheet_csv_response(report: Report) -> StreamingHttpResponse:
    """The spreadsheet CSV: a byte order mark (so Excel reads UTF-8), formulas defused."""
    rows = ([guarded(value) for value in row] for row in report.rows)
    lines = speaking("en", csv_lines(report.columns, rows))
    return text_csv_response(_with_bom(lines), report.filename("csv"))


def _with_bom(lines: Iterator[str]) -> Iterator[str]:
    yield "\ufeff"
    yield from lines


def _xlsx_text(value: Cell) -> str:
    text = cell_text(value)
    return text if len(text) <= XLSX_CELL_MAX else text[: XLSX_CELL_MAX - 1] + "…"


def write_xlsx(report: Report, out: IO[bytes]) -> int:
    """The report as an XLSX workbook into ``out``; returns the number of rows.

    XlsxWriter's constant-memory mode writes each row to a temporary file as it comes, so a
    500,000-row sheet costs no more memory than a small one. Every cell is a text cell
    (write_string): nothing a user typed can become a formula.
    """
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False})
    book.set_properties({"title": f"{report.title} · {report.scope}", "comments": "; ".join(report.notes)})
    sheet = book.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", str(report.title))[:31])
    bold = book.add_format({"bold": True})
    for index, width in enumerate(report.widths):
        sheet.set_column(index, index, width)
    for index, name in enumerate(report.columns):
        sheet.write_string(0, index, str(name), bold)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(report.rows, start=1):
        for index, value in enumerate(row):
            sheet.write_string(count, index, _xlsx_text(value))
    sheet.autofilter(0, 0, max(count, 1), len(report.columns) - 1)
    book.close()
    return count


def xlsx_response(report: Report) -> FileResponse:
    """The workbook is finished in a temporary file first (a zip needs its parts whole),
    then sent from there; the file goes when the response is closed."""
    out = tempfile.TemporaryFile(prefix="aliasdesk-report-")  # noqa: SIM115  # FileResponse closes it
    write_xlsx(report, out)
    out.seek(0)
    response = FileResponse(
        out,
        as_attachment=True,
        filename=report.filename("xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def ods_response(report: Report) -> StreamingHttpResponse:
    from aliasdesk.web.reports.ods import ods_stream

    response = StreamingHttpResponse(
        speaking(translation.get_language(), ods_stream(report)),
        content_type="application/vnd.oasis.opendocument.spreadsheet",
    )
    return attachment(response, report.filename("ods"))


def print_response(request: HttpRequest, report: Report, **context: Any) -> StreamingHttpResponse:
    """The printable page: a plain table whose head (the report, its scope and the date)
    repeats on every printed page; no navigation. Rows are streamed, PRINT_LIMIT at most."""
    page = render_to_string(
        "reports/print.html",
        {"report": report, "columns": report.columns, "rows_mark": ROWS_MARK, "limit": PRINT_LIMIT, **context},
        request=request,
    )
    head, tail = page.split(ROWS_MARK, 1)
    lines = speaking(translation.get_language(), _print_rows(report, head, tail))
    response = StreamingHttpResponse(in_chunks(lines), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


def _print_cell(value: Cell) -> str:
    """A cell of the printable table. Numbers, days and words (addresses) stay whole; a path
    may wrap after each ``/``; a cell with a run longer than LONGEST_WORD breaks anywhere
    rather than widen the page."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    text = escape(cell_text(value))
    if isinstance(value, date):  # and datetime: the day is not split at its hyphens
        day, _blank, time = text.partition(" ")
        return f'<td><span class="day">{day}</span>{" " + time if time else ""}</td>'
    if max(map(len, _BREAKS.split(text)), default=0) > LONGEST_WORD:
        return f'<td class="hash">{text}</td>'
    return "<td>" + text.replace("/", "/<wbr>") + "</td>"


def _print_rows(report: Report, head: str, tail: str) -> Iterator[str]:
    yield head
    shown = 0
    rows = iter(report.rows)
    for row in islice(rows, PRINT_LIMIT):
        shown += 1
        yield "<tr>" + "".join(map(_print_cell, row)) + "</tr>\n"
    if shown == 0:
        yield f'<tr><td colspan="{len(report.columns)}" class="none">{escape(_("Nothing to report."))}</td></tr>\n'
    elif next(rows, None) is not None:
        more = _("Only the first %(limit)s rows are printed: download the XLSX, ODS or CSV file for all of them.") % {
            "limit": f"{PRINT_LIMIT:,}"
        }
        yield f'<tr><td colspan="{len(report.columns)}" class="more">{escape(more)}</td></tr>\n'
    yield tail
