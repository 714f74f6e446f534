"""A big map's rows and entries as columns: one list per field instead of a tuple per row.

A deploy of a 500,000-alias map reads the rows, renders them, reads them back and checks
them. Row by row, each step would make and take apart half a million tuples; column by
column, most of the work is done by a few calls in C over whole lists. ``RowColumns`` is
what the database gives (key, value, enabled, comment); ``EntryColumns`` is what the
checks read (``virtual.Entry`` fields, line numbers included) and is a sequence of
``Entry`` for code that wants them one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, compress, repeat
from operator import attrgetter, itemgetter, not_
from typing import Any, NamedTuple, overload

from aliasdesk.postfix.maps.virtual import (
    _CONTROL_RE,
    Entry,
    Row,
    _all_plain,
    _disabled_entry,
    normalize_comment,
    parse_virtual,
    render_entry,
    render_head,
)

__all__ = ["EntryColumns", "ReadBack", "RowColumns", "read_back_columns", "render_columns"]

_NOT_AT_OR_NEWLINE = bytes(c for c in range(256) if c not in b"@\n")


class _KeyFacts:
    """What several checks would each work out again over every key, worked out once: the
    keys joined by newlines, and whether each is ASCII with exactly one "@"."""

    __slots__ = ("_joined_keys", "_one_at", "keys")

    keys: list[str]
    _joined_keys: str | None
    _one_at: bool | None

    @property
    def joined_keys(self) -> str:
        """``"\\n".join(self.keys)``."""
        if self._joined_keys is None:
            self._joined_keys = "\n".join(self.keys)
        return self._joined_keys

    @property
    def one_at(self) -> bool:
        """Whether every key is ASCII and has exactly one "@" (so none is a bare local name)."""
        if self._one_at is None:
            joined = self.joined_keys
            skeleton = joined.encode().translate(None, _NOT_AT_OR_NEWLINE) if joined.isascii() else None
            self._one_at = skeleton == (b"@\n" * len(self.keys))[:-1]
        return self._one_at


class RowColumns(_KeyFacts):
    """Rows ``(key, value, enabled, comment)`` as four lists of the same length; unpacks as
    ``keys, values, enabled, comments``."""

    __slots__ = ("comments", "enabled", "values")

    def __init__(self, keys: list[str], values: list[str], enabled: list[bool], comments: list[str]) -> None:
        self.keys, self.values, self.enabled, self.comments = keys, values, enabled, comments
        self._joined_keys: str | None = None
        self._one_at: bool | None = None

    @classmethod
    def of(cls, rows: Iterable[Sequence[object]]) -> RowColumns:
        """Columns of rows (tuples or lists of four); ``enabled`` made a bool."""
        rows = rows if isinstance(rows, list) else list(rows)
        return cls(
            list(map(itemgetter(0), rows)),
            list(map(itemgetter(1), rows)),
            list(map(bool, map(itemgetter(2), rows))),
            list(map(itemgetter(3), rows)),
        )

    @classmethod
    def empty(cls) -> RowColumns:
        return cls([], [], [], [])

    def __iter__(self) -> Iterator[list[Any]]:
        return iter((self.keys, self.values, self.enabled, self.comments))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RowColumns) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def extend(self, more: RowColumns) -> None:
        self.keys.extend(more.keys)
        self.values.extend(more.values)
        self.enabled.extend(more.enabled)
        self.comments.extend(more.comments)
        self._joined_keys = self._one_at = None

    def rows(self) -> list[Row]:
        return list(zip(self.keys, self.values, self.enabled, self.comments, strict=True))


class EntryColumns(_KeyFacts, Sequence[Entry]):
    """Entries as columns; ``self[i]`` makes the ``Entry`` (equal to the parse's) when asked.
    ``joined_values``: the values joined by newlines, where the read-back made them anyway."""

    __slots__ = ("comments", "enabled", "joined_values", "lines", "values")

    def __init__(
        self,
        keys: list[str],
        values: list[str],
        enabled: list[bool],
        comments: list[str],
        lines: Sequence[int],
        joined_keys: str | None = None,
        joined_values: str | None = None,
        one_at: bool | None = None,
    ) -> None:
        self.keys, self.values, self.enabled, self.comments, self.lines = keys, values, enabled, comments, lines
        self._joined_keys, self.joined_values, self._one_at = joined_keys, joined_values, one_at

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> EntryColumns:
        if isinstance(entries, EntryColumns):
            return entries
        entries = entries if isinstance(entries, list) else list(entries)
        key, value, enabled, comment, line = (
            list(map(attrgetter(name), entries)) for name in ("key", "value", "enabled", "comment", "line")
        )
        return cls(key, value, enabled, comment, line)

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> list[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        if isinstance(index, slice):
            return list(self)[index]
        fields = (self.keys[index], self.values[index], self.enabled[index], self.comments[index], self.lines[index])
        return tuple.__new__(Entry, fields)  # Entry(...) without the keyword handling

    def __iter__(self) -> Iterator[Entry]:
        fields = zip(self.keys, self.values, self.enabled, self.comments, self.lines, strict=True)
        return map(tuple.__new__, repeat(Entry), fields)

    def enabled_only(self) -> EntryColumns:
        """The switched-on entries (all of them, mostly: then ``self``)."""
        if all(self.enabled):
            return self
        return EntryColumns(
            list(compress(self.keys, self.enabled)),
            list(compress(self.values, self.enabled)),
            list(compress(self.enabled, self.enabled)),
            list(compress(self.comments, self.enabled)),
            list(compress(self.lines, self.enabled)),
        )


def render_columns(rows: RowColumns, first: bool) -> str:
    """``virtual.render_rows`` of rows given as columns (see there)."""
    keys, values, enabled, comments = rows
    if all(enabled) and not any(comments):  # the usual rows: "key TAB value NL", put together in C
        parts = ["\t"] * (4 * len(keys))
        parts[0::4], parts[2::4], parts[3::4] = keys, values, ["\n"] * len(keys)
        return "".join(parts)
    out: list[str] = []
    for key, value, on, comment in zip(keys, values, enabled, comments, strict=True):
        if comment:
            if not first or out:
                out.append("\n")
            out.append(render_entry(key, value, on, comment))
        elif on:
            out.append(f"{key}\t{value}\n")
        else:
            out.append(f"#{key}\t{value}\n")
    return "".join(out)


class ReadBack(NamedTuple):
    """What the parse of a rendered map reads: its header, entries and footer."""

    header: str
    entries: EntryColumns
    footer: str


def read_back_columns(header: str, rows: RowColumns, footer: str) -> ReadBack | None:
    """``virtual.read_back`` of rows given as columns, its entries as columns (see there)."""
    keys, values, enabled, comments = rows
    joined_keys, joined_values = rows.joined_keys, "\n".join(values)
    if (
        not _all_plain(keys, values, joined_keys, joined_values)
        or (header or (keys[0] if keys else "")).startswith("\ufeff")
        or footer.startswith("\ufeff")  # a mark only the file's start may have
        or any(line[:1] in (" ", "\t", "\r", "\f", "\v") for line in footer.split("\n"))
    ):
        return None
    head = parse_virtual(header) if header else None
    tail = parse_virtual(footer) if footer else None
    if (head is not None and head.errors) or (tail is not None and tail.errors):
        return None  # the parse reports them, in its order
    count = len(keys)
    if not all(enabled):
        for index in compress(range(count), map(not_, enabled)):
            if _disabled_entry(f"#{keys[index]}\t{values[index]}") != (keys[index], values[index]):
                return None
    # Each row is one line, and a commented one has a blank line above it (except the
    # first) and its comment lines.
    first_line = render_head(header).count("\n")
    lines: Sequence[int] = range(first_line + 1, first_line + count + 1)
    last = first_line + count
    if any(comments):
        heights = [1] * count
        for index in compress(range(count), comments):
            comment = comments[index]
            if comment != normalize_comment(comment) or _CONTROL_RE.search(comment):
                return None
            heights[index] += (1 if index else 0) + comment.count("\n") + 1
        lines = list(accumulate(heights, initial=first_line))[1:]
        last = first_line + sum(heights)
    entries = EntryColumns(keys, values, enabled, comments, lines, joined_keys, joined_values, rows._one_at)
    before = head.entries if head else []
    after = [e._replace(line=e.line + last + 1) for e in tail.entries] if tail else []  # after a blank line
    if before or after:  # entries in the header or the footer (rare)
        entries = EntryColumns.of([*before, *entries, *after])
    return ReadBack(head.header if head else "", entries, tail.footer if tail else "")
