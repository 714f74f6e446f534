"""Read Postfix mail logs: files, gzip files and standard input, line by line.

A log line is ``TIMESTAMP HOST PROGRAM[PID]: MESSAGE``. Two timestamp forms exist
(see POSTFIX.md): the classic syslog ``Mon DD HH:MM:SS``, which carries no year,
and RFC 3339 ``2024-05-01T10:00:00.123456+02:00``, which Postfix's own
``maillog_file`` writes. PROGRAM is ``postfix/DAEMON`` or, for a second instance
or a service with its own ``syslog_name``, ``postfix-out/smtp`` or
``postfix/submission/smtpd``.

Lines are handled as bytes, never decoded: a log holds whatever clients sent
(8-bit HELO names, broken UTF-8), and the byte form is also what pflogsumm
matches against. Readers never fail on content: a garbage, binary, truncated or
interleaved line is just a line that does not parse. Only an unreadable file or
a corrupt gzip stream raises :class:`LogReadError`.

Reading is streaming and bounded: blocks of a megabyte, and a "line" longer than
``MAX_LINE`` bytes (no syslog writes one; a binary file without newlines would)
is replaced by an empty line, which counts as unparsed.

:class:`LogParser` yields a :class:`LogRecord` per line for callers that want
the parts. The pflogsumm-compatible summary does not go through records: it
must accept exactly the lines pflogsumm accepts, and does so with one match
per line on the grammar below (see :mod:`aliasdesk.postfix.maillog.scan`).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

__all__ = [
    "CLASSIC_TIMESTAMP",
    "MAX_LINE",
    "MONTHS",
    "RFC3339_TIMESTAMP",
    "STAMP_AND_HOST",
    "LogParser",
    "LogReadError",
    "LogRecord",
    "YearGuesser",
    "is_gzip_file",
    "iter_blocks",
    "iter_lines",
    "open_log",
    "parse_header",
    "parse_line",
    "read_chunk",
]

MAX_LINE = 1 << 20
BLOCK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

MONTHS: dict[bytes, int] = {
    name: number
    for number, name in enumerate(
        (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), start=1
    )
}

# The two timestamp forms exactly as pflogsumm accepts them (any three characters
# for the month, one or two spaces before the day). Groups: month, day, hour,
# minute, second -- or year, month, day, hour, minute, second.
CLASSIC_TIMESTAMP = rb"(...) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)"
RFC3339_TIMESTAMP = rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)"

# The same, with groups only for what a summary needs, host included:
# 1 month, 2 day, 3 hour (classic) or 4 year, 5 month, 6 day, 7 hour (RFC 3339).
STAMP_AND_HOST = (
    rb"(?:(...) {1,2}(\d{1,2}) (\d\d):\d\d:\d\d"
    rb"|(\d{4})-(\d\d)-(\d\d)T(\d\d):\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)) \S+ "
)

# The general parser also takes journalctl's "short-iso" offsets (+0200), which pflogsumm does not.
_JOURNAL_TIMESTAMP = rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[+-]\d\d:?\d\d|Z)"
_HEADER = re.compile(rb"(?:" + CLASSIC_TIMESTAMP + rb"|" + _JOURNAL_TIMESTAMP + rb") (\S+) (?=.)")
_PROGRAM = re.compile(rb"([^\s\[\]:]+)(?:\[(\d+)\])?: ")
_PROGRAM_NAME = re.compile(rb"[^\s\[\]:]*")
_B52 = rb"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"
_QUEUE_ID = re.compile(rb"(?:[0-9A-F]{6,}|" + _B52 + rb"{10,}z" + _B52 + rb"+): ")


class LogReadError(Exception):
    """A log could not be read: missing, unreadable, or a corrupt gzip stream."""


class LogRecord(NamedTuple):
    """One syslog line, split into its parts.

    ``queue_id`` is the message's queue id (short hex or long form) when the
    line names one, else None; ``NOQUEUE:`` counts as none and is removed from
    ``message``. Text fields are decoded as UTF-8 with replacement characters.
    """

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    host: str
    program: str
    pid: int | None
    queue_id: str | None
    message: str

    @property
    def syslog_name(self) -> str:
        """``postfix``, ``postfix-out``, ``postfix/submission``: the program without its daemon."""
        name, _, _ = self.program.rpartition("/")
        return name or self.program

    @property
    def daemon(self) -> str:
        """The Postfix daemon that wrote the line: ``smtpd``, ``qmgr``, ``smtp``..."""
        return self.program.rpartition("/")[2]

    @property
    def is_postfix(self) -> bool:
        """Written by Postfix (any instance), not by another program sharing the log."""
        return self.program.startswith("postfix")


class YearGuesser:
    """Give classic syslog timestamps, which carry no year, their year.

    The first line is placed in the year of ``reference`` (a file's mtime, or
    now), or the year before when its month lies after the reference month --
    a log is not written in the future. After that the year follows the lines:
    a month more than six months before the last one is the December-to-January
    turn; a month more than six months after it is a late line from before the
    turn and gets the previous year without moving the clock back.
    """

    def __init__(self, reference: float | None = None) -> None:
        now = time.localtime(time.time() if reference is None else reference)
        self._reference = (now.tm_year, now.tm_mon)
        self._year = 0
        self._month = 0

    def year(self, month: int) -> int:
        if not self._month:
            ref_year, ref_month = self._reference
            self._year = ref_year - 1 if month > ref_month else ref_year
            self._month = month
        elif month < self._month - 6:
            self._year += 1
            self._month = month
        elif month > self._month + 6:
            return self._year - 1
        elif month > self._month:
            self._month = month
        return self._year

    def observe(self, year: int, month: int) -> None:
        """Follow a line that carries its own year (RFC 3339)."""
        self._year, self._month = year, month


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_line(line: bytes, years: YearGuesser | None = None) -> LogRecord | None:
    """Split one log line (without its newline), or None when it is not a syslog line.

    Any program is accepted; see :attr:`LogRecord.is_postfix`. Month names must be
    real and the clock in range.
    """
    m = _HEADER.match(line)
    if m is None:
        return None
    mon, cday, chour, cmin, csec, ryear, rmon, rday, rhour, rmin, rsec, host = m.groups()
    if mon is not None:
        month = MONTHS.get(mon, 0)
        day, hour, minute, second = int(cday), int(chour), int(cmin), int(csec)
        if not month:
            return None
        year = (years or YearGuesser()).year(month)
    else:
        year, month, day = int(ryear), int(rmon), int(rday)
        hour, minute, second = int(rhour), int(rmin), int(rsec)
        if years is not None and 1 <= month <= 12:
            years.observe(year, month)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    p = _PROGRAM.match(line, m.end())
    if p is None:
        return None
    program, pid = p.groups()
    rest = p.end()
    queue_id: str | None = None
    q = _QUEUE_ID.match(line, rest)
    if q is not None:
        queue_id = line[rest : q.end() - 2].decode("ascii")
        rest = q.end()
    elif line.startswith(b"NOQUEUE: ", rest):
        rest += 9
    return LogRecord(
        year,
        month,
        day,
        hour,
        minute,
        second,
        _decode(host),
        _decode(program),
        int(pid) if pid is not None else None,
        queue_id,
        _decode(line[rest:]),
    )


def parse_header(line: bytes) -> bytes | None:
    """The program name of a syslog line (``postfix/smtpd``, ``dovecot``), or None for no syslog line."""
    m = _HEADER.match(line)
    if m is None:
        return None
    return _PROGRAM_NAME.match(line, m.end()).group()  # type: ignore[union-attr]


class LogParser:
    """Turn lines into :class:`LogRecord` objects, keeping count of what did not parse.

    One parser follows one log in order (the year of classic timestamps depends
    on the lines before). ``lines`` counts every line seen, ``unparsed`` those
    that are no syslog line at all, ``other`` syslog lines of other programs
    (skipped when ``postfix_only``).
    """

    def __init__(self, reference: float | None = None, *, postfix_only: bool = True) -> None:
        self.years = YearGuesser(reference)
        self.postfix_only = postfix_only
        self.lines = 0
        self.unparsed = 0
        self.other = 0

    def records(self, lines: Iterable[bytes]) -> Iterator[LogRecord]:
        years = self.years
        for line in lines:
            self.lines += 1
            record = parse_line(line, years)
            if record is None:
                self.unparsed += 1
            elif self.postfix_only and not record.is_postfix:
                self.other += 1
            else:
                yield record


class _Prefixed(io.RawIOBase):
    """A stream with a few already-read bytes put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO, *, close: bool) -> None:
        self._head = head
        self._stream = stream
        self._close = close

    def close(self) -> None:
        if self._close and not self.closed:
            self._stream.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


def is_gzip_file(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


class _GzipLog(gzip.GzipFile):
    """A gzip stream that also closes the file it reads from."""

    def __init__(self, source: BinaryIO) -> None:
        super().__init__(fileobj=source, mode="rb")
        self._source = source

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._source.close()


def open_log(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a log for binary reading: ``-`` is standard input; gzip data (by content) is inflated.

    Works on pipes too (``<(zcat ...)``). The caller closes the stream; that
    leaves standard input itself open.
    """
    try:
        raw: BinaryIO = sys.stdin.buffer if str(path) == "-" else open(path, "rb")  # noqa: SIM115
        head = raw.read(2)
        if str(path) != "-" and raw.seekable():
            raw.seek(0)
            stream = raw
        else:
            stream = io.BufferedReader(_Prefixed(head, raw, close=str(path) != "-"))
    except OSError as e:
        raise LogReadError(f"{path}: {e.strerror or e}") from e
    if head == GZIP_MAGIC:
        return _GzipLog(stream)  # type: ignore[return-value]
    return stream


def iter_blocks(stream: BinaryIO, name: str = "log", block_size: int = BLOCK_SIZE) -> Iterator[list[bytes]]:
    """Yield the stream's lines (newlines removed) a block at a time; the last line may lack its newline."""
    tail = b""
    skipping = False
    while True:
        try:
            block = stream.read(block_size)
        except (OSError, EOFError, zlib.error) as e:
            raise LogReadError(f"{name}: {e}") from e
        if not block:
            break
        if skipping:
            cut = block.find(b"\n")
            if cut < 0:
                continue
            block = block[cut + 1 :]
            skipping = False
            yield [b""]
        if tail:
            lines = (tail + block).split(b"\n")
            if len(lines[0]) > MAX_LINE:
                lines[0] = b""
        else:
            lines = block.split(b"\n")
        tail = lines.pop()
        if len(tail) > MAX_LINE:
            tail = b""
            skipping = True
        if lines:
            yield lines
    if skipping:
        yield [b""]
    elif tail:
        yield [tail]


def iter_lines(paths: Iterable[str | os.PathLike[str]]) -> Iterator[bytes]:
    """Every line of every log, in order: the simple generator for callers that want lines."""
    for path in paths:
        with open_log(path) as stream:
            for block in iter_blocks(stream, str(path)):
                yield from block


def read_chunk(path: str | os.PathLike[str], start: int, end: int) -> list[bytes]:
    """The lines of a plain file that begin at a byte offset in [start, end).

    Lets several processes share one big file: chunks cut anywhere still give
    every line exactly once, and the same lines :func:`iter_blocks` gives.
    """
    try:
        with open(path, "rb") as f:
            if start > 0:
                f.seek(start - 1)
                if f.read(1) != b"\n":
                    start += _skip_line(f)
            if start >= end:
                return []
            data = f.read(end - start)
            overlong = False
            if data and not data.endswith(b"\n"):
                rest = f.readline(MAX_LINE + 1)
                overlong = len(rest) > MAX_LINE
                data += rest
    except OSError as e:
        raise LogReadError(f"{path}: {e.strerror or e}") from e
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    if overlong:
        lines[-1] = b""
    if lines and max(map(len, lines)) > MAX_LINE:
        lines = [line if len(line) <= MAX_LINE else b"" for line in lines]
    return lines


def _skip_line(f: BinaryIO) -> int:
    """Read past the end of the current line; return how many bytes that took."""
    skipped = 0
    while True:
        part = f.readline(BLOCK_SIZE)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped
