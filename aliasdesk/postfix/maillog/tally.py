"""Counts from a stretch of mail log that need no memory of other lines.

A :class:`Tally` is what :func:`~aliasdesk.postfix.maillog.scan.scan` fills: totals,
per-hour and per-day rows, recipients and the problem details, keyed the way
pflogsumm keys them. Tallies of consecutive stretches add up (see
:meth:`LogSummary.absorb <aliasdesk.postfix.maillog.summary.LogSummary.absorb>`).
"""

from __future__ import annotations

import re
from typing import Any

from aliasdesk.postfix.maillog.detail import perl_number, said_trim, smtpd_reject_detail, trim
from aliasdesk.postfix.maillog.lines import MONTHS, parse_header

__all__ = ["DELAYS", "DETAIL_LIMIT", "OTHER", "Tally", "branch", "bump", "number"]

DETAIL_LIMIT = 5000  # keys per detail list; more are counted under b"(other)"
OTHER = b"(other)"

_CLEANUP_TAIL = re.compile(rb"(?: from \S+?)?; from=<.*$")
_DEFER_REASON = re.compile(rb", status=deferred \(([^)]+)")
_BOUNCE_REASON = re.compile(rb", status=bounced \((.+)\)")
_CODE = re.compile(rb"\d{3} ")
_SMTP_FAILURE = re.compile(rb".* connect to (\S+?): ([^;]+); address \S+ port.*$")
_SMTP_FAILURE_OLD = re.compile(rb".* connect to ([^\[]+)\[\S+?\]: (.+?) \(port \d+\)$")
_KIND_NAMES = {b"reject": "reject", b"reject_warning": "reject_warning", b"hold": "hold", b"discard": "discard"}
_REASON_AFTER = {kind: kind + b": " for kind in (b"warning", b"fatal", b"panic")}
_CLEANUP_KIND = {b"reject": b"reject", b"milter-reject": b"reject", b"warning": b"reject_warning"}


DELAYS: dict[bytes, float] = {}  # a cache: the same few delay values repeat all day


def number(text: bytes) -> float:
    """A delay field as a number."""
    if text in DELAYS:
        return DELAYS[text]
    if len(DELAYS) > 50_000:
        DELAYS.clear()
    value = DELAYS[text] = perl_number(text)
    return value


def bump(table: dict[bytes, int], key: bytes) -> None:
    if key in table:
        table[key] += 1
    elif len(table) < DETAIL_LIMIT:
        table[key] = 1
    else:
        table[OTHER] = table.get(OTHER, 0) + 1


def branch(table: dict[bytes, Any], key: bytes) -> dict[bytes, Any]:
    found = table.get(key)
    if found is None:
        found = table[key] = {} if len(table) < DETAIL_LIMIT else table.setdefault(OTHER, {})
    return found


class Tally:
    """Counts from a stretch of log that need no memory of other lines; mergeable by addition.

    Day keys are relative to the stretch: ``(0, turns, month, day)`` for classic
    timestamps, where ``turns`` counts New Years passed inside the stretch, and
    ``(1, year, month, day)`` for RFC 3339. The summary turns them into dates.
    """

    COUNTERS = [
        "lines", "forwarded", "rejected", "reject_warnings", "held", "discarded", "expired",
        "smtpd_milter_rejects", "other_smtpd_received", "other_smtpd_rejected", "discard_deliveries",
        "postfix_lines", "skipped_postfix_lines", "other_lines", "unparsed_lines",
    ]
    __slots__ = (*COUNTERS, "hours", "per_day", "recipients", "detail", "skipped_names",
                 "first_month", "month", "turns", "first_day", "last_day", "day_changes")
    lines: int
    forwarded: int
    rejected: int
    reject_warnings: int
    held: int
    discarded: int
    expired: int
    smtpd_milter_rejects: int
    other_smtpd_received: int
    other_smtpd_rejected: int
    discard_deliveries: int
    postfix_lines: int
    skipped_postfix_lines: int
    other_lines: int
    unparsed_lines: int

    def __init__(self) -> None:
        for name in self.COUNTERS:
            setattr(self, name, 0)
        # received, delivered, deferred, bounced, rejected by hour (pflogsumm's hour field is \d\d)
        self.hours: list[list[int]] = [[0] * 100 for _ in range(5)]
        self.per_day: dict[tuple[int, int, int, int], list[int]] = {}
        # recipient address -> [deliveries, deferrals, delay sum, max delay]
        self.recipients: dict[bytes, list[Any]] = {}
        self.detail: dict[str, dict[bytes, Any]] = {
            name: {}
            for name in ("deferred", "bounced", "reject", "reject_warning", "hold", "discard", "smtp", "warning",
                         "fatal", "panic", "master")
        }
        self.skipped_names: dict[bytes, int] = {}
        self.first_month = self.month = self.turns = 0
        self.first_day: int | None = None
        self.last_day = 0
        self.day_changes = 0

    # Every received message, delivery, deferral and bounce is counted in its hour.
    @property
    def received(self) -> int:
        return sum(self.hours[0])

    @property
    def delivered(self) -> int:
        return sum(self.hours[1])

    @property
    def deferrals(self) -> int:
        return sum(self.hours[2])

    @property
    def bounced(self) -> int:
        return sum(self.hours[3])

    def clock(self, m: re.Match[bytes]) -> tuple[int, list[int], int]:
        """Hour, per-day row and stamp prefix length (up to the hour) of a line in a new hour."""
        mon, day, hour = m.group(1, 2, 3)
        if mon is not None:
            month = MONTHS.get(mon, 0)
            turns = self.turns
            if month:
                if not self.month:
                    self.first_month = self.month = month
                elif month < self.month - 6:
                    self.turns = turns = turns + 1
                    self.month = month
                elif month > self.month + 6:
                    turns -= 1
                elif month > self.month:
                    self.month = month
            d = int(day)
            key = (0, turns, month or 1, d)
            width = m.end(3)
        else:
            year, rfc_month, day, hour = m.group(4, 5, 6, 7)
            d = int(day)
            key = (1, int(year), int(rfc_month), d)
            width = m.end(7)
        if self.first_day is None:
            self.first_day = d
        elif d != self.last_day:
            self.day_changes += 1
        self.last_day = d
        row = self.per_day.get(key)
        if row is None:
            row = self.per_day[key] = [0, 0, 0, 0, 0]
        return int(hour), row, width

    def skip(self, line: bytes) -> None:
        """Sort a line pflogsumm ignores: another program's, a Postfix line it cannot read, or garbage."""
        program = parse_header(line)
        if program is None:
            self.unparsed_lines += 1
        elif not program.startswith(b"postfix"):
            self.other_lines += 1
        else:
            self.skipped_postfix_lines += 1
            bump(self.skipped_names, program.rpartition(b"/")[0] or program)

    def special(self, cmd: bytes, qid: bytes, text: bytes) -> bool:
        """warning/fatal/panic lines and smtpd rejects named by the line's first word; True if a reject."""
        if qid in _REASON_AFTER:
            at = text.rfind(_REASON_AFTER[qid])  # pflogsumm: s/^.*warning: //
            reason = text[at + len(qid) + 2 :] if at >= 0 else text
            bump(branch(self.detail[qid.decode()], cmd), trim(reason, 66))
            return False
        self.smtpd_reject(qid, text)
        return True

    def smtpd_reject(self, kind: bytes, text: bytes) -> None:
        if kind == b"reject":
            self.rejected += 1
        elif kind == b"reject_warning":
            self.reject_warnings += 1
        elif kind == b"hold":
            self.held += 1
        else:
            self.discarded += 1
        stage, reason, who = smtpd_reject_detail(text)
        bump(branch(branch(self.detail[_KIND_NAMES[kind]], stage), reason), who)

    def cleanup_reject(self, kind: bytes, where: bytes, remainder: bytes) -> None:
        name = _CLEANUP_KIND.get(kind, kind)
        if name == b"reject":
            self.rejected += 1
        elif name == b"reject_warning":
            self.reject_warnings += 1
        elif name == b"hold":
            self.held += 1
        else:
            self.discarded += 1
        remainder = trim(_CLEANUP_TAIL.sub(b"", remainder, count=1), 64)
        bump(branch(branch(self.detail[name.decode()], b"cleanup"), where), remainder)

    def deferral(self, cmd: bytes, text: bytes, addr: bytes, delay: bytes) -> None:
        m = _DEFER_REASON.search(text)
        reason = said_trim(m.group(1), 65) if m else b""
        if _CODE.match(reason):
            reason = reason[4:]
        if reason.startswith(b"connect to "):
            reason = reason[11:]
        bump(branch(self.detail["deferred"], cmd), reason)
        stats = self.recipients.get(addr)
        if stats is None:
            stats = self.recipients[addr] = [0, 0, 0.0, 0.0]
        stats[1] += 1
        took = number(delay)
        if took > stats[3]:
            stats[3] = took

    def bounce(self, relay: bytes, text: bytes) -> None:
        m = _BOUNCE_REASON.search(text)
        reason = said_trim(m.group(1), 66) if m else b""
        if _CODE.match(reason):
            reason = reason[4:]
        bump(branch(self.detail["bounced"], relay), reason)

    def smtp_failure(self, text: bytes) -> None:
        m = _SMTP_FAILURE.match(text) or _SMTP_FAILURE_OLD.match(text)
        if m is not None:
            bump(branch(self.detail["smtp"], m.group(2).lower()), m.group(1))
