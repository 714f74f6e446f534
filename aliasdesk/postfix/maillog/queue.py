"""What a mail log says about each message across lines: its size, origin and deferrals.

pflogsumm keeps three tables keyed by queue id for the whole run and never
forgets an entry. :class:`MessageTracker` keeps the same facts but in bounded
memory: a message's entry moves to a fixed-size "finished" memory when Postfix
logs ``QUEUEID: removed`` (or when more than ``memory`` messages are in flight,
the least recently busy one), and the oldest entries fall out of that memory
first. Within that memory the results equal pflogsumm's, including its handling
of a queue id that Postfix reuses for a new message (short queue ids come from
inode numbers, so reuse happens; see ``reused`` below). At the default of
20,000 messages each, the tracker stays under about 8 MB.
"""

from __future__ import annotations

from collections import OrderedDict

from aliasdesk.postfix.maillog.scan import EV_CLIENT, EV_DEFERRAL, EV_DELIVERY, EV_REMOVED, EV_SENDER, Event

__all__ = ["MessageTracker"]

QUEUE_MEMORY = 20_000
NO_SIZE_SAMPLE = 5000


class _Message:
    __slots__ = ("client", "deferred", "fresh", "origin", "removed", "size", "sized")

    def __init__(self) -> None:
        self.size = 0
        self.sized = False  # pflogsumm's test: a size was logged and it is not "0"
        self.origin: bytes | None = None  # client domain or b"pickup" while the sender line is pending
        self.client = False  # a client=/pickup line was seen (even when its origin is unusable)
        self.deferred = False
        # For a queue id reused after "removed": the new message as it really is.
        self.fresh: _Message | None = None
        self.removed = False


def _truthy(value: bytes | None) -> bool:
    """Perl truth of a string: defined, not empty, not "0"."""
    return bool(value) and value != b"0"


class MessageTracker:
    """Replays per-message events (see :mod:`~aliasdesk.postfix.maillog.scan`) into pflogsumm's totals.

    Totals exactly as pflogsumm counts them: ``deferred`` (messages deferred at
    least once), ``bytes_received``, ``bytes_delivered``, ``senders`` and
    ``sending_domains`` (address/host -> [messages, bytes]).

    pflogsumm is wrong in two cases; the ``fixed_*`` counters say by how much:

    * A queue id reused after ``removed`` is, to pflogsumm, the earlier message:
      the new message's size, sender and first deferral are not counted and its
      deliveries are charged the old size. ``reused`` counts such ids.
    * A message whose client text pflogsumm cannot parse (for example an IPv6
      client in a log with CRLF line ends) counts as received, but its size and
      sender are never counted. ``originless`` counts such messages.
    """

    def __init__(self, memory: int = QUEUE_MEMORY) -> None:
        self.memory = memory
        # Oldest first. (A plain dict would do, but finding its first entry after
        # many deletions at the front takes time proportional to the deletions.)
        self.active: OrderedDict[bytes, _Message] = OrderedDict()
        self.finished: OrderedDict[bytes, _Message] = OrderedDict()
        self.deferred = 0
        self.bytes_received = 0
        self.bytes_delivered = 0
        self.senders: dict[bytes, list[int]] = {}
        self.sending_domains: dict[bytes, list[int]] = {}
        self.recipient_bytes: dict[bytes, int] = {}
        self.no_size: dict[bytes, bytes] = {}
        self.no_size_deliveries = 0
        self.reused = 0
        self.originless = 0
        self.fixed_deferred = 0
        self.fixed_bytes_received = 0
        self.fixed_bytes_delivered = 0
        self.extra_senders: set[bytes] = set()
        self.extra_sending_domains: set[bytes] = set()

    def replay(self, events: list[Event]) -> None:  # noqa: C901 (one branch per event kind, hot loop)
        active, finished = self.active, self.finished
        sizes = self.recipient_bytes
        delivered_bytes = 0
        for event in events:
            kind = event[0]
            qid = event[1]
            msg = active.get(qid)
            if kind == EV_DELIVERY:
                if msg is not None and msg.sized and msg.fresh is None:
                    size = msg.size
                    delivered_bytes += size
                    addr = event[2]
                    sizes[addr] = sizes.get(addr, 0) + size
                else:
                    self._delivery(msg if msg is not None or qid not in finished else self._revive(qid), qid, event[2])
                continue
            if kind == EV_REMOVED:
                if msg is not None:
                    msg.removed = True
                    self._retire(qid)
                continue
            if msg is None:
                msg = self._revive(qid) if qid in finished else None
                if msg is None:
                    msg = active[qid] = _Message()
                    if len(active) > self.memory:
                        self._retire(next(iter(active)))
            if kind == EV_CLIENT:
                msg.origin = event[2]
                msg.client = True
                if msg.fresh is not None:
                    msg.fresh.origin = event[2]
                    msg.fresh.client = True
            elif kind == EV_SENDER:
                self._sender(msg, event[2], event[3])
                active.move_to_end(qid)  # the most recently busy messages last
            elif kind == EV_DEFERRAL:
                fresh = msg.fresh
                if not msg.deferred:
                    msg.deferred = True
                    self.deferred += 1
                elif fresh is not None and not fresh.deferred:
                    self.fixed_deferred += 1
                if fresh is not None:
                    fresh.deferred = True
                active.move_to_end(qid)
        self.bytes_delivered += delivered_bytes

    def _revive(self, qid: bytes) -> _Message | None:
        msg = self.finished.pop(qid, None)
        if msg is not None:
            if msg.removed:
                self.reused += 1
                msg.fresh = _Message()
                msg.removed = False
            self.active[qid] = msg
        return msg

    def _retire(self, qid: bytes) -> None:
        msg = self.active.pop(qid)
        msg.fresh = None
        finished = self.finished
        finished[qid] = msg
        if len(finished) > self.memory:
            finished.popitem(last=False)

    def _sender(self, msg: _Message, addr: bytes, size_text: bytes) -> None:
        fresh = msg.fresh
        if msg.sized:  # pflogsumm: "avoid double-counting!"
            if fresh is not None and not fresh.sized:
                fresh.size, fresh.sized = int(size_text), size_text != b"0"
                if fresh.client:
                    self._count_fixed_sender(addr, fresh.origin, fresh.size)
                    fresh.origin = None
            return
        size = int(size_text)
        msg.size, msg.sized = size, size_text != b"0"
        if fresh is not None:
            fresh.size, fresh.sized = msg.size, msg.sized
        origin = msg.origin
        if _truthy(origin):
            at = addr.find(b"@")
            if 0 < at < len(addr) - 1:
                domain = addr[at + 1 :]
            elif origin == b"pickup":
                domain = addr
            else:
                domain = origin  # type: ignore[assignment]
            entry = self.senders.get(addr)
            if entry is None:
                entry = self.senders[addr] = [0, 0]
            entry[0] += 1
            entry[1] += size
            entry = self.sending_domains.get(domain)
            if entry is None:
                entry = self.sending_domains[domain] = [0, 0]
            entry[0] += 1
            entry[1] += size
            self.bytes_received += size
            msg.origin = None
        elif msg.client:
            self.originless += 1
            self._count_fixed_sender(addr, origin, size)
        msg.client = False

    def _count_fixed_sender(self, addr: bytes, origin: bytes | None, size: int) -> None:
        self.fixed_bytes_received += size
        at = addr.find(b"@")
        domain = addr[at + 1 :] if 0 < at < len(addr) - 1 else (origin if _truthy(origin) else addr)
        self.extra_senders.add(addr)
        self.extra_sending_domains.add(domain or addr)

    def _delivery(self, msg: _Message | None, qid: bytes, addr: bytes) -> None:
        if msg is not None and msg.sized:
            size = msg.size
            self.bytes_delivered += size
            self.recipient_bytes[addr] = self.recipient_bytes.get(addr, 0) + size
        else:
            size = 0
            self.no_size_deliveries += 1
            if len(self.no_size) < NO_SIZE_SAMPLE or qid in self.no_size:
                self.no_size[qid] = addr
        if msg is not None and msg.fresh is not None:
            fresh = msg.fresh
            self.fixed_bytes_delivered += (fresh.size if fresh.sized else 0) - size

    @property
    def fixed_senders(self) -> int:
        return len(self.senders) + len(self.extra_senders.difference(self.senders))

    @property
    def fixed_sending_domains(self) -> int:
        return len(self.sending_domains) + len(self.extra_sending_domains.difference(self.sending_domains))
