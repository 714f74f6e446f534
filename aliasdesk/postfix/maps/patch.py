"""Changing a rendered map file in a few places instead of rendering it again.

A ``Splice`` replaces ``old[start:end]`` with ``text``. ``apply_splices`` makes the new
bytes; ``splice_diff`` the unified diff of the change, without splitting the whole file
into lines (a 500,000-line map would cost more to diff than to patch).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

CONTEXT = 3


@dataclass(frozen=True)
class Splice:
    start: int
    end: int
    text: bytes


class SpliceError(ValueError):
    pass


def ordered(splices: Sequence[Splice]) -> list[Splice]:
    """The splices in file order; overlapping ones are an error (a plan that is wrong)."""
    result = sorted(splices, key=lambda s: (s.start, s.end))
    for before, after in itertools.pairwise(result):
        if after.start < before.end:
            raise SpliceError(f"changes overlap at byte {after.start}")
    return result


def splice_pieces(old: bytes, splices: Sequence[Splice]) -> list[bytes | memoryview]:
    """The new bytes as pieces, in order: the unchanged ones are views of ``old`` (no copy)."""
    view = memoryview(old)
    parts: list[bytes | memoryview] = []
    at = 0
    for splice in ordered(splices):
        parts.append(view[at : splice.start])
        parts.append(splice.text)
        at = splice.end
    parts.append(view[at:])
    return parts


def apply_splices(old: bytes, splices: Sequence[Splice]) -> bytes:
    return b"".join(splice_pieces(old, splices))


def spliced_lines(old: bytes, splices: Sequence[Splice], needles: Sequence[bytes]) -> dict[bytes, int]:
    """1-based line numbers, in the new text, of the first line each splice text starts with
    one of ``needles`` (splices start at line starts)."""
    found: dict[bytes, int] = {}
    lines = at = 0  # newlines before ``at`` in the new text; ``at`` is a position in old
    for splice in ordered(splices):
        lines += old.count(b"\n", at, splice.start)
        for needle in needles:
            if needle in found:
                continue
            pos = 0 if splice.text.startswith(needle) else splice.text.find(b"\n" + needle) + 1
            if pos > 0 or splice.text.startswith(needle):
                found[needle] = lines + splice.text.count(b"\n", 0, pos) + 1
        lines += splice.text.count(b"\n")
        at = splice.end
    return found


def _line_start(data: bytes, pos: int, back: int) -> int:
    """Start of the line ``back`` lines above the one holding ``pos``."""
    start = data.rfind(b"\n", 0, pos) + 1 if pos > 0 else 0
    for _ in range(back):
        if start == 0:
            break
        start = data.rfind(b"\n", 0, start - 1) + 1
    return start


def _line_end(data: bytes, pos: int, ahead: int) -> int:
    """End (after the newline) of the line ``ahead`` lines below the one ending at or after ``pos``."""
    end = pos
    if end > 0 and data[end - 1 : end] != b"\n":
        found = data.find(b"\n", end)
        end = len(data) if found < 0 else found + 1
    for _ in range(ahead):
        if end >= len(data):
            break
        found = data.find(b"\n", end)
        end = len(data) if found < 0 else found + 1
    return end


_HUNK_RE = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _shift(line: str, old_offset: int, new_offset: int) -> str:
    match = _HUNK_RE.match(line)
    if not match:
        return line
    old_start, old_len, new_start, new_len = match.groups()
    return (
        f"@@ -{int(old_start) + old_offset}{old_len or ''} +{int(new_start) + new_offset}{new_len or ''} @@"
        + line[match.end() :]
    )


def splice_diff(old: bytes, splices: Sequence[Splice], name: str) -> str:
    """The unified diff (3 lines of context) of applying ``splices`` to ``old``."""
    todo = [s for s in ordered(splices) if old[s.start : s.end] != s.text]
    if not todo:
        return ""
    # Windows of context around each splice; splices whose windows touch form one hunk.
    groups: list[tuple[int, int, list[Splice]]] = []
    for splice in todo:
        a = _line_start(old, splice.start, CONTEXT)
        b = _line_end(old, splice.end, CONTEXT)
        if groups and a <= groups[-1][1]:
            first, _, members = groups[-1]
            groups[-1] = (first, max(b, groups[-1][1]), [*members, splice])
        else:
            groups.append((a, b, [splice]))
    out = [f"--- {name} (on disk)\n", f"+++ {name} (new)\n"]
    old_line, counted_to, shift = 0, 0, 0  # lines before the window in old; new = old + shift
    for a, b, members in groups:
        old_line += old.count(b"\n", counted_to, a)
        counted_to = a
        before = old[a:b].decode("utf-8", "replace").splitlines(keepends=True)
        after_bytes = apply_splices(old[a:b], [Splice(s.start - a, s.end - a, s.text) for s in members])
        after = after_bytes.decode("utf-8", "replace").splitlines(keepends=True)
        lines = list(difflib.unified_diff(before, after, n=CONTEXT))[2:]
        out += [_shift(ln, old_line, old_line + shift) if ln.startswith("@@") else ln for ln in lines]
        shift += len(after) - len(before)
    return "".join(ln if ln.endswith("\n") else ln + "\n" for ln in out)
