"""Reading back what the downloads send: the CSV module, openpyxl and odfpy, as a user's tools would."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpResponseBase


def body(response: HttpResponseBase) -> bytes:
    """The whole body of a response, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(response.content)  # type: ignore[attr-defined]


def csv_rows(data: bytes) -> list[list[str]]:
    """A CSV file's rows, header first; a byte order mark is read as the encoding's."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_rows(data: bytes) -> list[list[Any]]:
    """The first sheet's cells; every one must be a text cell (openpyxl's type "s") or empty."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    rows = []
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.value is None or cell.data_type == "s", (cell.coordinate, cell.data_type, cell.value)
        rows.append(["" if cell.value is None else cell.value for cell in row])
    return rows


def ods_rows(data: bytes) -> list[list[str]]:
    """The first table's cells as text (lines joined by newlines); each must be a string cell."""
    from odf import teletype
    from odf.opendocument import load
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = load(io.BytesIO(data))
    assert document.mimetype == "application/vnd.oasis.opendocument.spreadsheet"
    table = document.spreadsheet.getElementsByType(Table)[0]
    rows = []
    for row in table.getElementsByType(TableRow):
        cells = []
        for cell in row.getElementsByType(TableCell):
            assert cell.getAttribute("valuetype") == "string", cell.getAttribute("valuetype")
            assert not cell.getAttribute("formula")
            cells.append("\n".join(teletype.extractText(p) for p in cell.getElementsByType(P)))
        rows.append(cells)
    return rows
