"""A report as an OpenDocument spreadsheet (.ods), written as it is sent.

odfpy builds the whole document as a tree before saving it: for 500,000 aliases that is
gigabytes. An .ods file is a zip of a few small XML parts and content.xml, which holds the
rows; here content.xml is written row by row straight into a zip whose bytes go out as soon
as zlib gives them (a zip may be written without seeking back: the sizes follow each part).
Every cell is a text cell (office:value-type="string"): nothing in it is ever evaluated.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from xml.sax.saxutils import escape, quoteattr

from aliasdesk.web.reports.formats import Report, cell_text

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
# Characters XML 1.0 cannot hold at all (a report cell could, from an old comment).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPACES = re.compile(" {2,}")
FLUSH_ROWS = 500

NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)
MANIFEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="{MIMETYPE}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
STYLES = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-styles {NAMESPACES} office:version="1.2"><office:styles/></office:document-styles>
"""


def paragraphs(text: str) -> str:
    """Cell text as ODF paragraphs: one per line, runs of spaces and tabs kept (ODF would
    collapse them), characters XML cannot hold dropped."""
    text = _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for line in text.split("\n"):
        body = escape(line)
        body = _SPACES.sub(lambda m: f' <text:s text:c="{len(m.group(0)) - 1}"/>', body)
        if body.startswith(" "):
            body = '<text:s/>' + body[1:]
        out.append("<text:p>" + body.replace("\t", "<text:tab/>") + "</text:p>")
    return "".join(out)


def cell(text: str, style: str = "") -> str:
    styled = f' table:style-name="{style}"' if style else ""
    return f'<table:table-cell office:value-type="string"{styled}>{paragraphs(text)}</table:table-cell>'


def content_head(report: Report) -> str:
    columns = "".join(
        f'<style:style style:name="co{i}" style:family="table-column">'
        f'<style:table-column-properties style:column-width="{max(width, 4) * 0.21:.2f}cm"/></style:style>'
        for i, width in enumerate(report.widths)
    )
    column_elements = (
        "".join(f'<table:table-column table:style-name="co{i}"/>' for i in range(len(report.widths)))
        if report.widths
        else f'<table:table-column table:number-columns-repeated="{len(report.columns)}"/>'
    )
    name = quoteattr(re.sub(r"[\[\]:*?/\\']", " ", str(report.title))[:31])
    header = "".join(cell(str(name_), "head") for name_ in report.columns)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {NAMESPACES} office:version="1.2">'
        f"<office:automatic-styles>{columns}"
        '<style:style style:name="head" style:family="table-cell"><style:text-properties fo:font-weight="bold"/>'
        "</style:style></office:automatic-styles>"
        f"<office:body><office:spreadsheet><table:table table:name={name}>{column_elements}"
        f"<table:table-header-rows><table:table-row>{header}</table:table-row></table:table-header-rows>\n"
    )


CONTENT_TAIL = "</table:table></office:spreadsheet></office:body></office:document-content>\n"


def meta(report: Report) -> str:
    title = escape(f"{report.title} · {report.scope}")
    made = report.made_at.strftime("%Y-%m-%dT%H:%M:%S")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta {NAMESPACES} office:version="1.2">'
        f"<office:meta><meta:generator>aliasdesk</meta:generator><dc:title>{title}</dc:title>"
        f"<dc:description>{escape('; '.join(report.notes))}</dc:description>"
        f"<meta:creation-date>{made}</meta:creation-date></office:meta></office:document-meta>\n"
    )


class _Sink:
    """The zip's output: keeps what was written until the response takes it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def ods_stream(report: Report) -> Iterator[bytes]:
    """The .ods file's bytes, a block at a time, as the rows are read."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as book:
        # The mimetype comes first and uncompressed: that is how a reader recognises the file.
        book.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        book.writestr("META-INF/manifest.xml", MANIFEST)
        book.writestr("meta.xml", meta(report))
        book.writestr("styles.xml", STYLES)
        with book.open("content.xml", "w") as content:
            content.write(content_head(report).encode("utf-8"))
            batch: list[str] = []
            for row in report.rows:
                batch.append("<table:table-row>" + "".join(cell(cell_text(v)) for v in row) + "</table:table-row>\n")
                if len(batch) >= FLUSH_ROWS:
                    content.write("".join(batch).encode("utf-8"))
                    batch.clear()
                    if data := sink.take():
                        yield data
            content.write(("".join(batch) + CONTENT_TAIL).encode("utf-8"))
    yield sink.take()
