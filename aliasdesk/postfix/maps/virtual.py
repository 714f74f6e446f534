"""Read and write Postfix virtual(5) alias tables.

The parser follows postmap's reading rules (see POSTFIX.md): a line whose first
non-blank character is ``#`` is a comment, blank lines are ignored, a line that
starts with white space continues the previous entry, and the value runs to the
end of the line -- a ``#`` inside a value is part of the value.

On top of postmap's view it keeps what an administrator wrote around the
entries: the leading comment block (the file's header), comments directly above
an entry, commented-out entries (``#key value``, a switched-off alias) and the
comment lines after the last entry (the footer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from aliasdesk.postfix.text import _

__all__ = [
    "Entry",
    "ParsedMap",
    "Problem",
    "decode_map_bytes",
    "join_destinations",
    "parse_virtual",
    "render_entry",
    "render_rows",
    "render_virtual",
    "split_destinations",
]

# Characters postmap treats as white space between key and value.
_WS = " \t\r\n\f\v"
# Control characters that have no business in a map: NUL and C0 except TAB,
# plus DEL. CR is handled separately (postmap strips it at line end).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SEP_RE = re.compile(r"[ \t\r\f\v]+")
_DEST_TOKEN_RE = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^\s,"])+')
# A commented-out entry as written by aliasdesk or by hand: "#key value" with the
# key right after the mark, and a key that names an address (it contains "@").
# A key is one word, but a quoted local part may hold blanks: "John Doe"@example.com.
_KEY = r'(?:"(?:[^"\\]|\\.)*"|[^\s"])+'
_QUOTED_LINE_RE = re.compile(rf"(?P<key>{_KEY})(?P<sep>[ \t\r\f\v]*)(?P<value>.*)")
_DISABLED_RE = re.compile(rf"^#(?P<key>(?!#){_KEY})(?P<sep>[ \t]+)(?P<value>\S.*)$")
_ADDRESSISH_RE = re.compile(r'^(?:"[^"]*"|[^\s@",;:<>()\[\]]+)?(?:@[A-Za-z0-9._\-\u0080-\U0010ffff]+)?$')


@dataclass(frozen=True)
class Problem:
    """Something wrong with a line of a map. ``error`` problems make a file unusable."""

    line: int
    message: str
    severity: str = "error"  # "error" or "warning"
    code: str = ""  # for machines: the message is in the reader's language

    def __str__(self) -> str:
        return _("line {line}: {message}").format(line=self.line, message=self.message) if self.line else self.message


class Entry(NamedTuple):
    """One key and its value. ``destinations`` is the value split as Postfix splits it.

    A named tuple: maps have hundreds of thousands of entries, and this is the
    cheapest object Python makes.
    """

    key: str
    value: str
    enabled: bool = True
    comment: str = ""
    line: int = 0

    @property
    def destinations(self) -> list[str]:
        return split_destinations(self.value)

    @property
    def folded_key(self) -> str:
        return self.key.lower()


@dataclass
class ParsedMap:
    header: str = ""
    entries: list[Entry] = field(default_factory=list)
    footer: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def split_destinations(value: str) -> list[str]:
    """Split a value into addresses: separated by commas and/or white space.

    Quoted local parts (``"we ird"@example.com``) stay whole, as in Postfix's
    address parser.
    """
    return _DEST_TOKEN_RE.findall(value)


def join_destinations(destinations: list[str] | tuple[str, ...]) -> str:
    return ", ".join(destinations)


def decode_map_bytes(data: bytes) -> tuple[str, list[Problem]]:
    """Decode a map file. Undecodable bytes are errors, each with its line number."""
    problems: list[Problem] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        problems.append(
            Problem(1, _("UTF-8 byte-order mark removed (postmap would read it as part of the first key)"), "warning")
        )
    try:
        return data.decode("utf-8"), problems
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(number, _("not valid UTF-8 text (byte {byte} of the line)").format(
                byte=exc.start + 1)))
    return data.decode("utf-8", errors="replace"), problems


def _split_quoted(line: str) -> tuple[str, str] | None:
    """Key and value of a line with a double quote in it; None when the key's quote never closes."""
    match = _QUOTED_LINE_RE.match(line)
    if match is None:
        return None
    rest = line[match.end("key") :]
    if rest.startswith('"'):
        return None
    if not match.group("sep") and match.group("value"):
        return None
    return match.group("key"), match.group("value")


def _disabled_entry(stripped: str) -> tuple[str, str] | None:
    match = _DISABLED_RE.match(stripped)
    if not match:
        return None
    key, value = match.group("key"), match.group("value").rstrip(_WS)
    # Hand-written: the key names an address. Written by render_entry: a TAB follows the key.
    if ("@" not in key and "\t" not in match.group("sep")) or not _ADDRESSISH_RE.match(key):
        return None
    tokens = split_destinations(value)
    if not tokens or not all(_ADDRESSISH_RE.match(t) for t in tokens):
        return None
    return key, value


def _comment_text(stripped: str) -> str:
    """The text of a comment line: without its "#" and the one space after it."""
    text = stripped[1:]
    return text[1:] if text.startswith(" ") else text


def normalize_comment(comment: str) -> str:
    """A comment as it survives a render and a parse: no trailing blanks, no blank first or last line."""
    lines = [line.rstrip() for line in comment.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def _header_as_comment(lines: list[str]) -> list[str]:
    """A leading comment block directly above the first entry is that entry's comment."""
    return [_comment_text(line.strip(_WS)) for line in lines]


def parse_virtual(text: str) -> ParsedMap:  # noqa: C901 - one pass over lines, as postmap reads them
    """Parse virtual(5) text as postmap reads it, keeping comments and switched-off entries.

    Problems are reported with line numbers: an entry without a value and
    control characters are errors (postmap skips or misreads such lines);
    a duplicate key is a warning (postmap keeps the first).
    """
    result = ParsedMap()
    problems = result.problems
    if text.startswith("\ufeff"):
        text = text[1:]
        problems.append(
            Problem(1, _("UTF-8 byte-order mark removed (postmap would read it as part of the first key)"), "warning")
        )
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if _CONTROL_RE.search(text):
        for number, raw in enumerate(lines, start=1):
            bad = _CONTROL_RE.search(raw[:-1] if raw.endswith("\r") else raw)
            if bad:
                problems.append(Problem(number, _("control character {char} in line").format(
                    char=f"U+{ord(bad.group()):04X}")))

    header_lines: list[str] = []
    in_header = True
    pending: list[str] = []  # comment lines waiting for the entry below them
    trailing_raw: list[str] = []  # raw lines since the last entry (footer candidates)
    entries: list[Entry] = []
    append = entries.append
    sep_search = _SEP_RE.search
    new_tuple = tuple.__new__  # Entry(...) without the keyword handling: 5x faster
    # Postfix joins a line that starts with white space to the last entry, even
    # across comment and blank lines: ``current`` is that entry's index.
    current = -1

    number = 0
    for raw in lines:
        number += 1
        line = raw[:-1] if raw.endswith("\r") else raw
        first = line[:1]
        if first and first not in _WS and first != "#":
            # The common case: a new entry.
            if in_header:
                pending, header_lines, in_header = _header_as_comment(header_lines), [], False
            if '"' in line:
                quoted = _split_quoted(line)
                if quoted is None:
                    problems.append(Problem(number, "unbalanced '\"' in the key: postmap ignores this line"))
                    continue
                key, value = quoted
            else:
                sep = sep_search(line)
                key, value = (line, "") if sep is None else (line[: sep.start()], line[sep.end() :])
            comment = "\n".join(pending).strip("\n") if pending else ""
            pending = []
            if trailing_raw:
                trailing_raw = []
            current = len(entries)
            append(new_tuple(Entry, (key, value, True, comment, number)))
            continue
        stripped = line.strip(_WS)
        if not stripped:
            if in_header and header_lines:
                in_header = False
            if pending and not in_header:
                pending.append("")
            trailing_raw.append(line)
            continue
        if stripped[0] == "#":
            disabled = _disabled_entry(stripped)
            if disabled is not None:
                if in_header:
                    pending, header_lines, in_header = _header_as_comment(header_lines), [], False
                comment = "\n".join(pending).strip("\n") if pending else ""
                pending = []
                trailing_raw = []
                append(Entry(disabled[0], disabled[1], False, comment, number))
                continue
            if in_header:
                header_lines.append(line)
                continue
            pending.append(_comment_text(stripped))
            trailing_raw.append(line)
            continue
        # White space first: the line continues the last entry.
        if current < 0:
            problems.append(Problem(number, "line starts with white space but no entry comes before it"))
            continue
        # postmap drops only the line break: the blanks on both sides of it stay in the value.
        entries[current] = entries[current]._replace(value=entries[current].value + line)

    first_seen: dict[str, int] = {}
    keep = result.entries
    for entry in entries:
        if not entry.enabled:
            keep.append(entry)
            continue
        value = entry.value.strip(_WS)
        if not value:
            message = _('"{key}" has no value (expected format: key whitespace value)').format(key=entry.key)
            problems.append(Problem(entry.line, message))
            continue
        folded = entry.key.lower()
        earlier = first_seen.setdefault(folded, entry.line)
        if earlier != entry.line:
            problems.append(
                Problem(entry.line, _('duplicate key "{key}": line {line} wins, as in postmap').format(
                    key=entry.key, line=earlier), "warning", "duplicate-key")
            )
        keep.append(entry if value == entry.value else entry._replace(value=value))

    result.header = "\n".join(header_lines) + ("\n" if header_lines else "")
    footer_lines = trailing_raw
    while footer_lines and not footer_lines[0].strip():
        footer_lines.pop(0)
    while footer_lines and not footer_lines[-1].strip():
        footer_lines.pop()
    result.footer = "\n".join(footer_lines) + ("\n" if footer_lines else "")
    return result


def render_entry(key: str, value: str, enabled: bool = True, comment: str = "") -> str:
    """Render one entry, with its comment lines above it. Ends with a newline."""
    out = []
    if comment:
        for text in comment.split("\n"):
            out.append(f"# {text}".rstrip() + "\n")
    out.append(f"{'' if enabled else '#'}{key}\t{value}\n")
    return "".join(out)


Row = tuple[str, str, bool, str]
"""One alias as the map holds it: key, value, enabled, comment."""


def render_virtual(header: str, rows: Iterable[Row], footer: str) -> str:
    """Render a whole map: header verbatim, the rows in the given order, footer verbatim.

    Rows are ``(key, value, enabled, comment)``; a commented row gets a blank line above it
    unless it opens the file or follows the header's blank line. Deterministic: the same
    input always gives the same bytes. Written for speed over hundreds of thousands of rows.
    """
    return render_head(header) + render_rows(rows, first=True) + render_tail(footer)


def render_rows(rows: Iterable[Row], first: bool) -> str:
    """The rows' part of ``render_virtual``, for a map rendered in batches: ``first`` when
    these rows open the map's rows (the first of them gets no blank line above its comment)."""
    from aliasdesk.postfix.maps.columns import RowColumns, render_columns

    return render_columns(RowColumns.of(rows), first)


# The bytes a plain key may hold: no control character, blank or quote (the newline joins
# keys for the check). A plain value may hold blanks and TABs inside, no other control
# character, no quote.
_PLAIN_KEY_BYTES = bytes(c for c in range(256) if c == 0x0A or (c > 0x20 and c not in (0x22, 0x7F)))
_PLAIN_VALUE_BYTES = bytes(c for c in range(256) if c in (0x09, 0x0A) or (c >= 0x20 and c not in (0x22, 0x7F)))
# "\n\n": an empty key or value; "\n#": a key read as a comment; a value starting or ending
# with a blank. Searched for from a newline (or a blank) first: `in` is slow on many blanks.
_EMPTY_OR_HASH_KEY = re.compile("\n[\n#]")
_EMPTY_OR_BLANK_EDGED_VALUE = [re.compile(pattern) for pattern in ("\n[\n \t]", " \n", "\t\n")]


def _all_plain(
    keys: list[str], values: list[str], joined_keys: str | None = None, joined_values: str | None = None
) -> bool:
    """Whether every key and value is one plain word or list, decided in a few passes in C.

    ``joined_keys``, ``joined_values``: the keys and values joined by newlines, where the
    caller has them already."""
    if not keys:
        return True
    joined_keys = "\n".join(keys) if joined_keys is None else joined_keys
    joined_values = "\n".join(values) if joined_values is None else joined_values
    for joined, allowed in ((joined_keys, _PLAIN_KEY_BYTES), (joined_values, _PLAIN_VALUE_BYTES)):
        if joined.count("\n") != len(keys) - 1:  # a newline inside a key or value
            return False
        if joined.encode("utf-8", "surrogatepass").translate(None, allowed):
            return False  # a byte a plain key or value never holds
        if joined[:1] in ("", "\n") or joined[-1:] == "\n":
            return False  # an empty first or last key or value (the others: below)
    return not (
        joined_keys[0] == "#"
        or _EMPTY_OR_HASH_KEY.search(joined_keys)
        or any(joined_values[0] == b or joined_values[-1] == b for b in " \t")
        or any(edge.search(joined_values) for edge in _EMPTY_OR_BLANK_EDGED_VALUE)
    )


def read_back(header: str, rows: Sequence[Row], footer: str) -> ParsedMap | None:
    """What ``parse_virtual(render_virtual(header, rows, footer))`` reads, without reading each line.

    A row whose key and value are plain (checked for all rows at once, in C) renders as
    one line that postmap reads back verbatim; a comment above it reads back when it is in
    normal form without control characters; a switched-off row is checked on its own.
    So only the header and the footer are parsed. ``None`` when some row is not plain, the
    footer could continue the last row (a line starting with white space), or the header
    or footer has an error: then parse the text. No problems are reported: the parse's
    duplicate-key warnings are left to ``validate.validate_entries``.
    """
    from aliasdesk.postfix.maps.columns import RowColumns, read_back_columns

    back = read_back_columns(header, RowColumns.of(rows), footer)
    if back is None:
        return None
    return ParsedMap(header=back.header, entries=list(back.entries), footer=back.footer)


def render_head(header: str) -> str:
    """What ``render_virtual`` writes before the first row."""
    return (header if header.endswith("\n") else header + "\n") + "\n" if header else ""


def render_tail(footer: str) -> str:
    """What ``render_virtual`` writes after the last row."""
    return "\n" + (footer if footer.endswith("\n") else footer + "\n") if footer else ""


def render_block(row: Row, first: bool) -> str:
    """One row as ``render_virtual`` writes it at its place: ``first`` when it opens the rows."""
    key, value, enabled, comment = row
    text = render_entry(key, value, enabled, comment)
    return text if first or not comment else "\n" + text
