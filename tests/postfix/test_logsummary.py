"""LogSummary against the real pflogsumm: the same Grand Totals, reports and bounded memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aliasdesk.postfix.maillog.parallel import add_file_parallel
from aliasdesk.postfix.maillog.report import as_dict, render_text
from aliasdesk.postfix.maillog.summary import TOTALS, LogSummary

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
LOGS = sorted((REALDATA / "logs").glob("*.log")) if (REALDATA / "logs").is_dir() else []
PFLOGSUMM = shutil.which("pflogsumm") or next((p for p in ("/usr/sbin/pflogsumm",) if Path(p).exists()), None)

# Runs the real pflogsumm with its k/m unit thresholds pinned out of reach, so
# byte totals print exactly instead of as "8383k".
_EXACT = r"""
package Pin; sub TIESCALAR { my $v = $_[1]; return bless \$v } sub FETCH { return ${$_[0]} } sub STORE {}
package main;
tie $main::divByOneKAt, "Pin", 9e18; tie $main::divByOneMegAt, "Pin", 9e18;
my $program = shift @ARGV; $0 = $program; do $program; die $@ if $@;
"""
_LABELS = {
    "received": "received", "delivered": "delivered", "forwarded": "forwarded", "deferred": "deferred",
    "bounced": "bounced", "rejected": "rejected", "reject warnings": "reject_warnings", "held": "held",
    "discarded": "discarded", "bytes received": "bytes_received", "bytes delivered": "bytes_delivered",
    "senders": "senders", "sending hosts/domains": "sending_hosts", "recipients": "recipients",
    "recipient hosts/domains": "recipient_hosts",
}


def realdata_logs() -> list[Path]:
    if not LOGS:
        pytest.skip(f"{REALDATA / 'logs'} is absent: the real logs live in ../shared/realdata")
    return LOGS


def pflogsumm(*args: str | Path, exact: bool = False) -> str:
    """The real pflogsumm's report, in the C locale (see the maillog.summary docstring)."""
    if PFLOGSUMM is None:
        pytest.skip("pflogsumm is not installed (Debian package pflogsumm)")
    command = ["perl", "-e", _EXACT, PFLOGSUMM] if exact else [PFLOGSUMM]
    env = {**os.environ, "LC_ALL": "C"}
    done = subprocess.run([*command, *map(str, args)], capture_output=True, env=env, check=True, timeout=120)
    return done.stdout.decode("latin-1")


def grand_totals(report: str) -> dict[str, int]:
    """Parse pflogsumm's Grand Totals (run with exact=True, so no k/m units)."""
    totals: dict[str, int] = {}
    section = report.split("Grand Totals", 1)[1].split("Per-", 1)[0]
    for line in section.splitlines():
        m = re.match(r"\s*(\d+)\s{3}(\D+?)(?:\s+\((\d+)\s+deferrals\)|\s+\(\d+%\))?$", line)
        if m:
            totals[_LABELS[m.group(2)]] = int(m.group(1))
            if m.group(3):
                totals["deferrals"] = int(m.group(3))
    totals.setdefault("deferrals", 0)
    return totals


def summarize(*paths: Path, **options: object) -> LogSummary:
    summary = LogSummary(**options)  # type: ignore[arg-type]
    for path in paths:
        summary.add_file(path)
    return summary


def our_report(summary: LogSummary) -> str:
    text = render_text(summary, top=0).decode("latin-1")
    return text.split("\nCounted correctly", 1)[0]


def years_blanked(text: str) -> str:
    return re.sub(r"(?m)^(    \w\w\w [ \d]\d) \d{4}", r"\1 YYYY", text)


@pytest.mark.parametrize("name", [p.name for p in LOGS] or ["(no real logs)"])
def test_grand_totals_equal_pflogsumm_on_real_logs(name: str) -> None:
    path = next(p for p in realdata_logs() if p.name == name)
    expected = grand_totals(pflogsumm(path, exact=True))
    assert set(expected) == set(TOTALS)
    assert summarize(path).totals == expected


@pytest.mark.parametrize("name", [p.name for p in LOGS] or ["(no real logs)"])
def test_whole_text_report_equals_pflogsumm_on_real_logs(name: str) -> None:
    path = next(p for p in realdata_logs() if p.name == name)
    theirs = years_blanked(pflogsumm(path))
    ours = years_blanked(our_report(summarize(path)))
    assert ours.split("Per-", 1)[0] == theirs.split("Per-", 1)[0], "Grand Totals differ byte for byte"
    # Equal counts often tie; pflogsumm orders ties by Perl hash order, so compare the lines as sets.
    assert sorted(ours.splitlines()) == sorted(theirs.splitlines())


def test_concatenated_logs_equal_pflogsumm_including_reused_queue_ids() -> None:
    logs = realdata_logs()
    paths = [*logs, logs[2], logs[0]]  # repeats reuse every queue id of those logs
    expected = grand_totals(pflogsumm(*paths, exact=True))
    summary = summarize(*paths)
    assert summary.totals == expected
    assert summary.tracker.reused > 500
    assert summary.corrected()["bytes_received"] > summary.totals["bytes_received"]


def test_it_matches_pflogsumm_on_garbage_binary_truncated_and_interleaved_lines(tmp_path: Path) -> None:
    path = tmp_path / "edge.log"
    path.write_bytes(b"\n".join(EDGE_LINES) + b"\n")
    summary = summarize(path)
    assert summary.totals == grand_totals(pflogsumm(path, exact=True))
    lines = summary.lines()
    counts = (lines["total"], lines["unparsed"], lines["other_programs"], lines["postfix_skipped"])
    assert counts == (len(EDGE_LINES), 2, 1, 3)
    assert lines["skipped_syslog_names"] == {"postfix-out": 1, "postfix": 2}


_STAMPS = [b"Jan  1 00:00:01", b"Dec 31 23:59:59", b"Jan 1 07:00:02", b"Jan 12 13:14:15", b"2024-01-01T00:00:00Z",
           b"2024-06-01T10:00:00.5+02:00", b"Foo  9 00:00:00", b"2024-06-01T10:00:00+0200", b"Jan  1 00:00"]
_PROGRAMS = [b"postfix/smtpd[1]", b"postfix/qmgr[2]", b"postfix/smtp[3]", b"postfix/cleanup[4]", b"postfix/pickup[5]",
             b"postfix/local[6]", b"postfix/master[7]", b"postfix/postscreen[8]", b"postfix/submission/smtpd[9]",
             b"postfix/submissions/smtpd[10]", b"postfix-out/smtp[11]", b"postfix", b"postfix-script[12]",
             b"postfix/smtpd", b"postfix/discard[13]", b"postfix/smtps/smtpd[14]", b"dovecot", b"postfix/x:y[15]"]
_WORDS = [b"ABC123", b"ABC123", b"DEF456", b"4VTp1q2x3Jz9sQ1", b"NOQUEUE", b"warning", b"reject", b"fatal", b"panic",
          b"hold", b"discard", b"reject_warning", b"statistics", b"connect", b"0"]
_BODIES = [
    b"client=mail.example.com[192.0.2.1]", b"client=unknown[2001:db8::1]", b"client=0[192.0.2.9], sasl_method=X",
    b"client=", b"from=<Al@Ex.ORG>, size=100, nrcpt=1 (queue active)", b"from=<>, size=0, nrcpt=1",
    b"from=<x@y>, size=00", b"to=<R@X.example>, relay=local, delay=1, delays=1/0/0/0, dsn=2.0.0, status=sent (ok)",
    b"to=<r@x>, orig_to=<o@x>, relay=mx[1.2.3.4]:25, delay=2.5, status=deferred (connect to mx[1.2.3.4]:25: no)",
    b"to=<r@x>, relay=mx[1.2.3.4]:25, conn_use=2, delay=9, dsn=5.0.0, status=bounced (host mx said: 550 no (x))",
    b"to=<r@x>, relay=local, delay=1, status=sent (forwarded as ZZZ)", b"removed", b"message-id=<a@b>",
    b"reject: RCPT from x[1.2.3.4]: 554 5.7.1 <r@x>: Relay access denied; from=<a@b> to=<r@x> proto=ESMTP",
    b"reject: header Subject: hi from y[1.2.3.4]; from=<a@b> to=<c@d>: 5.7.1 no", b"hold: body x from y; from=<a>",
    b"milter-reject: END-OF-MESSAGE from x[1.2.3.4]: 5.7.1 v; from=<a@b>", b"uid=0 from=<root>", b"sender=<s@t>",
    b"connect from x.example[192.0.2.3]", b"lost connection after DATA from x[1.2.3.4]", b"disconnect from y",
    b"from=<o@x>, status=expired, returned to sender", b"connect to mx[1.2.3.4]:25: Connection refused",
    b"warning: header Subject: w from x; from=<a>", b"reject_warning: RCPT from x[1.2.3.4]: 450 4.1.1 <r@x>: maybe",
]


@st.composite
def log_lines(draw: st.DrawFn) -> bytes:
    line = b"%s mx %s: %s: %s" % (draw(st.sampled_from(_STAMPS)), draw(st.sampled_from(_PROGRAMS)),
                                  draw(st.sampled_from(_WORDS)), draw(st.sampled_from(_BODIES)))
    mutation = draw(st.integers(0, 9))
    if mutation == 0:
        line = line[: draw(st.integers(0, len(line)))]
    elif mutation == 1:
        line += b"\r"
    elif mutation == 2:
        line = line[: draw(st.integers(0, len(line)))] + draw(log_lines())
    elif mutation == 3:
        line = line.replace(b": ", b": [ID 1 mail.info] ", 1)
    elif mutation == 4:
        line += draw(st.binary(max_size=8)).replace(b"\n", b"")
    return line


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(log_lines(), min_size=1, max_size=60))
def test_it_equals_pflogsumm_on_generated_logs(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "mail.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert summarize(path).totals == grand_totals(pflogsumm(path, exact=True))


def test_syslog_name_counts_another_instance_like_pflogsumm(tmp_path: Path) -> None:
    path = tmp_path / "edge.log"
    path.write_bytes(b"\n".join(EDGE_LINES) + b"\n")
    expected = grand_totals(pflogsumm("--syslog-name=postfix-out", path, exact=True))
    summary = summarize(path, syslog_name="postfix-out")
    assert summary.totals == expected
    assert summary.totals["delivered"] == summarize(path).totals["delivered"] + 1


def test_it_treats_a_reused_queue_id_as_pflogsumm_does_and_corrects_it() -> None:
    summary = LogSummary()
    summary.feed([*message(b"ABCDEF1234", b"a@one.example", 100), *message(b"ABCDEF1234", b"b@two.example", 300)])
    totals, corrected = summary.totals, summary.corrected()
    assert (totals["received"], totals["delivered"]) == (2, 2)
    assert (totals["bytes_received"], totals["bytes_delivered"], totals["senders"]) == (100, 200, 1)
    assert (corrected["bytes_received"], corrected["bytes_delivered"], corrected["senders"]) == (400, 400, 2)
    assert summary.notes()["reused_queue_ids"] == 1


def test_it_drops_a_message_once_postfix_removes_it() -> None:
    summary = LogSummary()
    summary.feed(message(b"ABCDEF1234", b"a@one.example", 100))
    assert summary.tracker.active == {}
    assert list(summary.tracker.finished) == [b"ABCDEF1234"]


def test_memory_for_messages_stays_bounded() -> None:
    summary = LogSummary(queue_memory=300)
    for n in range(5000):
        qid = b"%010X" % (n + 0x1000000)
        summary.feed(message(qid, b"user%d@example.org" % (n % 50), 10, removed=n % 3 != 0))
    tracker = summary.tracker
    assert len(tracker.active) <= 300 and len(tracker.finished) <= 300
    assert summary.totals["received"] == summary.totals["delivered"] == 5000
    assert summary.totals["bytes_received"] == summary.totals["bytes_delivered"] == 50000
    assert summary.totals["senders"] == 50


def test_per_day_follows_the_log_across_new_year() -> None:
    summary = LogSummary()
    lines = [*message(b"ABCDEF0001", b"a@x.example", 1, day=b"Dec 31"), *message(b"ABCDEF0002", b"a@x.example", 1)]
    summary.feed(lines, reference=1767225600.0)  # 2026-01-01 00:00 UTC
    assert [date for date, _ in summary.daily()] == [(2025, 12, 31), (2026, 1, 2)]
    assert as_dict(summary)["per_day"][0] == {
        "date": "2025-12-31", "received": 1, "delivered": 1, "deferred": 0, "bounced": 0, "rejected": 0
    }


def test_scanning_a_file_in_parallel_chunks_equals_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    with path.open("wb") as out:
        for log in realdata_logs():
            out.write(log.read_bytes())
        out.write(b"\n".join(EDGE_LINES) + b"\n")
    sequential = summarize(path)
    parallel = LogSummary()
    add_file_parallel(parallel, str(path), jobs=2, chunk_size=256 << 10)
    assert as_dict(parallel, top=0) == as_dict(sequential, top=0)
    assert render_text(parallel, 0) == render_text(sequential, 0)


def message(qid: bytes, sender: bytes, size: int, *, removed: bool = True, day: bytes = b"Jan  2") -> list[bytes]:
    """The lines Postfix logs for one message received by smtpd and delivered by smtp."""
    head = day + b" 10:00:00 mx postfix/"
    lines = [
        head + b"smtpd[1]: " + qid + b": client=mail.example.org[192.0.2.1]",
        head + b"cleanup[2]: " + qid + b": message-id=<" + qid + b"@example.org>",
        head + b"qmgr[3]: " + qid + b": from=<" + sender + b">, size=%d, nrcpt=1 (queue active)" % size,
        head + b"smtp[4]: " + qid + b": to=<rcpt@example.net>, relay=mx[198.51.100.1]:25, delay=1, dsn=2.0.0, "
        b"status=sent (250 ok)",
    ]
    if removed:
        lines.append(head + b"qmgr[3]: " + qid + b": removed")
    return lines


# Lines that are not a clean log, next to ordinary ones: 8-bit and binary bytes,
# CRLF ends, Solaris "[ID n facility]" tags, a line spliced into another, cut
# lines, RFC 3339 stamps with and without the colon pflogsumm requires, another
# instance, unknown service names, a reused queue id, size=0, rejects of every kind.
EDGE_LINES = [
    b"Dec 31 23:59:58 mx postfix/smtpd[10]: 1A2B3C4D5E: client=mail.example.org[192.0.2.10]",
    b"Dec 31 23:59:58 mx postfix/cleanup[11]: 1A2B3C4D5E: message-id=<x@y>",
    b"Dec 31 23:59:59 mx postfix/qmgr[12]: 1A2B3C4D5E: from=<Alice@Example.ORG>, size=1000, nrcpt=2 (queue active)",
    b"Jan  1 00:00:01 mx postfix/smtp[13]: 1A2B3C4D5E: to=<Bob@Example.NET>, orig_to=<bob@alias.example>, "
    b"relay=mx.example.net[198.51.100.1]:25, conn_use=2, delay=1.5, delays=0.1/0/0.4/1, dsn=2.0.0, "
    b"status=sent (250 ok)",
    b"Jan  1 00:00:01 mx postfix/local[14]: 1A2B3C4D5E: to=<carol@mx.example>, relay=local, delay=2, "
    b"delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (forwarded as 9F8E7D6C5B)",
    b"Jan  1 00:00:02 mx postfix/qmgr[12]: 1A2B3C4D5E: removed",
    b"Jan  1 00:00:03 mx postfix/smtpd[10]: 1A2B3C4D5E: client=other.example.com[192.0.2.11]",
    b"Jan  1 00:00:03 mx postfix/qmgr[12]: 1A2B3C4D5E: from=<dave@other.example.com>, size=2000, "
    b"nrcpt=1 (queue active)",
    b"Jan  1 00:00:04 mx postfix/smtp[13]: 1A2B3C4D5E: to=<erin@example.net>, relay=none, delay=3, delays=0.1/0/3/0, "
    b"dsn=4.4.1, status=deferred (connect to example.net[198.51.100.2]:25: Connection refused)",
    b"Jan  1 00:10:04 mx postfix/smtp[13]: 1A2B3C4D5E: to=<erin@example.net>, relay=none, delay=600, dsn=4.4.1, "
    b"status=deferred (connect to example.net[198.51.100.2]:25: Connection refused)",
    b"Jan  1 00:20:04 mx postfix/smtp[13]: 1A2B3C4D5E: to=<erin@example.net>, relay=mx.example.net[198.51.100.1]:25, "
    b"delay=1200, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.1.1 <erin@example.net>: "
    b"Recipient address rejected: User unknown (in reply to RCPT TO command))",
    b"Jan  1 00:20:05 mx postfix/qmgr[12]: 1A2B3C4D5E: removed\r",
    b"Jan  1 00:30:00 mx postfix/pickup[20]: 0B0B0B0B0B: uid=1000 from=<root>",
    b"Jan  1 00:30:00 mx postfix/qmgr[12]: 0B0B0B0B0B: from=<root@mx.example>, size=500, nrcpt=1 (queue active)",
    b"Jan  1 00:30:01 mx postfix/discard[21]: 0B0B0B0B0B: to=<null@mx.example>, relay=none, delay=0.1, dsn=2.0.0, "
    b"status=sent (discarded)",
    b"Jan  1 00:31:00 mx postfix/smtpd[22]: NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 554 5.7.1 "
    b"<spam@example.com>: Relay access denied; from=<x@spammer.test> to=<spam@example.com> proto=ESMTP helo=<spammer>",
    b"Jan  1 00:31:01 mx postfix/smtpd[22]: NOQUEUE: reject_warning: RCPT from unknown[203.0.113.7]: 450 4.7.1 "
    b"Client host rejected: cannot find your hostname, [203.0.113.7]; from=<x@spammer.test> to=<a@example.com>",
    b"Jan  1 00:31:02 mx postfix/smtpd[22]: 4C4C4C4C4C: hold: RCPT from unknown[203.0.113.7]: <a@example.com>: "
    b"Recipient address triggers HOLD action; from=<x@spammer.test> to=<a@example.com> proto=ESMTP helo=<spammer>",
    b"Jan  1 00:31:03 mx postfix/smtpd[22]: 4C4C4C4C4C: discard: RCPT from unknown[203.0.113.7]: <a@example.com>: "
    b"Recipient address triggers DISCARD action; from=<x@spammer.test> to=<a@example.com> proto=ESMTP helo=<spammer>",
    b"Jan  1 00:31:04 mx postfix/smtpd[22]: NOQUEUE: milter-reject: RCPT from unknown[203.0.113.7]: 550 5.7.1 "
    b"Command rejected; from=<x@spammer.test> to=<a@example.com> proto=ESMTP helo=<spammer>",
    b"Jan  1 00:31:05 mx postfix/cleanup[23]: 5D5D5D5D5D: reject: header Subject: buy now from unknown[203.0.113.7]; "
    b"from=<x@spammer.test> to=<a@example.com> proto=ESMTP helo=<spammer>: 5.7.1 no spam",
    b"Jan  1 00:31:06 mx postfix/cleanup[23]: 5D5D5D5D5E: milter-reject: END-OF-MESSAGE from unknown[203.0.113.7]: "
    b"5.7.1 virus; from=<x@spammer.test> to=<a@example.com> proto=ESMTP helo=<spammer>",
    b"Jan  1 00:31:07 mx postfix/cleanup[23]: 5D5D5D5D5F: warning: body buy stuff from unknown[203.0.113.7]; "
    b"from=<x@spammer.test> to=<a@example.com> proto=ESMTP helo=<spammer>",
    b"Jan  1 00:31:08 mx postfix/cleanup[23]: 5D5D5D5D60: hold: header X-Spam: yes from unknown[203.0.113.7]; "
    b"from=<x@spammer.test>",
    b"Jan  1 00:31:09 mx postfix/cleanup[23]: 5D5D5D5D61: discard: END-OF-MESSAGE from unknown[203.0.113.7]; "
    b"from=<x@spammer.test>",
    b"Jan  1 00:32:00 mx postfix/smtpd[24]: 6E6E6E6E6E: client=unknown[2001:db8::1]\r",
    b"Jan  1 00:32:00 mx postfix/qmgr[12]: 6E6E6E6E6E: from=<v6@example.org>, size=700, nrcpt=1 (queue active)\r",
    b"Jan  1 00:32:01 mx postfix/smtp[13]: 6E6E6E6E6E: to=<x@example.net>, relay=mx.example.net[198.51.100.1]:25, "
    b"delay=1, dsn=2.0.0, status=sent (250 ok)\r",
    b"Jan  1 00:33:00 mx postfix/smtpd[25]: [ID 197553 mail.info] 7F7F7F7F7F: client=sol.example.com[192.0.2.20]",
    b"Jan  1 00:33:00 mx postfix/qmgr[12]: [ID 197553 mail.info] 7F7F7F7F7F: from=<sun@sol.example.com>, size=800, "
    b"nrcpt=1 (queue active)",
    b"Jan  1 00:34:00 mx postfix/smtps/smtpd[26]: 8A8A8A8A8A: client=mua.example.com[192.0.2.30], sasl_method=PLAIN",
    b"Jan  1 00:34:01 mx postfix/submission/smtpd[27]: 8A8A8A8A8B: client=mua.example.com[192.0.2.30]",
    b"Jan  1 00:34:02 mx postfix/submissions/smtpd[28]: 8A8A8A8A8C: client=mua.example.com[192.0.2.30]",
    b"Jan  1 00:35:00 mx postfix-out/smtp[29]: 9B9B9B9B9B: to=<z@example.net>, relay=mx.example.net[198.51.100.1]:25, "
    b"delay=1, dsn=2.0.0, status=sent (250 ok)",
    b"Jan  1 00:36:00 mx postfix/smtpd[30]: connect from unknown[192.0.2.40]Jan  1 00:36:00 mx postfix/smtpd[31]: "
    b"ACACACACAC: client=inter.example[192.0.2.41]",
    b"Jan  1 00:36:01 mx postfix/qmgr[12]: ACACACACAC: from=<inter@inter.example>, size=900, nrcpt=1 (queue active)",
    b"Jan  1 00:36:02 mx postfix/smtp[13]: ACACACACAC: to=<y@example.net>, relay=mx.example.net[198.51.100.1]:25, "
    b"delay=1, dsn=2.0.0, status=sent (250",
    b"Jan  1 00:37:00 mx postfix/qmgr[12]: BDBDBDBDBD: from=<old@example.org>, status=expired, returned to sender",
    b"Jan  1 00:38:00 mx postfix/master[1]: warning: process /usr/lib/postfix/sbin/smtpd pid 123 exit status 1",
    b"Jan  1 00:38:01 mx postfix/postfix-script[2]: fatal: the Postfix mail system is not running",
    b"Jan  1 00:38:02 mx postfix/smtp[13]: CECECECECE: connect to mx.broken.example[198.51.100.9]:25: "
    b"Connection timed out",
    b"Jan  1 00:38:04 mx postfix[3]: panic: something broke",
    b"Jan  1 00:38:05 mx dovecot: imap-login: Login: user=<u>",
    b"\x00\x01\x02\xff\xfe binary junk \x80\x81",
    b"Jan  1 00:38:06 mx postfix/smtpd[32]: DFDFDFDFDF: client=\xc3\xa9t\xc3\xa9.example[192.0.2.50]",
    b"Jan  1 00:38:06 mx postfix/qmgr[12]: DFDFDFDFDF: from=<\xc3\xa9l\xc3\xa8ve@\xc3\x89COLE.example>, "
    b"size=1, nrcpt=1",
    b"Jan  1 00:38:07 mx postfix/smtp[13]: DFDFDFDFDF: to=<Z\xc3\x89@B\xc3\x89.Example>, relay=x[1.2.3.4]:25, "
    b"delay=abc, dsn=2.0.0, status=sent (250 ok)",
    b"Jan  1 00:38:08 mx postfix/qmgr[12]: E0E0E0E0E0: from=<>, size=0, nrcpt=1 (queue active)",
    b"Jan  1 00:38:08 mx postfix/qmgr[12]: E0E0E0E0E0: from=<>, size=0, nrcpt=1 (queue active)",
    b"Jan  1 00:38:09 mx postfix/smtp[13]: E0E0E0E0E0: to=<w@example.net>, relay=x[1.2.3.4]:25, delay=1, "
    b"status=sent (ok)",
    b"Jan  1 00:38:10 mx postfix/bounce[33]: E0E0E0E0E0: sender non-delivery notification: F1F1F1F1F1",
    b"Jan 1 00:39:00 mx postfix/smtpd[34]: F2F2F2F2F2: client=one.space.example[192.0.2.60]",
    b"Foo 1 00:39:01 mx postfix/smtpd[34]: F3F3F3F3F3: client=badmonth.example[192.0.2.61]",
    b"Jan  1 00:39:02 mx postfix/smtpd[34]: F4F4F4F4F4: client=",
    b"Jan  1 00:39:03 mx postfix/smtpd[34]:",
    b"Jan  1 00:39:04 mx postfix/smtpd: weird: a: client=nopid.example[192.0.2.62]",
    b"Jan  1 00:39:05 mx postfix/smtpd[35]: QID1: client=x[1.2.3.4]: client=y[5.6.7.8]",
    b"2024-01-01T00:40:00+01:00 mx postfix/smtpd[36]: F5F5F5F5F5: client=rfc.example[192.0.2.70]",
    b"2024-01-01T00:40:00+0100 mx postfix/smtpd[36]: F6F6F6F6F6: client=iso.example[192.0.2.71]",
    b"2024-01-01T00:40:01.5Z mx postfix/qmgr[12]: F5F5F5F5F5: from=<rfc@rfc.example>, size=42, nrcpt=1 (queue active)",
    b"Jan  1 00:41:00 mx postfix/smtpd[37]: G7: reject: RCPT from x[1.2.3.4]: 552 5.3.4 Message size exceeds fixed "
    b"limit; from=<a@b> to=<c@d>",
    b"Jan  1 00:41:01 mx postfix/smtpd[37]: NOQUEUE: reject: MAIL from x[1.2.3.4]: 553 5.1.8 <a@b>: Sender address "
    b"rejected: Domain not found; from=<a@b> proto=ESMTP",
    b"Jan  1 00:41:02 mx postfix/smtpd[37]: NOQUEUE: reject: CONNECT from x[1.2.3.4]: 554 5.7.1 <x[1.2.3.4]>: Client "
    b"host rejected: Access denied; proto=SMTP",
    b"Jan  1 00:41:04 mx postfix/postscreen[38]: NOQUEUE: reject: RCPT from [1.2.3.4]:5678: 550 5.7.1 Service "
    b"unavailable; client [1.2.3.4] blocked using zen.spamhaus.org; from=<a@b>, to=<c@d>, proto=ESMTP, helo=<x>",
    b"Jan  1 00:42:00 mx postfix/smtpd[39]: H8H8H8H8H8: client=0[192.0.2.80]",
    b"Jan  1 00:42:01 mx postfix/qmgr[12]: H8H8H8H8H8: from=<zero@x>, size=5, nrcpt=1 (queue active)",
    b"Jan  1 00:43:00 mx postfix/smtpd[40]: I9I9I9I9I9: client=a.b.c.d.co.uk[192.0.2.90]",
    b"Jan  1 00:43:01 mx postfix/qmgr[12]: I9I9I9I9I9: from=<nodomain>, size=77, nrcpt=1 (queue active)",
    b"Jan  1 00:43:02 mx postfix/qmgr[12]: J0: from=<x@y>, size=00, nrcpt=1 (queue active)",
    b"Jan  1 00:43:03 mx postfix/qmgr[12]: J0: from=<x2@y>, size=10, nrcpt=1 (queue active)",
    b"Jan  1 00:43:04 mx postfix/smtp[13]: J0: to=<v@y>, relay=x, delay=1, status=sent (250)",
    b"Jan  1 00:43:05 mx postfix/qmgr[12]: J0: message-id=<from=<evil>, size=99>",
    b"Jan  1 00:43:06 mx postfix/cleanup[41]: K1: message-id=<a: reject: header b from x; from=<c>>",
    b"Jan  1 00:43:07 mx postfix/cleanup[41]: K2: message-id=<plain.id@host>",
    b"Jan  1 00:43:08 mx postfix/smtpd[42]: L3 client=x[1.2.3.4]",
    b"Jan  1 00:43:09 mx postfix/smtp[13]: M4: to=<>, relay=none, delay=1, status=bounced (no recipient)",
    b"Jan  1 00:43:10 mx postfix/local[43]: N5: to=<@weird>, relay=local, delay=1, status=sent (delivered)",
    b"Jan  1 00:43:11 mx postfix/smtp[13]: O6: to=<a@b>, relay=none, delay=1, status=deliverable (ok)",
    b"Jan  1 00:43",
    b"Jan  1 00:44:00 mx postfix/smtp[13]: P7: to=<t@r>, relay=none, delay=1, status=deferred",
]
