"""Count a mail log by hour and host, and by recipient address, a stretch at a time.

``logstats`` summarizes a whole log in one go. Ingestion reads a live log a
piece at a time and keeps the counts in the database, so it needs them cut
differently: per clock hour and per host (a log collected from several mail
servers interleaves their lines), and per recipient address, so that the web
interface can show what each alias carries.

:class:`TrafficCounter` gets the message counts of each (hour, host) bucket
from the same :func:`~aliasdesk.postfix.maillog.scan.scan` that ``logstats`` uses:
summed over all buckets, received, delivered, forwarded, deferrals, bounced,
rejected, reject warnings, held and discarded equal pflogsumm's totals for the
same lines. What needs memory across lines -- a message's size for the bytes
delivered, which addresses of a message were already counted -- lives in a
small "in flight" table keyed by host and queue id, which the caller saves
between pieces (:meth:`TrafficCounter.in_flight`) so nothing is counted twice
across runs. Byte counts are therefore those of messages whose size line was
seen; they can differ from pflogsumm's, which counts bytes by its own rules.

Per address (the original recipient, ``orig_to=``, when Postfix logs one: for
mail to a virtual alias that is the alias, not where it was forwarded), a
message counts once as received however many destinations it fans out to;
every delivery, deferral and bounce line counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from aliasdesk.postfix.maillog.detail import lower_domain
from aliasdesk.postfix.maillog.lines import MONTHS, YearGuesser
from aliasdesk.postfix.maillog.scan import EV_CLIENT, EV_DELIVERY, EV_REMOVED, EV_SENDER, Event, line_patterns, scan
from aliasdesk.postfix.maillog.tally import OTHER, Tally

__all__ = ["ADDRESS_FIELDS", "HOUR_FIELDS", "IN_FLIGHT_LIMIT", "TrafficCounter"]

HOUR_FIELDS = (
    "received", "delivered", "forwarded", "deferrals", "bounced", "rejected",
    "reject_warnings", "held", "discarded", "bytes_received", "bytes_delivered",
)
ADDRESS_FIELDS = ("received", "delivered", "deferred", "bounced")
_BYTES_RECEIVED, _BYTES_DELIVERED = HOUR_FIELDS.index("bytes_received"), HOUR_FIELDS.index("bytes_delivered")
IN_FLIGHT_LIMIT = 50_000
REASON_LIMIT = 200

# Timestamp up to the hour, then minutes and seconds, then the host.
_HEAD = re.compile(
    rb"((?:...) {1,2}\d{1,2} \d\d|\d{4}-\d\d-\d\dT\d\d):(\d\d):(\d\d)(?:\.\d+)?([+-]\d\d:\d\d|Z)? (\S+) "
)
_CLASSIC_HOUR = re.compile(rb"(...) {1,2}(\d{1,2}) (\d\d)")
_STATUS = re.compile(rb": ([0-9A-Za-z]+): to=<([^>]*)>, (?:orig_to=<([^>]*)>, )?.*? status=([a-z]+)")
_ADDRESS_STATUS = {b"sent": 1, b"deferred": 2, b"bounced": 3}
_REJECT_KINDS = {"reject": "rejected", "reject_warning": "reject_warning", "hold": "held", "discard": "discarded"}


class TrafficCounter:
    """Counts of the lines fed so far, keyed by hour (an aware UTC datetime, start of the hour).

    * ``hosts[(hour, host)]`` -- a list in :data:`HOUR_FIELDS` order;
    * ``reasons[(hour, host, kind, reason)]`` -- deferral, bounce and reject reasons
      (kind: deferred, bounced, rejected, reject_warning, held, discarded);
    * ``peers[(hour, host, direction, domain)]`` -- messages from sender domains
      (direction ``from``) and deliveries to recipient domains (``to``);
    * ``addresses[(hour, address)]`` -- a list in :data:`ADDRESS_FIELDS` order,
      addresses lower-cased; ``first_seen[address]`` and ``last_seen[address]`` the
      times of its first and last line.

    Classic syslog timestamps carry neither year nor zone: the year is inferred
    (see :class:`~aliasdesk.postfix.maillog.lines.YearGuesser`, ``reference`` is the
    log's mtime or now) and the time is read in ``tz`` (None: the system's zone).
    """

    def __init__(
        self,
        *,
        in_flight: Mapping[str, Any] | None = None,
        reference: float | None = None,
        tz: tzinfo | None = None,
        syslog_name: str = "postfix",
        in_flight_limit: int = IN_FLIGHT_LIMIT,
    ) -> None:
        self.hosts: dict[tuple[datetime, str], list[int]] = {}
        self.reasons: dict[tuple[datetime, str, str, str], int] = {}
        self.peers: dict[tuple[datetime, str, str, str], int] = {}
        self.addresses: dict[tuple[datetime, str], list[int]] = {}
        self.last_seen: dict[str, datetime] = {}
        self.first_seen: dict[str, datetime] = {}
        self.lines = 0
        self.unparsed = 0
        # "host qid" -> [size, [addresses counted as received], 1 when its client= line was seen]
        self._flight: dict[str, list[Any]] = dict(in_flight or {})  # the entries are taken over, not copied
        self._limit = in_flight_limit
        self._tz = tz
        self._years = YearGuesser(reference)
        self._patterns = line_patterns(syslog_name)
        self._hours: dict[tuple[bytes, bytes | None], datetime] = {}

    def in_flight(self) -> dict[str, list[Any]]:
        """The messages still in the queue at the end of the lines fed: give it to the next counter."""
        return self._flight

    def feed(self, lines: Iterable[bytes]) -> None:
        """Count lines of one log, in log order, newlines removed."""
        buckets: dict[tuple[bytes, bytes | None, bytes], list[bytes]] = {}
        head = _HEAD.match
        count = 0
        # Lines come in time order, mostly from one host: a line that starts with the
        # previous line's hour and has its " host " at the same place needs no match.
        prefix, tail, at = b"\n", b"", 0
        bucket: list[bytes] = []
        for line in lines:
            count += 1
            if line.startswith(prefix) and line.startswith(tail, at):
                bucket.append(line)
                continue
            m = head(line)
            if m is None:
                self.unparsed += 1
                continue
            key = (m.group(1), m.group(4), m.group(5))
            found = buckets.get(key)
            if found is None:
                found = buckets[key] = []
            bucket = found
            bucket.append(line)
            prefix = key[0]
            tail = (key[1] or b"") + b" " + key[2] + b" "
            at = m.end() - len(tail)
        self.lines += count
        for (stamp, offset, host), bucket in buckets.items():
            hour = self._hour(stamp, offset)
            if hour is not None:
                self._count(hour, host.decode("utf-8", "replace"), bucket)
            else:
                self.unparsed += len(bucket)

    def _hour(self, stamp: bytes, offset: bytes | None) -> datetime | None:
        hour = self._hours.get((stamp, offset))
        if hour is not None:
            return hour
        zone = self._tz
        try:
            if stamp[4:5] == b"-":
                local = datetime(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]))
                self._years.observe(local.year, local.month)
                if offset:  # RFC 3339 carries its own offset
                    zone = _zone(offset)
            else:
                m = _CLASSIC_HOUR.match(stamp)
                month = MONTHS.get(m.group(1), 0) if m else 0
                if not m or not month:
                    return None
                local = datetime(self._years.year(month), month, int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        hour = local.replace(tzinfo=zone) if zone is not None else local.astimezone()
        # A zone half an hour off UTC puts a local hour across two UTC hours: the first takes it.
        hour = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if len(self._hours) > 10_000:
            self._hours.clear()
        self._hours[(stamp, offset)] = hour
        return hour

    def _count(self, hour: datetime, host: str, lines: list[bytes]) -> None:
        tally = Tally()
        events: list[Event] = []
        scan(lines, tally, events, self._patterns)
        row = self.hosts.get((hour, host))
        if row is None:
            row = self.hosts[(hour, host)] = [0] * len(HOUR_FIELDS)
        for i, value in enumerate((tally.received, tally.delivered, tally.forwarded, tally.deferrals,
                                   tally.bounced, tally.rejected, tally.reject_warnings, tally.held,
                                   tally.discarded)):
            row[i] += value
        self._count_addresses(hour, host, lines)
        self._replay(hour, host, row, events)
        self._collect_reasons(hour, host, tally)
        for addr, stats in tally.recipients.items():
            if stats[0]:
                self._peer(hour, host, "to", addr, stats[0])

    def _count_addresses(self, hour: datetime, host: str, lines: list[bytes]) -> None:
        for line in lines:
            if b" status=" not in line:
                continue
            m = _STATUS.search(line)
            if m is None:
                continue
            qid, to, orig, status = m.groups()
            column = _ADDRESS_STATUS.get(status)
            if column is None:
                continue
            address = (orig or to).decode("utf-8", "replace").lower()
            if not address:
                continue
            row = self.addresses.get((hour, address))
            if row is None:
                row = self.addresses[(hour, address)] = [0, 0, 0, 0]
            row[column] += 1
            message = self._message(f"{host} {qid.decode('ascii', 'replace')}")
            if address not in message[1]:
                message[1].append(address)
                row[0] += 1
            head = _HEAD.match(line)
            if head is not None:
                seen = hour + timedelta(minutes=int(head.group(2)), seconds=int(head.group(3)))
                if address not in self.last_seen or seen > self.last_seen[address]:
                    self.last_seen[address] = seen
                if address not in self.first_seen or seen < self.first_seen[address]:
                    self.first_seen[address] = seen

    def _message(self, key: str) -> list[Any]:
        message = self._flight.get(key)
        if message is None:
            if len(self._flight) >= self._limit:
                del self._flight[next(iter(self._flight))]  # the oldest: its removal line was lost
            message = self._flight[key] = [0, [], 0]
        return message

    def _replay(self, hour: datetime, host: str, row: list[int], events: list[Event]) -> None:
        flight = self._flight
        for event in events:
            kind = event[0]
            if kind == EV_CLIENT:
                self._message(f"{host} {event[1].decode('ascii', 'replace')}")[2] = 1
            elif kind == EV_SENDER:
                message = self._message(f"{host} {event[1].decode('ascii', 'replace')}")
                if message[0]:
                    continue  # qmgr logs the sender again after a deferral
                message[0] = size = int(event[3]) if event[3].isdigit() else 0
                if message[2]:  # as pflogsumm: bytes of messages seen arriving, not of older ones
                    row[_BYTES_RECEIVED] += size
                    sender = event[2]
                    self._peer(hour, host, "from", b"" if sender == b"from=<>" else sender, 1)
            elif kind == EV_DELIVERY:
                known = flight.get(f"{host} {event[1].decode('ascii', 'replace')}")
                if known is not None:
                    row[_BYTES_DELIVERED] += known[0]
            elif kind == EV_REMOVED:
                flight.pop(f"{host} {event[1].decode('ascii', 'replace')}", None)

    def _peer(self, hour: datetime, host: str, direction: str, address: bytes, count: int) -> None:
        if address == OTHER:
            domain = "(other)"
        elif not address:
            domain = "<>"
        else:
            domain = lower_domain(address).rpartition(b"@")[2].decode("utf-8", "replace") or "(local)"
        key = (hour, host, direction, domain[:253])
        self.peers[key] = self.peers.get(key, 0) + count

    def _collect_reasons(self, hour: datetime, host: str, tally: Tally) -> None:
        detail = tally.detail
        for kind in ("deferred", "bounced"):
            for by_reason in detail[kind].values():
                for reason, count in by_reason.items():
                    self._reason(hour, host, kind, reason, count)
        for name, kind in _REJECT_KINDS.items():
            for stage, by_reason in detail[name].items():
                for reason, by_who in by_reason.items():
                    if stage == b"cleanup":  # cleanup keys: where (header, body) -> the text
                        for text, count in by_who.items():
                            self._reason(hour, host, kind, reason + b" " + text, count)
                    else:
                        self._reason(hour, host, kind, reason, sum(_leaves(by_who)))

    def _reason(self, hour: datetime, host: str, kind: str, reason: bytes, count: int) -> None:
        text = reason.decode("utf-8", "replace").strip()[:REASON_LIMIT] or "(no reason logged)"
        key = (hour, host, kind, text)
        self.reasons[key] = self.reasons.get(key, 0) + count


def _zone(offset: bytes) -> tzinfo:
    if offset == b"Z":
        return UTC
    sign = -1 if offset[:1] == b"-" else 1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))


def _leaves(node: Any) -> Iterable[int]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    else:
        yield node
