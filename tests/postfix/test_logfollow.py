"""Following a growing log across calls, restarts, rotations, truncations and bad content."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from aliasdesk.postfix.maillog.follow import FINGERPRINT_BYTES, LogPosition, Piece, is_rotated_name, read_new
from aliasdesk.postfix.maillog.lines import MAX_LINE, LogReadError

REALDATA = Path("/work/shared/realdata/logs")


def make_lines(tag: str, count: int) -> list[bytes]:
    """Distinct syslog-like lines, so that files written with different tags differ from their first byte."""
    return [
        f"Nov 26 10:{i // 60 % 60:02d}:{i % 60:02d} mx postfix/smtpd[{tag}]: line {i} of {tag}".encode()
        for i in range(count)
    ]


def append(log: Path, lines: list[bytes], *, end: bytes = b"\n") -> list[bytes]:
    with open(log, "ab") as f:
        f.write(b"".join(line + end for line in lines))
    return lines


def gzip_file(source: Path, target: Path) -> None:
    """Compress like logrotate: the .gz keeps the source's mtime, the source goes."""
    with open(source, "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    st = source.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    source.unlink()


def logrotate(log: Path, *, compress: bool = False, delaycompress: bool = False) -> None:
    """Rotate by renaming, as logrotate does with ``create``: NAME.N -> NAME.N+1, NAME -> NAME.1, new NAME."""
    for n in range(9, 0, -1):
        for suffix in ("", ".gz"):
            older = log.with_name(f"{log.name}.{n}{suffix}")
            if older.exists():
                older.rename(log.with_name(f"{log.name}.{n + 1}{suffix}"))
    second = log.with_name(log.name + ".2")
    if compress and delaycompress and second.exists():
        gzip_file(second, log.with_name(log.name + ".2.gz"))
    first = log.with_name(log.name + ".1")
    log.rename(first)
    if compress and not delaycompress:
        gzip_file(first, log.with_name(log.name + ".1.gz"))
    log.touch()


class Ingester:
    """What the real caller does: count each piece's lines and commit its position with them.

    ``restart`` sends every committed position through JSON, as a database row
    would; ``pieces_per_call`` stops after that many pieces, as a crash would.
    """

    def __init__(self, log: Path, *, restart: bool = True, max_bytes: int = 8 << 20) -> None:
        self.log = log
        self.restart = restart
        self.max_bytes = max_bytes
        self.position: LogPosition | None = None
        self.notes: list[str] = []
        self.pieces: list[Piece] = []

    def commit(self, piece: Piece) -> None:
        position = piece.position
        if self.restart:
            position = LogPosition.from_dict(json.loads(json.dumps(position.to_dict())))
        self.position = position
        self.pieces.append(piece)
        if piece.note:
            self.notes.append(piece.note)

    def read(self, pieces_per_call: int | None = None) -> list[bytes]:
        """One run; with ``pieces_per_call``, runs until a run brings nothing new."""
        got: list[bytes] = []
        while True:
            before = self.position
            for count, piece in enumerate(read_new(self.log, self.position, max_bytes=self.max_bytes), start=1):
                got += piece.lines
                self.commit(piece)
                if pieces_per_call is not None and count >= pieces_per_call:
                    break
            if pieces_per_call is None or self.position == before:
                return got


def test_it_reads_the_whole_file_on_the_first_run(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    written = append(log, make_lines("a", 500))
    reader = Ingester(log)
    assert reader.read() == written
    assert reader.read() == []
    assert reader.position is not None and reader.position.offset == log.stat().st_size
    assert reader.position.fingerprint_len == FINGERPRINT_BYTES


def test_start_at_end_skips_what_is_there(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    append(log, make_lines("old", 50))
    log.write_bytes(log.read_bytes() + b"unfinished")
    pieces = list(read_new(log, None, start_at_end=True))
    assert [(p.lines, p.note) for p in pieces] == [([], "started")]
    reader = Ingester(log)
    reader.position = pieces[0].position
    append(log, [b" line"])
    written = append(log, make_lines("new", 5))
    assert reader.read() == [b"unfinished line", *written]


def test_it_reads_incremental_appends_exactly_once(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log, restart=False)
    log.touch()
    written: list[bytes] = []
    got: list[bytes] = []
    rng = random.Random(7)
    for round_ in range(40):
        written += append(log, make_lines(f"r{round_}", rng.randrange(0, 30)))
        got += reader.read()
    assert got == written


def test_a_partly_written_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    written = append(log, make_lines("a", 3))
    with open(log, "ab") as f:
        f.write(b"Nov 26 10:00:00 mx postfix/qmgr[1]: half")
    reader = Ingester(log)
    assert reader.read() == written
    with open(log, "ab") as f:
        f.write(b" and the rest\n")
    assert reader.read() == [b"Nov 26 10:00:00 mx postfix/qmgr[1]: half and the rest"]
    assert reader.read() == []


@pytest.mark.parametrize("pieces_per_call", [None, 1])
def test_lines_written_before_a_rotation_are_read_from_dot_1(tmp_path: Path, pieces_per_call: int | None) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log, max_bytes=300)
    first = append(log, make_lines("a", 20))
    assert reader.read() == first
    late = append(log, make_lines("b", 20))
    logrotate(log)
    new = append(log, make_lines("c", 20))
    assert reader.read(pieces_per_call) == late + new
    assert set(reader.notes) == {"rotated"}  # once per run that resumes in a rotated file
    assert reader.read() == []
    assert reader.pieces[-1].source == str(log)


@pytest.mark.parametrize("pieces_per_call", [None, 1])
def test_it_follows_a_rotation_straight_to_gzip(tmp_path: Path, pieces_per_call: int | None) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log, max_bytes=300)
    first = append(log, make_lines("a", 40))
    assert reader.read() == first
    late = append(log, make_lines("b", 30))
    with open(log, "ab") as f:
        f.write(b"last line, its newline never came")
    logrotate(log, compress=True)
    assert not (tmp_path / "mail.log.1").exists()
    new = append(log, make_lines("c", 10))
    assert reader.read(pieces_per_call) == [*late, b"last line, its newline never came", *new]
    assert set(reader.notes) == {"rotated"}


@pytest.mark.parametrize("pieces_per_call", [None, 1])
def test_delaycompress_two_rotations_between_reads(tmp_path: Path, pieces_per_call: int | None) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log, max_bytes=500)
    first = append(log, make_lines("a", 30))
    assert reader.read() == first
    late = append(log, make_lines("b", 30))
    logrotate(log, compress=True, delaycompress=True)
    middle = append(log, make_lines("c", 30))
    logrotate(log, compress=True, delaycompress=True)
    new = append(log, make_lines("d", 30))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mail.log", "mail.log.1", "mail.log.2.gz"]
    done = len(reader.pieces)
    assert reader.read(pieces_per_call) == late + middle + new
    sources = [p.source for p in reader.pieces[done:] if p.lines]
    assert list(dict.fromkeys(sources)) == [str(tmp_path / n) for n in ("mail.log.2.gz", "mail.log.1", "mail.log")]


def test_rotated_files_newer_than_the_old_one_are_read_in_order(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log)
    first = append(log, make_lines("a", 10))
    assert reader.read() == first
    expected = append(log, make_lines("b", 10))
    for tag in "cdef":
        logrotate(log, compress=True, delaycompress=True)
        expected += append(log, make_lines(tag, 10))
    assert reader.read() == expected
    assert reader.notes == ["rotated"]


@pytest.mark.parametrize("pieces_per_call", [None, 1])
def test_dateext_names(tmp_path: Path, pieces_per_call: int | None) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log)
    first = append(log, make_lines("a", 10))
    assert reader.read() == first
    late = append(log, make_lines("b", 10))
    os.utime(log, (1_700_000_000, 1_700_000_000))
    log.rename(tmp_path / "mail.log-20261125")
    gzip_file(tmp_path / "mail.log-20261125", tmp_path / "mail.log-20261125.gz")
    middle = append(log, make_lines("c", 10))
    os.utime(log, (1_700_086_400, 1_700_086_400))
    log.rename(tmp_path / "mail.log-20261126")
    new = append(log, make_lines("d", 10))
    (tmp_path / "mail.log-20261120.xz").write_bytes(b"\xfd7zXZ\x00 not readable here")
    (tmp_path / "other.log.1").write_bytes(b"not a sibling\n")
    assert reader.read(pieces_per_call) == late + middle + new
    assert set(reader.notes) == {"rotated"}


def test_copytruncate_with_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log)
    first = append(log, make_lines("a", 30))
    assert reader.read() == first
    late = append(log, make_lines("b", 30))
    shutil.copyfile(log, tmp_path / "mail.log.1")
    with open(log, "r+b") as f:
        f.truncate(0)
    new = append(log, make_lines("c", 5))
    assert reader.read() == late + new
    assert reader.notes == ["truncated"]


def test_copytruncate_with_the_copy_after_the_log_grew_past_the_old_offset(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log)
    first = append(log, make_lines("a", 10))
    assert reader.read() == first
    late = append(log, make_lines("b", 10))
    shutil.copyfile(log, tmp_path / "mail.log.1")
    log.write_bytes(b"")
    new = append(log, make_lines("c", 100))
    assert reader.read() == late + new
    assert reader.notes == ["truncated"]


def test_copytruncate_without_the_copy_reads_the_log_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log)
    first = append(log, make_lines("a", 30))
    assert reader.read() == first
    log.write_bytes(b"")
    new = append(log, make_lines("c", 5))
    assert reader.read() == new
    assert reader.notes == ["truncated"]
    assert reader.read() == []


def test_a_reused_inode_is_a_new_file(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    written = append(log, make_lines("new", 20))
    st = log.stat()
    # Same inode, other first bytes: the file was deleted and its inode given to a new one.
    position = LogPosition(st.st_ino, st.st_dev, 100, "0" * 64, 100)
    pieces = list(read_new(log, position))
    assert [line for p in pieces for line in p.lines] == written
    assert pieces[0].note.startswith("lost: ")


def test_a_reused_inode_finds_the_old_file_compressed(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    old = tmp_path / "old.log"
    reader = Ingester(old)
    first = append(old, make_lines("old", 40))
    assert reader.read() == first
    late = append(old, make_lines("late", 10))
    gzip_file(old, tmp_path / "mail.log.1.gz")
    new = append(log, make_lines("new", 100))
    st = log.stat()
    assert reader.position is not None
    reader.position.inode, reader.position.device = st.st_ino, st.st_dev
    reader.log = log
    assert reader.read() == late + new
    assert reader.notes == ["rotated"]


def test_a_lost_old_file_is_reported_and_the_new_log_read(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log)
    first = append(log, make_lines("a", 30))
    assert reader.read() == first
    append(log, make_lines("b", 30))
    (tmp_path / "archive").mkdir()
    log.rename(tmp_path / "archive" / "mail.log.1")
    (tmp_path / "mail.log.1").write_bytes(b"an unrelated file\n")
    new = append(log, make_lines("c", 5))
    assert reader.read() == new
    assert len(reader.notes) == 1 and reader.notes[0].startswith("lost: ")
    assert "not counted" in reader.notes[0]
    assert reader.read() == []
    assert reader.notes[1:] == []


def test_a_restart_in_the_middle_of_a_rotated_file_resumes_in_it(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    reader = Ingester(log, max_bytes=200)
    first = append(log, make_lines("a", 5))
    assert reader.read() == first
    late = append(log, make_lines("b", 50))
    logrotate(log)
    new = append(log, make_lines("c", 10))
    pieces = read_new(log, reader.position, max_bytes=200)
    piece = next(pieces)
    assert piece.source == str(tmp_path / "mail.log.1") and piece.lines and piece.note == "rotated"
    del pieces  # the process dies here, after committing the piece
    saved = json.dumps(piece.position.to_dict())
    second = Ingester(log, max_bytes=200)
    second.position = LogPosition.from_dict(json.loads(saved))
    assert piece.lines + second.read() == late + new


def test_small_max_bytes_splits_into_many_pieces_that_resume_exactly(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    written = append(log, make_lines("a", 200))
    written += append(log, [b"x" * 350])  # longer than a piece
    reader = Ingester(log, max_bytes=100)
    assert reader.read(pieces_per_call=1) == written
    assert len(reader.pieces) > 100
    assert all(sum(len(line) + 1 for line in p.lines) <= 100 + 80 for p in reader.pieces[:-5])
    offsets = [p.position.offset for p in reader.pieces]
    assert offsets == sorted(offsets) and offsets[-1] == log.stat().st_size


def test_an_overlong_line_without_newline_does_not_stall(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    first = append(log, make_lines("a", 3))
    with open(log, "ab") as f:
        f.write(b"z" * (MAX_LINE + 10))
    reader = Ingester(log)
    assert reader.read() == [*first, b""]
    assert reader.position is not None and reader.position.offset == log.stat().st_size
    with open(log, "ab") as f:
        f.write(b"z" * 100 + b"\n")
    after = append(log, make_lines("b", 3))
    assert reader.read() == after


def test_an_overlong_line_inside_the_file_counts_as_one_empty_line(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    before = append(log, make_lines("a", 3))
    append(log, [b"y" * (3 * MAX_LINE)])
    after = append(log, make_lines("b", 3))
    assert Ingester(log, max_bytes=MAX_LINE // 3).read() == [*before, b"", *after]
    assert Ingester(log).read() == [*before, b"", *after]


def test_binary_garbage_is_read_as_lines(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    data = random.Random(3).randbytes(3 << 20)
    log.write_bytes(data)
    reader = Ingester(log, max_bytes=1 << 16)
    got = reader.read()
    append(log, [b""])
    got += reader.read()
    assert got == data.split(b"\n")


def test_binary_garbage_without_newlines_moves_on(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(bytes(range(11, 256)) * (3 * MAX_LINE // 245))
    reader = Ingester(log)
    assert reader.read() == [b""]
    assert reader.read() == []
    new = append(log, [b"", *make_lines("a", 2)])
    assert reader.read() == new[1:]


def test_crlf_and_empty_lines_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(b"one\r\n\r\n\ntwo\r\n")
    assert Ingester(log).read() == [b"one\r", b"\r", b"", b"two\r"]


def test_a_live_gzip_log_is_read_whole_once(tmp_path: Path) -> None:
    log = tmp_path / "mail.log.gz"
    lines = make_lines("a", 100)
    with gzip.open(log, "wb") as f:
        f.write(b"\n".join(lines))  # no final newline: gzip is final
    reader = Ingester(log, max_bytes=512)
    assert reader.read(pieces_per_call=1) == lines
    assert reader.read() == []
    assert [p.note for p in read_new(log, None, start_at_end=True)] == ["started"]


def test_a_missing_log_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(LogReadError, match=r"mail\.log: No such file or directory$"):
        list(read_new(tmp_path / "mail.log", None))
    with pytest.raises(LogReadError, match="Is a directory"):
        list(read_new(tmp_path, LogPosition(1, 1, 0)))


def test_a_position_survives_its_dict_form() -> None:
    position = LogPosition(12, 34, 5678, "ab" * 32, 1024)
    assert LogPosition.from_dict(json.loads(json.dumps(position.to_dict()))) == position
    assert LogPosition.from_dict({}) == LogPosition()


def test_a_real_log_split_by_a_rotation_is_read_once(tmp_path: Path) -> None:
    data = (REALDATA / "kdent-mail.log").read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    log = tmp_path / "mail.log"
    log.write_bytes(data[: cut // 2])
    reader = Ingester(log, max_bytes=64 << 10)
    got = reader.read()
    with open(log, "ab") as f:
        f.write(data[cut // 2 : cut])
    logrotate(log, compress=True)
    log.write_bytes(data[cut:])
    got += reader.read()
    assert got == data.split(b"\n")[:-1]  # the live log's last line counts once it has its newline
    assert reader.notes == ["rotated"]


def copytruncate(log: Path) -> None:
    """Rotate as logrotate's ``copytruncate`` does: NAME.N -> NAME.N+1, copy NAME to NAME.1, empty NAME."""
    for n in range(9, 0, -1):
        older = log.with_name(f"{log.name}.{n}")
        if older.exists():
            older.rename(log.with_name(f"{log.name}.{n + 1}"))
    shutil.copyfile(log, log.with_name(log.name + ".1"))
    with open(log, "r+b") as f:
        f.truncate(0)


@pytest.mark.parametrize("seed", range(12))
def test_random_appends_reads_crashes_and_rotations_count_every_line_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    how = ["plain", "compress", "delaycompress", "copytruncate"][seed % 4]  # one logrotate configuration
    log = tmp_path / "mail.log"
    log.touch()
    reader = Ingester(log, max_bytes=rng.choice([64, 300, 4096]))
    expected: list[bytes] = []
    got: list[bytes] = []
    pending = b""  # a line written without its newline yet
    for step in range(80):
        action = rng.choice(["append", "append", "partial", "read", "read", "rotate"])
        # A position at offset 0 has no first bytes to check: if its file is emptied or replaced
        # under the same inode (freed by compression, then reused) before the next read, the lines
        # it got cannot be told apart from the new file's. Rotate only after something was read.
        if action == "rotate" and (reader.position is None or reader.position.offset == 0):
            action = "read"
        if action in ("append", "partial"):
            text = b"\n".join(make_lines(f"s{step}", rng.randrange(1, 12))) + (b"\n" if action == "append" else b"")
            with open(log, "ab") as f:
                f.write(text)
            *complete, pending = (pending + text).split(b"\n")
            expected += complete
        elif action == "read":
            got += reader.read(rng.choice([None, 1, 2]))
        else:
            if pending:
                expected.append(pending)
                pending = b""
            if how == "copytruncate":
                copytruncate(log)
            else:
                logrotate(log, compress=how != "plain", delaycompress=how == "delaycompress")
    got += reader.read()
    assert got == expected
    assert not any(note.startswith("lost") for note in reader.notes)


@pytest.mark.parametrize(
    ("name", "rotated"),
    [("mail.log", False), ("maillog", False), ("mail.log.1", True), ("mail.log.2.gz", True),
     ("mail.log-20261126", True), ("mail.log-20261126.gz", True), ("mail.log.gz", True), ("mail-2.log", False)],
)
def test_rotated_names_are_told_from_live_logs(name: str, rotated: bool) -> None:
    assert is_rotated_name(f"/var/log/{name}") is rotated
