"""The mail-log reader: line grammar, years, queue ids, and input that is not a clean log."""

from __future__ import annotations

import gzip
import io
import itertools
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliasdesk.postfix.maillog.lines import (
    MAX_LINE,
    LogParser,
    LogReadError,
    YearGuesser,
    iter_blocks,
    iter_lines,
    open_log,
    parse_line,
    read_chunk,
)


def reference(year: int, month: int) -> float:
    return time.mktime((year, month, 15, 12, 0, 0, 0, 0, -1))


def test_it_parses_a_classic_syslog_line() -> None:
    record = parse_line(
        b"Oct 22 02:12:45 conch postfix/smtpd[26895]: 3C1A8243F8: client=mail.example.org[192.0.2.1]",
        YearGuesser(reference(2015, 11)),
    )
    assert record is not None
    assert record[:6] == (2015, 10, 22, 2, 12, 45)
    assert record.host == "conch"
    assert record.program == "postfix/smtpd"
    assert (record.syslog_name, record.daemon, record.pid) == ("postfix", "smtpd", 26895)
    assert record.queue_id == "3C1A8243F8"
    assert record.message == "client=mail.example.org[192.0.2.1]"


def test_it_parses_a_single_digit_day_with_two_spaces() -> None:
    record = parse_line(b"Nov  1 02:11:18 conch postfix/pickup[19328]: 30461242EB: uid=0 from=<root>")
    assert record is not None
    assert (record.month, record.day) == (11, 1)


@pytest.mark.parametrize(
    "stamp, expected",
    [
        (b"2024-05-01T10:00:00.123456+02:00", (2024, 5, 1, 10, 0, 0)),
        (b"2024-05-01T23:59:59Z", (2024, 5, 1, 23, 59, 59)),
        (b"2024-12-31T00:00:01-05:00", (2024, 12, 31, 0, 0, 1)),
    ],
)
def test_it_parses_rfc3339_timestamps(stamp: bytes, expected: tuple[int, ...]) -> None:
    record = parse_line(stamp + b" mx postfix/qmgr[9]: 4B2C1A: removed", YearGuesser(reference(2000, 1)))
    assert record is not None
    assert record[:6] == expected
    assert record.queue_id == "4B2C1A"


def test_it_infers_year_across_new_year() -> None:
    years = YearGuesser(reference(2025, 1))
    assert [years.year(month) for month in (12, 12, 1, 1, 2)] == [2024, 2024, 2025, 2025, 2025]


def test_a_late_december_line_after_the_turn_keeps_the_old_year() -> None:
    years = YearGuesser(reference(2025, 1))
    assert [years.year(month) for month in (12, 1, 12, 1)] == [2024, 2025, 2024, 2025]


def test_a_first_line_after_the_reference_month_belongs_to_last_year() -> None:
    assert YearGuesser(reference(2026, 3)).year(10) == 2025
    assert YearGuesser(reference(2026, 3)).year(3) == 2026


def test_rfc3339_lines_set_the_year_for_classic_lines_after_them() -> None:
    parser = LogParser(reference(2030, 6))
    lines = [
        b"2019-12-31T23:00:00Z mx postfix/qmgr[1]: ABCDEF: removed",
        b"Jan  1 00:00:01 mx postfix/qmgr[1]: ABCDF0: removed",
    ]
    assert [r.year for r in parser.records(lines)] == [2019, 2020]


def test_it_reads_long_queue_ids() -> None:
    record = parse_line(b"May  1 10:00:00 mx postfix/cleanup[7]: 4VTp1q2x3Jz9sQ1: message-id=<a@b>")
    assert record is not None and record.queue_id == "4VTp1q2x3Jz9sQ1"
    assert record.message == "message-id=<a@b>"


def test_words_that_are_not_queue_ids_stay_in_the_message() -> None:
    warning = parse_line(b"May  1 10:00:00 mx postfix/smtpd[7]: warning: hostname x does not resolve")
    stats = parse_line(b"May  1 10:00:00 mx postfix/anvil[7]: statistics: max cache size 2")
    assert warning is not None and warning.queue_id is None and warning.message.startswith("warning: ")
    assert stats is not None and stats.queue_id is None


def test_noqueue_means_no_queue_id() -> None:
    record = parse_line(b"May  1 10:00:00 mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 no")
    assert record is not None and record.queue_id is None
    assert record.message.startswith("reject: RCPT")


@pytest.mark.parametrize(
    "program, syslog_name, daemon",
    [
        (b"postfix-out/smtp", "postfix-out", "smtp"),
        (b"postfix/submission/smtpd", "postfix/submission", "smtpd"),
        (b"postfix-script", "postfix-script", "postfix-script"),
    ],
)
def test_it_splits_multi_instance_program_names(program: bytes, syslog_name: str, daemon: str) -> None:
    record = parse_line(b"May  1 10:00:00 mx " + program + b"[1]: 1A2B3C4D: removed")
    assert record is not None
    assert (record.syslog_name, record.daemon, record.is_postfix) == (syslog_name, daemon, True)


def test_other_programs_are_counted_apart_from_garbage() -> None:
    parser = LogParser()
    lines = [
        b"May  1 10:00:00 mx dovecot: imap-login: Login: user=<u>",
        b"\x00\x01\x02\xff binary",
        b"May  1 10:00",
        b"May  1 10:00:00 mx postfix/qmgr[1]: 1A2B3C4D: removed",
    ]
    records = list(parser.records(lines))
    assert [r.queue_id for r in records] == ["1A2B3C4D"]
    assert (parser.lines, parser.other, parser.unparsed) == (4, 1, 2)


def test_impossible_clock_values_do_not_parse() -> None:
    assert parse_line(b"Foo  1 10:00:00 mx postfix/qmgr[1]: 1A2B3C4D: removed") is None
    assert parse_line(b"May 41 10:00:00 mx postfix/qmgr[1]: 1A2B3C4D: removed") is None
    assert parse_line(b"May  1 25:00:00 mx postfix/qmgr[1]: 1A2B3C4D: removed") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    parser = LogParser()
    list(parser.records(data.split(b"\n")))
    assert parser.lines == data.count(b"\n") + 1


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=120), st.binary(max_size=40))
def test_truncated_and_spliced_lines_never_crash_the_parser(cut: int, tail: bytes) -> None:
    line = b"Jan  1 00:00:01 mx postfix/smtp[13]: 1A2B3C4D5E: to=<b@example.net>, relay=x[1.2.3.4]:25, status=sent"
    record = parse_line(line[:cut] + tail)
    assert record is None or record.host == "mx"


def test_it_reads_plain_gzip_and_stdin_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"line one\nline two\r\nlast line without newline"
    plain = tmp_path / "mail.log"
    plain.write_bytes(text)
    packed = tmp_path / "mail.log.2.gz"
    packed.write_bytes(gzip.compress(text))
    expected = [b"line one", b"line two\r", b"last line without newline"]
    assert list(iter_lines([plain])) == expected
    assert list(iter_lines([packed])) == expected
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(text))))
    assert list(iter_lines(["-"])) == expected
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert list(iter_lines(["-"])) == expected


def test_a_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(LogReadError, match=r"mail\.log"):
        open_log(tmp_path / "mail.log")


def test_a_truncated_gzip_file_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "mail.log.gz"
    packed = gzip.compress(b"".join(b"line %d\n" % (n * 7919 % 10007) for n in range(20000)))
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(LogReadError, match=r"mail\.log\.gz"):
        list(iter_lines([path]))


def test_an_endless_line_becomes_one_empty_line() -> None:
    data = b"before\n" + b"x" * (MAX_LINE + 10) + b"\nafter\n"
    lines = [line for block in iter_blocks(io.BytesIO(data), block_size=65536) for line in block]
    assert lines == [b"before", b"", b"after"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=40), st.data())
def test_chunks_give_every_line_exactly_once(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes],
                                             data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("chunks") / "mail.log"
    content = b"".join(line + b"\n" for line in lines)
    path.write_bytes(content)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=5)))
    bounds = [0, *cuts, len(content)]
    got = [line for start, end in itertools.pairwise(bounds) for line in read_chunk(path, start, end)]
    assert got == lines
