"""Follow a growing mail log: each call reads only what was added since the last one.

An ingester runs now and then and must count every log line exactly once, across
restarts, crashes and whatever logrotate did in between. So the reader keeps no
state of its own: the caller stores a :class:`LogPosition` after each
:class:`Piece`, in the same transaction as what it made of the piece's lines,
and hands the last stored position back on the next call. A crash between two
pieces then costs nothing: the next run continues right after the last
committed line.

A position names a file by its (device, inode) and by a hash of its first bytes
(at most :data:`FINGERPRINT_BYTES`, and only bytes already read, so the hash
never changes under a growing file). When the log's name no longer leads to
that file, the old one is looked for among its rotated siblings in the same
directory -- ``NAME.1``, ``NAME.2.gz``, ``NAME-20261126.gz`` -- by inode, and,
for gzip files (compression makes a new inode) and copies left by
``copytruncate``, by the hash and a length of at least the offset. Its rest is
read, then every newer sibling, then the live log. What cannot be found is
reported in :attr:`Piece.note`, never guessed at.

The live file's last line is only returned once its newline is there (syslog may
be writing it right now); rotated and gzip files are final, so their last line
counts as it is. Lines are bytes without the newline, like
:mod:`aliasdesk.postfix.maillog.lines` gives them, and a line longer than
:data:`~aliasdesk.postfix.maillog.lines.MAX_LINE` becomes ``b""``.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import re
import stat
import zlib
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple

from aliasdesk.postfix.maillog.lines import BLOCK_SIZE, GZIP_MAGIC, MAX_LINE, LogReadError

__all__ = ["FINGERPRINT_BYTES", "LogPosition", "Piece", "is_rotated_name", "read_new"]

FINGERPRINT_BYTES = 1024

# Rotated copies that are compressed with something this module cannot read.
_OTHER_COMPRESSION = (".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z")


@dataclass
class LogPosition:
    """Where reading of one log stops: the file's identity and the byte offset after the last complete line read.

    ``offset`` counts decompressed bytes for gzip files. ``fingerprint`` is the
    sha256 of the file's first ``fingerprint_len`` bytes, which are
    ``min(offset, FINGERPRINT_BYTES)``: bytes already consumed, so the value is
    stable while the file grows. At offset 0 that leaves the inode alone to know
    the file by: an empty file rotated away before the next read, whose inode the
    new log then reuses, cannot be told from it. A position with inode and
    device 0 (the default) means "nothing read yet", like ``None``.
    """

    inode: int = 0
    device: int = 0
    offset: int = 0
    fingerprint: str = ""
    fingerprint_len: int = 0

    def to_dict(self) -> dict[str, int | str]:
        """A JSON-safe form, for storing in a database row."""
        return {
            "inode": self.inode,
            "device": self.device,
            "offset": self.offset,
            "fingerprint": self.fingerprint,
            "fingerprint_len": self.fingerprint_len,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogPosition:
        """The inverse of :meth:`to_dict`; missing keys take their defaults, bad values raise ValueError."""
        return cls(
            inode=int(data.get("inode", 0)),
            device=int(data.get("device", 0)),
            offset=int(data.get("offset", 0)),
            fingerprint=str(data.get("fingerprint", "")),
            fingerprint_len=int(data.get("fingerprint_len", 0)),
        )


class Piece(NamedTuple):
    """Some new lines of the log and the position right after them.

    ``lines`` are complete lines in file order, newline removed (a ``\\r`` is kept).
    Committing ``position`` together with the lines and restarting continues
    exactly after them. A piece may have no lines: it then moves the position
    to the next file, and must be committed all the same. ``source`` is the
    path actually read; ``note`` is ``""`` or an event worth logging once:
    ``"started"``, ``"rotated"``, ``"truncated"`` or ``"lost: ..."``.
    """

    lines: list[bytes]
    position: LogPosition
    source: str
    note: str


def read_new(
    path: str | os.PathLike[str],
    position: LogPosition | None,
    *,
    max_bytes: int = 8 << 20,
    start_at_end: bool = False,
) -> Iterator[Piece]:
    """Yield the lines added to the log at ``path`` since ``position``, a piece at a time.

    With no position the whole log is read, or with ``start_at_end`` nothing:
    one empty piece (note ``"started"``) marks its current end. A piece holds
    about ``max_bytes`` of data at most, so a first run over a big log stays
    small in memory. Raises :class:`LogReadError` when the log cannot be read.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    name = os.fspath(path)
    try:
        live = _LogFile(name)
    except OSError as e:
        raise LogReadError(f"{name}: {e.strerror or e}") from e
    with live:
        if position is None or not (position.inode or position.device):
            if start_at_end:
                yield Piece([], live.position(_end_of_last_line(live)), name, "started")
            else:
                yield from _read_file(live, 0, max_bytes, final=live.gz)
            return
        same = live.ident == (position.device, position.inode)
        if same and live.holds(position):
            yield from _read_file(live, position.offset, max_bytes, final=live.gz)
            return
        short = same and not live.has(position.offset)
        old, newer = _find_old(name, position, live)
        if old is not None:  # a plain copy of a file that kept its inode was made by copytruncate
            note = "truncated" if same and not old.gz else "rotated"
        elif short:
            note = "truncated"
        else:
            note = (
                f"lost: the log was rotated and the old file (inode {position.inode}) was not found; "
                f"lines after byte {position.offset} of it are not counted"
            )
        for piece in _chain(old, position.offset, newer, live, max_bytes):
            yield piece._replace(note=note) if note else piece
            note = ""


class _LogFile:
    """One open log file: its identity, whether it is gzip (by content), and its first bytes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.raw = open(path, "rb")  # noqa: SIM115 -- closed by close()
        try:
            st = os.fstat(self.raw.fileno())
            self.ident = (st.st_dev, st.st_ino)
            self.gz = os.pread(self.raw.fileno(), 2, 0) == GZIP_MAGIC
            self.head = self._read_head()
        except BaseException:
            self.raw.close()
            raise

    def __enter__(self) -> _LogFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.raw.close()

    def _read_head(self) -> bytes:
        if not self.gz:
            return os.pread(self.raw.fileno(), FINGERPRINT_BYTES, 0)
        blocks = self.blocks(0, FINGERPRINT_BYTES)
        try:
            return next(blocks, b"")
        finally:
            blocks.close()

    def blocks(self, start: int, size: int) -> Generator[bytes, None, None]:
        """The file's (decompressed) data from byte ``start`` on, in blocks of at most ``size`` bytes."""
        try:
            if not self.gz:
                self.raw.seek(start)
                while block := self.raw.read(size):
                    yield block
                return
            self.raw.seek(0)
            with gzip.GzipFile(fileobj=self.raw, mode="rb") as stream:
                while start > 0:
                    skipped = len(stream.read(min(start, BLOCK_SIZE)))
                    if not skipped:
                        return
                    start -= skipped
                while block := stream.read(size):
                    yield block
        except (OSError, EOFError, zlib.error) as e:
            raise LogReadError(f"{self.path}: {e.strerror if isinstance(e, OSError) and e.strerror else e}") from e

    def has(self, offset: int) -> bool:
        """Whether the file holds at least ``offset`` (decompressed) bytes."""
        if not self.gz:
            return os.fstat(self.raw.fileno()).st_size >= offset
        total = 0
        blocks = self.blocks(0, BLOCK_SIZE)
        try:
            while total < offset and (block := next(blocks, b"")):
                total += len(block)
        finally:
            blocks.close()
        return total >= offset

    def holds(self, position: LogPosition) -> bool:
        """Whether this file can be the one ``position`` was taken in: same first bytes, long enough."""
        n = position.fingerprint_len
        if n and (len(self.head) < n or _digest(self.head[:n]) != position.fingerprint):
            return False
        return self.has(position.offset)

    def position(self, offset: int) -> LogPosition:
        n = min(offset, FINGERPRINT_BYTES)
        if len(self.head) < n and not self.gz:  # a live file shorter than FINGERPRINT_BYTES when opened
            self.head = self._read_head()
        return LogPosition(self.ident[1], self.ident[0], offset, _digest(self.head[:n]), n)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_file(log: _LogFile, start: int, max_bytes: int, *, final: bool) -> Iterator[Piece]:
    blocks: Iterator[bytes] = log.blocks(max(start - 1, 0), max_bytes)
    mid_line = False
    if start > 0:  # read the byte before start too: not a newline means an overlong line was cut there
        first = next(blocks, b"")
        mid_line = first[:1] not in (b"\n", b"")
        blocks = itertools.chain([first[1:]], blocks)
    for lines, offset in _split(blocks, start, final=final, mid_line=mid_line):
        yield Piece(lines, log.position(offset), log.path, "")


def _split(blocks: Iterator[bytes], start: int, *, final: bool, mid_line: bool) -> Iterator[tuple[list[bytes], int]]:
    """Cut blocks into lines; yield each block's complete lines with the offset after them.

    A line longer than MAX_LINE is dropped as it streams by and counted as one
    ``b""``. At the end, an unfinished line is a line in a final file and waits
    for its newline in a live one -- unless it is already overlong, when it is
    counted and the offset moves past it so that it cannot stall the reader.
    Starting ``mid_line`` (after such a cut), the rest of that line is dropped
    without counting it again.
    """
    pos = start  # bytes of the stream seen so far
    tail = b""  # the unfinished line after the last newline
    skipping = mid_line  # inside an overlong line: drop bytes up to its newline
    counted = mid_line  # ... and it was counted already
    for block in blocks:
        pos += len(block)
        lines: list[bytes] = []
        offset = start
        if skipping:
            cut = block.find(b"\n")
            if cut < 0:
                continue
            block = block[cut + 1 :]
            lines += [] if counted else [b""]
            skipping = counted = False
            offset = pos - len(block)
        cut = block.rfind(b"\n")
        if cut >= 0:
            lines += (tail + block[:cut]).split(b"\n")
            tail = block[cut + 1 :]
            offset = pos - len(tail)
        else:
            tail += block
        if len(tail) > MAX_LINE:
            tail = b""
            skipping = True
        if offset > start:
            if lines and max(map(len, lines)) > MAX_LINE:
                lines = [line if len(line) <= MAX_LINE else b"" for line in lines]
            yield lines, offset
            start = offset
    if skipping and pos > start:
        yield [] if counted else [b""], pos
    elif tail and final:
        yield [tail], pos


def _end_of_last_line(log: _LogFile) -> int:
    """The offset after the last newline of a live file, or the whole length of a final (gzip) one."""
    if log.gz:
        return sum(len(block) for block in log.blocks(0, BLOCK_SIZE))
    end = os.fstat(log.raw.fileno()).st_size
    while end > 0:
        begin = max(0, end - BLOCK_SIZE)
        cut = os.pread(log.raw.fileno(), end - begin, begin).rfind(b"\n")
        if cut >= 0:
            return begin + cut + 1
        end = begin
    return 0


class _Sibling(NamedTuple):
    path: str
    ident: tuple[int, int]
    mtime_ns: int
    number: int  # logrotate's rotation number, -1 for a dateext name


_ROTATED_NAME = re.compile(r".+(?:\.\d+|-\d{8}(?:\d{2})?)(?:\.gz)?|.+\.gz")


def is_rotated_name(path: str | os.PathLike[str]) -> bool:
    """``mail.log.1``, ``mail.log.2.gz``, ``mail.log-20261126``: a file logrotate made, not a live log."""
    return _ROTATED_NAME.fullmatch(os.path.basename(os.fspath(path))) is not None


def _siblings(path: str) -> list[_Sibling]:
    """The rotated copies of the log beside it, oldest first.

    Numbered names are ordered by their number, which logrotate keeps exact
    (higher is older) even when compression gives a file a new mtime; dateext
    names, or a mix, by mtime, with the number and then the name breaking ties.
    """
    directory, name = os.path.split(os.path.abspath(path))
    pattern = re.compile(re.escape(name) + r"(?:\.(\d+)|-.+?)(?:\.gz)?")
    found: list[_Sibling] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                match = pattern.fullmatch(entry.name)
                if match is None or entry.name.endswith(_OTHER_COMPRESSION):
                    continue
                try:
                    st = os.stat(entry.path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    number = int(match[1]) if match[1] is not None else -1
                    found.append(_Sibling(entry.path, (st.st_dev, st.st_ino), st.st_mtime_ns, number))
    except OSError as e:
        raise LogReadError(f"{directory}: {e.strerror or e}") from e
    numbered = all(s.number >= 0 for s in found)
    found.sort(key=lambda s: (0 if numbered else s.mtime_ns, -s.number, s.path))
    return found


def _find_old(path: str, position: LogPosition, live: _LogFile) -> tuple[_LogFile | None, list[_Sibling]]:
    """The open rotated file that ``position`` was taken in, and the siblings newer than it.

    First a sibling with the position's inode (a renamed file); then, newest
    first since the file read last is most likely the one rotated last, a file
    with the same first bytes and enough length but another inode: a gzip copy,
    or a plain copy left by ``copytruncate``. A plain copy needs some first
    bytes to compare; with none, any file would do, and a wrong one would
    return its lines twice.
    """
    siblings = [s for s in _siblings(path) if s.ident != live.ident]
    wanted = (position.device, position.inode)
    order = [i for i, s in enumerate(siblings) if s.ident == wanted]
    order += [i for i in reversed(range(len(siblings))) if siblings[i].ident != wanted]
    for i in order:
        try:
            log = _LogFile(siblings[i].path)
        except (OSError, LogReadError):
            continue
        try:
            if (
                log.ident == siblings[i].ident
                and (log.ident == wanted or log.gz or position.fingerprint_len > 0)
                and log.holds(position)
            ):
                return log, siblings[i + 1 :]
        except LogReadError:  # a corrupt or half-written gzip file is not the one
            pass
        log.close()
    return None, []


def _chain(old: _LogFile | None, offset: int, newer: list[_Sibling], live: _LogFile, max_bytes: int) -> Iterator[Piece]:
    """The rest of the old file, every newer sibling, then the live log, each switch as an empty piece."""
    if old is not None:
        with old:
            yield from _read_file(old, offset, max_bytes, final=True)
    for sibling in newer:
        try:
            log = _LogFile(sibling.path)
        except OSError:
            return  # renamed away meanwhile: the next call finds it from the committed position
        with log:
            if log.ident != sibling.ident:
                return
            yield Piece([], log.position(0), log.path, "")
            yield from _read_file(log, 0, max_bytes, final=True)
    yield Piece([], live.position(0), live.path, "")
    yield from _read_file(live, 0, max_bytes, final=live.gz)
