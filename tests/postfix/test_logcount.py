"""TrafficCounter: hour buckets that add up to pflogsumm's totals, however the log is cut."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from aliasdesk.postfix.maillog.count import HOUR_FIELDS, TrafficCounter
from aliasdesk.postfix.maillog.lines import iter_lines
from aliasdesk.postfix.maillog.summary import LogSummary

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
LOGS = sorted((REALDATA / "logs").glob("*.log")) if (REALDATA / "logs").is_dir() else []
MESSAGES = [f for f in HOUR_FIELDS if not f.startswith("bytes")]


def logs() -> list[Path]:
    if not LOGS:
        pytest.skip("../shared/realdata/logs is absent")
    return LOGS


def count(lines: list[bytes], cuts: list[int]) -> TrafficCounter:
    """Count in pieces cut at ``cuts``, each piece a fresh counter carrying the messages in flight."""
    total = TrafficCounter(tz=UTC)
    flight: dict[str, Any] = {}
    for start, end in zip([0, *cuts], [*cuts, len(lines)], strict=True):
        part = TrafficCounter(in_flight=flight, tz=UTC)
        part._years = total._years  # one year guess across pieces, as one file read in one go
        part.feed(lines[start:end])
        flight = part.in_flight()
        for name in ("hosts", "addresses"):
            mine = getattr(total, name)
            for key, row in getattr(part, name).items():
                mine[key] = [a + b for a, b in zip(mine.get(key, [0] * len(row)), row, strict=True)]
        for name in ("reasons", "peers"):
            mine = getattr(total, name)
            for key, value in getattr(part, name).items():
                mine[key] = mine.get(key, 0) + value
        for address, seen in part.last_seen.items():
            total.last_seen[address] = max(seen, total.last_seen.get(address, seen))
        total.lines += part.lines
    return total


@pytest.mark.parametrize("name", [p.name for p in LOGS] or ["(no real logs)"])
def test_hours_add_up_to_pflogsumm_totals(name: str) -> None:
    path = next(p for p in logs() if p.name == name)
    counter = TrafficCounter(tz=UTC)
    counter.feed(list(iter_lines([path])))
    summary = LogSummary()
    summary.add_file(path)
    sums = dict(zip(HOUR_FIELDS, map(sum, zip(*counter.hosts.values(), strict=True)), strict=True))
    assert {f: sums[f] for f in MESSAGES} == {f: summary.totals[f] for f in MESSAGES}
    assert all(hour.minute == 0 and hour.tzinfo is not None for hour, _ in counter.hosts)


@pytest.mark.parametrize("seed", range(4))
def test_counts_do_not_depend_on_where_the_log_is_cut(seed: int) -> None:
    lines = [line for path in logs() for line in iter_lines([path])]
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(lines)), 25))
    whole, pieces = count(lines, []), count(lines, cuts)
    assert pieces.hosts == whole.hosts
    assert pieces.addresses == whole.addresses
    assert pieces.reasons == whole.reasons
    assert pieces.peers == whole.peers
    assert pieces.last_seen == whole.last_seen


def test_a_message_fanned_out_counts_once_per_address_and_its_size_per_delivery() -> None:
    counter = TrafficCounter(tz=UTC, reference=datetime(2026, 11, 30, tzinfo=UTC).timestamp())
    counter.feed([
        b"Nov 26 10:00:01 mx1 postfix/smtpd[1]: 4AB12C: client=a.example.net[192.0.2.1]",
        b"Nov 26 10:00:02 mx1 postfix/qmgr[2]: 4AB12C: from=<x@example.net>, size=5000, nrcpt=2 (queue active)",
        b"Nov 26 10:00:03 mx1 postfix/virtual[3]: 4AB12C: to=<a@mbox.test>, orig_to=<Info@Example.com>, "
        b"relay=virtual, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to maildir)",
        b"Nov 26 10:59:59 mx1 postfix/virtual[3]: 4AB12C: to=<b@mbox.test>, orig_to=<info@example.com>, "
        b"relay=virtual, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to maildir)",
        b"Nov 26 11:00:00 mx1 postfix/qmgr[2]: 4AB12C: removed",
    ])
    hour = datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert counter.addresses == {(hour, "info@example.com"): [1, 2, 0, 0]}
    assert counter.hosts[(hour, "mx1")][HOUR_FIELDS.index("bytes_delivered")] == 10_000
    assert counter.last_seen["info@example.com"] == hour + timedelta(minutes=59, seconds=59)
    assert counter.first_seen["info@example.com"] == hour + timedelta(seconds=3)
    assert counter.in_flight() == {}


def test_classic_stamps_are_read_in_the_given_zone_and_rfc3339_in_their_own() -> None:
    berlin = timezone(timedelta(hours=1))
    counter = TrafficCounter(tz=berlin, reference=datetime(2026, 11, 30, tzinfo=UTC).timestamp())
    counter.feed([
        b"Nov 26 10:00:01 mx1 postfix/smtpd[1]: 4AB12C: client=a.example.net[192.0.2.1]",
        b"2026-11-26T10:30:00.123+05:30 mx2 postfix/smtpd[1]: 4AB12D: client=a.example.net[192.0.2.1]",
        b"garbage \xff\xfe",
    ])
    assert set(counter.hosts) == {(datetime(2026, 11, 26, 9, tzinfo=UTC), "mx1"),
                                  (datetime(2026, 11, 26, 4, 30, tzinfo=UTC).replace(minute=0), "mx2")}
    assert counter.unparsed == 1
