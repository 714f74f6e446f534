"""A summary of Postfix mail logs whose Grand Totals equal pflogsumm's.

pflogsumm (1.1.5, the Debian package) is the reference: for the same lines,
:attr:`LogSummary.totals` holds exactly its Grand Totals, and the per-hour,
per-day, top and problem lists follow its rules (see :mod:`~aliasdesk.postfix.maillog.scan`). Memory
stays bounded: per-message state is dropped once Postfix logs the message as
removed (see :mod:`~aliasdesk.postfix.maillog.queue`); what grows is only what the report lists --
distinct senders, recipients, hosts and reasons, and one row per day.

Where pflogsumm is demonstrably wrong, the totals still match it and
:meth:`LogSummary.corrected` gives the right numbers (``notes()`` says why):

* A queue id reused after ``removed`` (short ids come from inode numbers; the
  real kdent-mail3.log has one) is merged with the earlier message: the new
  message's bytes, sender and first deferral go uncounted and its deliveries are
  charged the old size. (``reused_queue_ids``)
* A client text pflogsumm cannot parse -- an IPv6 client in a log with CRLF
  line ends -- leaves the message received but its bytes and sender uncounted.
  (``messages_without_origin``)
* ``NOQUEUE: milter-reject`` from smtpd is not counted as rejected.
  (``smtpd_milter_rejects``)
* smtpd under a service name other than ``smtps`` or ``submission`` (Postfix's
  stock ``postfix/submissions``, any ``-o syslog_name=postfix/NAME``) is not
  counted at all, neither its received messages nor its rejects.
  (``other_service_smtpd_*``)

Differences that are not counting errors, each reported or documented:

* ``status=expired`` (returned to sender) counts nowhere; deliveries by the
  discard(8) transport count as delivered. (``expired``,
  ``discard_transport_deliveries``)
* Per-hour daily averages divide by the number of day-of-month *changes* in the
  log (a stray earlier line adds two). The JSON gives raw hourly counts,
  ``days`` and ``pflogsumm_day_count``; the text report divides as pflogsumm does.
* pflogsumm dates classic lines with the current year and even overrides an RFC
  3339 line's own year; per-day rows here carry the log's dates (see
  :class:`~aliasdesk.postfix.maillog.lines.YearGuesser`).
* Lines of other Postfix instances (``postfix-out/smtp``) and journald
  ``short-iso`` stamps (``+0200``, no colon) are skipped, as pflogsumm skips
  them; ``lines()`` counts them. ``syslog_name`` works like ``--syslog-name``.
* pflogsumm has ``use locale``: in a UTF-8 locale Perl gives bytes 0x80-0xFF
  Latin-1 meaning, so it lower-cases 0xC0-0xDE in domains (mangling UTF-8
  addresses) and takes 0x85 and 0xA0 for white space. This module follows the
  byte-exact C-locale behaviour; on ASCII logs the two agree.
* Bounded memory: a queue id reused after more than ``queue_memory`` later
  removals, or more than twice ``queue_memory`` messages in flight at once, is
  no longer recognised as pflogsumm (which never forgets) would; and a line
  longer than 1 MiB is read as an empty line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from aliasdesk.postfix.maillog.lines import YearGuesser, iter_blocks, open_log
from aliasdesk.postfix.maillog.queue import QUEUE_MEMORY, MessageTracker
from aliasdesk.postfix.maillog.scan import Event, line_patterns, scan
from aliasdesk.postfix.maillog.tally import DETAIL_LIMIT, OTHER, Tally

__all__ = ["CONTINUE", "HOURLY", "TOTALS", "LogSummary"]

TOTALS = [
    "received", "delivered", "forwarded", "deferred", "deferrals", "bounced", "rejected", "reject_warnings",
    "held", "discarded", "bytes_received", "bytes_delivered", "senders", "sending_hosts", "recipients",
    "recipient_hosts",
]
HOURLY = ("received", "delivered", "deferred", "bounced", "rejected")
CONTINUE = -1.0  # a reference meaning "this stretch continues the previous one"


class LogSummary:
    """Everything pflogsumm reports about some mail logs, fed in log order.

    Feed each log with :meth:`add_file` (a path, ``-`` or a .gz file) or
    :meth:`feed` (lines without newlines); logs are read as one stream, like
    pflogsumm's ``FILE...`` arguments.
    """

    def __init__(self, *, syslog_name: str = "postfix", queue_memory: int = QUEUE_MEMORY) -> None:
        self.syslog_name = syslog_name
        self.patterns = line_patterns(syslog_name)
        self.tracker = MessageTracker(queue_memory)
        self.tally = Tally()
        self.per_day: dict[tuple[int, int, int], list[int]] = {}
        self.day_changes = 0  # pflogsumm's day count: how often the day of month changed
        self._last_day = 0
        self._year = 0  # year and month where the last classic line left off
        self._month = 0
        self._reference: float | None = None

    # -- feeding ---------------------------------------------------------------

    def add_file(self, path: str | os.PathLike[str]) -> None:
        """Read one log; raises :class:`~aliasdesk.postfix.maillog.lines.LogReadError` when it cannot."""
        reference = None
        if str(path) != "-":
            reference = os.stat(path).st_mtime
        with open_log(path) as stream:
            self.feed_blocks(iter_blocks(stream, str(path)), reference)

    def feed(self, lines: Iterable[bytes], reference: float | None = None) -> None:
        """Add one log's lines. ``reference`` (epoch seconds, default now) anchors years, see YearGuesser."""
        self.feed_blocks(_batched(lines), reference)

    def feed_blocks(self, blocks: Iterable[list[bytes]], reference: float | None = None) -> None:
        part = Tally()
        events: list[Event] = []
        for block in blocks:
            scan(block, part, events, self.patterns)
            self.tracker.replay(events)
            events.clear()
        self.absorb(part, reference)

    def absorb(self, part: Tally, reference: float | None = CONTINUE) -> None:
        """Add a scanned stretch of log whose events were already replayed into ``self.tracker``.

        ``reference`` starts a new log (see :meth:`feed`); CONTINUE chains the
        stretch to the previous one, for a file scanned in pieces.
        """
        t = self.tally
        for name in Tally.COUNTERS:
            setattr(t, name, getattr(t, name) + getattr(part, name))
        for mine, theirs in zip(t.hours, part.hours, strict=True):
            for hour, count in enumerate(theirs):
                if count:
                    mine[hour] += count
        for addr, stats in part.recipients.items():
            have = t.recipients.get(addr)
            if have is None:
                t.recipients[addr] = stats
            else:
                have[0] += stats[0]
                have[1] += stats[1]
                have[2] += stats[2]
                have[3] = max(have[3], stats[3])
        for name, table in part.detail.items():
            _merge_nested(t.detail[name], table)
        _merge_nested(t.skipped_names, part.skipped_names)
        self._absorb_days(part, reference)

    def _absorb_days(self, part: Tally, reference: float | None) -> None:
        if part.first_day is not None:
            if part.first_day != self._last_day:
                self.day_changes += 1
            self.day_changes += part.day_changes
            self._last_day = part.last_day
        if reference != CONTINUE:
            self._reference = reference
        base = self._year
        if part.first_month:
            if reference != CONTINUE or not self._month:
                base = YearGuesser(self._reference).year(part.first_month)
            elif part.first_month < self._month - 6:
                base += 1
            elif part.first_month > self._month + 6:
                base -= 1
            self._year, self._month = base + part.turns, part.month
        elif not base:
            base = YearGuesser(self._reference).year(1)
        for (relative, first, month, day), counts in part.per_day.items():
            key = (base + first if relative == 0 else first, month, day)
            row = self.per_day.get(key)
            if row is None:
                self.per_day[key] = list(counts)
            else:
                for i, count in enumerate(counts):
                    row[i] += count

    # -- results ---------------------------------------------------------------

    @property
    def totals(self) -> dict[str, int]:
        """pflogsumm's Grand Totals, named as in the CONTRACT."""
        t, q = self.tally, self.tracker
        return {
            "received": t.received,
            "delivered": t.delivered,
            "forwarded": t.forwarded,
            "deferred": q.deferred,
            "deferrals": t.deferrals,
            "bounced": t.bounced,
            "rejected": t.rejected,
            "reject_warnings": t.reject_warnings,
            "held": t.held,
            "discarded": t.discarded,
            "bytes_received": q.bytes_received,
            "bytes_delivered": q.bytes_delivered,
            "senders": len(q.senders),
            "sending_hosts": len(q.sending_domains),
            "recipients": sum(1 for stats in t.recipients.values() if stats[0]),
            "recipient_hosts": sum(1 for stats in self.recipient_domains().values() if stats[0]),
        }

    def recipient_domains(self) -> dict[bytes, list[Any]]:
        """Recipient domain -> [deliveries, deferrals, delay sum, max delay, bytes delivered].

        pflogsumm's domain of an address is what follows its first "@" (the
        address itself when there is none).
        """
        domains: dict[bytes, list[Any]] = {}
        sizes = self.tracker.recipient_bytes
        for addr, (sent, deferrals, delay_sum, delay_max) in self.tally.recipients.items():
            at = addr.find(b"@")
            dom = addr[at + 1 :] if at > 0 else addr
            have = domains.get(dom)
            if have is None:
                domains[dom] = [sent, deferrals, delay_sum, delay_max, sizes.get(addr, 0)]
            else:
                have[0] += sent
                have[1] += deferrals
                have[2] += delay_sum
                have[3] = max(have[3], delay_max)
                have[4] += sizes.get(addr, 0)
        return domains

    def corrected(self) -> dict[str, int]:
        """The totals pflogsumm gets wrong, counted correctly (see the module docstring)."""
        t, q = self.tally, self.tracker
        totals = self.totals
        return {
            "received": totals["received"] + t.other_smtpd_received,
            "rejected": totals["rejected"] + t.smtpd_milter_rejects + t.other_smtpd_rejected,
            "deferred": totals["deferred"] + q.fixed_deferred,
            "bytes_received": totals["bytes_received"] + q.fixed_bytes_received,
            "bytes_delivered": totals["bytes_delivered"] + q.fixed_bytes_delivered,
            "senders": q.fixed_senders,
            "sending_hosts": q.fixed_sending_domains,
        }

    def notes(self) -> dict[str, int]:
        """Counts that explain the corrections and what pflogsumm leaves out."""
        t, q = self.tally, self.tracker
        return {
            "reused_queue_ids": q.reused,
            "messages_without_origin": q.originless,
            "smtpd_milter_rejects": t.smtpd_milter_rejects,
            "other_service_smtpd_received": t.other_smtpd_received,
            "other_service_smtpd_rejected": t.other_smtpd_rejected,
            "expired": t.expired,
            "discard_transport_deliveries": t.discard_deliveries,
            "deliveries_without_size": q.no_size_deliveries,
        }

    def lines(self) -> dict[str, Any]:
        t = self.tally
        return {
            "total": t.lines,
            "postfix": t.postfix_lines,
            "postfix_skipped": t.skipped_postfix_lines,
            "other_programs": t.other_lines,
            "unparsed": t.unparsed_lines,
            "skipped_syslog_names": {k.decode("utf-8", "replace"): v for k, v in t.skipped_names.items()},
        }

    def hourly(self) -> list[dict[str, int]]:
        """24 rows of raw counts (pflogsumm prints them divided by its day count)."""
        rows = self.tally.hours
        return [{"hour": h, **{name: rows[i][h] for i, name in enumerate(HOURLY)}} for h in range(24)]

    def daily(self) -> Iterator[tuple[tuple[int, int, int], list[int]]]:
        """(year, month, day) and [received, delivered, deferred, bounced, rejected], in date order."""
        for key in sorted(self.per_day):
            counts = self.per_day[key]
            if any(counts):
                yield key, counts

    def rejected_percent(self) -> tuple[int, int]:
        """pflogsumm's "rejected (N%)" and "discarded (N%)"."""
        t = self.tally
        total = t.delivered + t.rejected + t.discarded
        if not total:
            return 0, 0
        return int(t.rejected / total * 100), int(t.discarded / total * 100)


def _merge_nested(mine: dict[bytes, Any], theirs: dict[bytes, Any]) -> None:
    """Add nested count tables, keeping each table within DETAIL_LIMIT keys like :func:`.tally.bump`."""
    for key, value in theirs.items():
        if key not in mine and len(mine) >= DETAIL_LIMIT:
            key = OTHER
        if isinstance(value, dict):
            _merge_nested(mine.setdefault(key, {}), value)
        else:
            mine[key] = mine.get(key, 0) + value


def _batched(lines: Iterable[bytes], size: int = 8192) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in lines:
        batch.append(line.rstrip(b"\n"))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
