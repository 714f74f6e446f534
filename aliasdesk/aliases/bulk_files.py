"""Read a bulk file -- a virtual(5) map, the data CSV or an XLSX workbook -- into map entries.

Every format ends as the same ``Source``: entries as the map parser makes them (key, value,
on/off, comment, and the line or row they came from), the map's header and footer, the end
dates a CSV or XLSX gives, and the problems found while reading, each with its line (map) or
row (CSV, XLSX). The importer then checks and writes them all the same way; nothing here
decides what a user may do.

The CSV is the data CSV of ``GET /domains/<name>/aliases.csv``: a header row with ``key,
destinations, enabled, comment, valid_until``; destinations separated by commas and/or
blanks as Postfix reads them; enabled as on/off, yes/no, true/false or 1/0; valid_until an
ISO date or empty; a comment may hold line breaks. An XLSX holds the same columns in its
first sheet. Cells are text: nothing is evaluated, a cell that looks like a formula is read
as the characters it holds (and then refused as a key or address like any other text).
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aliasdesk.aliases.errors import AliasError
from aliasdesk.postfix.maps.virtual import Entry, Problem, decode_map_bytes, parse_virtual

FORMATS = ("map", "csv", "xlsx")
COLUMNS = ("key", "destinations", "enabled", "comment", "valid_until")
# What each column holds, for the upload page; the names themselves are fixed (CONTRACT.md).
COLUMN_HELP = {
    "key": gettext_lazy("the address mail comes in for (required)"),
    "destinations": gettext_lazy(
        "where the mail goes: one or more addresses, separated by commas or blanks (required)"
    ),
    "enabled": gettext_lazy("on or off (yes/no, true/false and 1/0 do too); empty: on"),
    "comment": gettext_lazy("a note on the alias, written above its line in the map; may span lines"),
    "valid_until": gettext_lazy(
        "the last day it forwards, as YYYY-MM-DD (2027-01-31); the first deploy after that day switches it off"
    ),
}
# Written by the export (aliases.csv) for people, not read back: no warning for them.
EXPORT_ONLY = ("last_change",)
REQUIRED = ("key", "destinations")
MAX_ROWS = 500_000
TRUE = {"on", "yes", "true", "1", "y"}
FALSE = {"off", "no", "false", "0", "n"}


class NotABulkFile(AliasError):
    """The file cannot be read at all (binary, not UTF-8, not a workbook, no header): nothing changes."""


@dataclass
class Source:
    """What a bulk file holds, ready for the importer."""

    name: str
    format: str
    entries: list[Entry] = field(default_factory=list)
    header: str = ""
    footer: str = ""
    problems: list[Problem] = field(default_factory=list)
    # An entry's end date by its line/row; None: the format has no such column (a map file).
    valid_until: dict[int, datetime.date | None] | None = None

    @property
    def unit(self) -> str:
        """What the numbers of the problems count: lines of a map, rows of a table."""
        return "line" if self.format == "map" else "row"


def guess_format(name: str, given: str | None = None) -> str:
    """``given`` (map, csv, xlsx), or the file name's extension; anything else is a map file."""
    if given:
        if given not in FORMATS:
            raise AliasError(_("unknown format {format}: use one of {formats}").format(
                format=repr(given), formats=", ".join(FORMATS)), "format")
        return given
    suffix = PurePath(name).suffix.lower()
    return {".csv": "csv", ".xlsx": "xlsx"}.get(suffix, "map")


def read_source(data: bytes, name: str, fmt: str, *, strict: bool = True) -> Source:
    """The entries of ``data`` in format ``fmt``; NotABulkFile when it is no such file at all.

    ``strict`` refuses a map file that is binary or not UTF-8 as a whole (an upload); without
    it such lines are errors by line number, as ``aliasdesk import`` has always listed them.
    """
    if fmt == "xlsx":
        return _read_xlsx(data, name)
    if (fmt == "csv" or strict) and b"\0" in data:
        raise NotABulkFile(_(
            "{name} is a binary file, not text (it holds NUL bytes): upload the text map, a CSV or an XLSX, not a "
            "compiled .db, .lmdb or .cdb table."
        ).format(name=name))
    if fmt == "csv":
        return _read_csv(data, name)
    text, problems = decode_map_bytes(data)
    if strict and any(p.severity == "error" for p in problems):
        bad = next(p for p in problems if p.severity == "error")
        raise NotABulkFile(_("{name} is not UTF-8 text ({problem}): save it as UTF-8 and upload it again.").format(
            name=name, problem=bad))
    parsed = parse_virtual(text)
    in_order = sorted(problems + parsed.problems, key=lambda p: p.line)
    return Source(name, "map", parsed.entries, parsed.header, parsed.footer, in_order)


def _read_csv(data: bytes, name: str) -> Source:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NotABulkFile(_(
            "{name} is not UTF-8 text (line {line}, byte {byte}): save it as UTF-8 CSV and upload it again."
        ).format(name=name, line=line, byte=exc.start)) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return _rows_to_source(name, "csv", enumerate(reader, start=1))
    except csv.Error as exc:
        raise NotABulkFile(_("{name} is not a readable CSV (row {row}: {reason})").format(
            name=name, row=reader.line_num, reason=exc)) from exc


def _read_xlsx(data: bytes, name: str) -> Source:
    import openpyxl  # only uploads of workbooks need it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise NotABulkFile(_("{name} is not an XLSX workbook ({reason}): save it as .xlsx").format(
            name=name, reason=type(exc).__name__)) from exc
    try:
        sheet = book.worksheets[0]
        rows = ((n, [_cell_text(v) for v in row]) for n, row in enumerate(sheet.iter_rows(values_only=True), 1))
        return _rows_to_source(name, "xlsx", rows)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise NotABulkFile(_("{name}: the workbook cannot be read ({reason})").format(name=name, reason=exc)) from exc
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """A cell as text: dates as ISO dates, whole numbers without ".0", True/False as on/off."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_name(text: str) -> str:
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _rows_to_source(name: str, fmt: str, rows: Iterable[tuple[int, list[str]]]) -> Source:
    source = Source(name, fmt, valid_until={})
    iterator: Iterator[tuple[int, list[str]]] = iter(rows)
    columns = _header(name, iterator)
    position = {column: index for index, column in enumerate(columns) if column in COLUMNS}
    for index, column in enumerate(columns):
        if column and column not in COLUMNS and column not in EXPORT_ONLY:
            message = _('column "{column}" is not read (only {columns})').format(
                column=column, columns=", ".join(COLUMNS))
            source.problems.append(Problem(1, message, "warning"))
        elif column in COLUMNS and position[column] != index:
            raise NotABulkFile(_("{name}: the column {column} is there twice (row 1)").format(name=name, column=column))
    for number, cells in iterator:
        if not any(c.strip() for c in cells):
            continue
        if len(source.entries) >= MAX_ROWS:
            raise NotABulkFile(_("{name}: more than {count} rows; split the file").format(
                name=name, count=f"{MAX_ROWS:,}"))

        def cell(column: str, cells: list[str] = cells) -> str:
            at = position.get(column)
            return cells[at] if at is not None and at < len(cells) else ""

        entry, end, problems = _row_entry(number, cell)
        source.problems += problems
        if entry is not None:
            source.entries.append(entry)
            assert source.valid_until is not None
            source.valid_until[number] = end
    if not source.entries and not source.problems:
        source.problems.append(Problem(0, _("{name} holds no aliases below its header row").format(name=name)))
    return source


def _header(name: str, rows: Iterator[tuple[int, list[str]]]) -> list[str]:
    for number, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        columns = [_column_name(c) for c in cells]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise NotABulkFile(_(
                "{name}: row {row} must be the header row naming the columns {columns}; missing: {missing}"
            ).format(name=name, row=number, columns=", ".join(COLUMNS), missing=", ".join(missing)))
        return columns
    raise NotABulkFile(_("{name} is empty: the first row names the columns {columns}").format(
        name=name, columns=", ".join(COLUMNS)))


def _row_entry(
    number: int, cell: Any
) -> tuple[Entry | None, datetime.date | None, list[Problem]]:
    """One row as an entry (the key, its destinations as Postfix splits them, on/off, comment)."""
    problems: list[Problem] = []
    key = cell("key").strip()
    value = cell("destinations").strip()
    if not key:
        problems.append(Problem(number, _("the key is empty")))
    if not value:
        if key:
            problems.append(Problem(number, _("{key}: give at least one destination").format(key=key)))
        else:
            problems.append(Problem(number, _("the row: give at least one destination")))
    switch = cell("enabled").strip().lower()
    enabled = True
    if switch in FALSE:
        enabled = False
    elif switch and switch not in TRUE:
        problems.append(Problem(number, _("enabled is {value}: write on or off (yes/no, true/false, 1/0)").format(
            value=repr(switch))))
    end: datetime.date | None = None
    until = cell("valid_until").strip()
    if until:
        try:
            end = datetime.date.fromisoformat(until[:10] if "T" in until else until)
        except ValueError:
            problems.append(Problem(number, _(
                "valid_until is {value}: write a date as YYYY-MM-DD, or leave it empty").format(value=repr(until))))
    comment = cell("comment").replace("\r\n", "\n").replace("\r", "\n")
    if problems:
        return None, None, problems
    return Entry(key, value, enabled, comment, number), end, []
