"""One pass over mail-log lines: what pflogsumm counts, line by line.

:func:`scan` reads lines exactly as pflogsumm 1.1.5 does (the same line grammar,
the same order of tests, the same text it keys on) and splits the work in two:

* everything a line says on its own -- a delivery, a deferral, a reject, its
  hour and day -- goes into a :class:`~aliasdesk.postfix.maillog.tally.Tally`,
  which any number of independently scanned pieces of a log can be summed into;
* what depends on earlier lines of the same message (its size, where it came
  from, whether it was deferred before) becomes a small event tuple for
  :class:`~aliasdesk.postfix.maillog.queue.MessageTracker`, which replays them in
  log order.

That split lets a big file be scanned by several processes while the totals
stay exactly those of one sequential pass.
"""

from __future__ import annotations

import re
from typing import Any

from aliasdesk.postfix.maillog.detail import CLIENT_DOMAINS, client_domain, lower_domain
from aliasdesk.postfix.maillog.lines import STAMP_AND_HOST
from aliasdesk.postfix.maillog.tally import DELAYS, Tally, bump, number

__all__ = ["EV_CLIENT", "EV_DEFERRAL", "EV_DELIVERY", "EV_REMOVED", "EV_SENDER", "Event", "line_patterns", "scan"]

EV_CLIENT, EV_SENDER, EV_DELIVERY, EV_DEFERRAL, EV_REMOVED = range(5)
Event = tuple[Any, ...]

# Groups 1-3 classic stamp (month, day, hour), 4-7 RFC 3339 stamp (year, month,
# day, hour), 8 the text after the host, 10 pflogsumm's "command" (daemon),
# 12 its "queue id" (the first word after ": "); 9, 11, 13 and 14: see line_patterns.
CMD, QID, QUIET, REMOVED = 10, 12, 13, 14
_SCRIPT = re.compile(STAMP_AND_HOST + rb"(((?!))?(postfix(?:-script)?)(?:\[\d+\])?: ((?!))?([^:\s]+))")
_SOLARIS_ID = re.compile(rb": \[ID \d+ [^\]]+\] ")

_CLIENT = re.compile(rb"\[\d+\]: \w+: client=(.+?)(?:,|$)")
_SMTPD_REJECT = re.compile(rb"\[\d+\]: \w+: (reject(?:_warning)?|hold|discard): ")
_CLEANUP = re.compile(
    rb"/cleanup\[\d+\]: .*?\b((?:milter-)?reject|warning|hold|discard): (header|body|END-OF-MESSAGE) (.*)$"
)
_SENDER = re.compile(rb"from=<([^>]*)>, size=(\d+)")
_DELIVERY = re.compile(
    rb"to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), (?:conn_use=[^,]+, )?delay=([^,]+), "
    rb"(?:delays=[^,]+, )?(?:dsn=[^,]+, )?status=(\S+)(.*)$"
)
_PICKUP = re.compile(rb": (?:sender|uid)=")
_MASTER = re.compile(rb".*master.*: ")

_SPECIAL = frozenset((b"warning", b"fatal", b"panic", b"reject", b"reject_warning", b"hold", b"discard"))
_REMOVED = (b": removed", b": removed\r")
_NOTABLE = frozenset((b"smtpd", b"postscreen", b"cleanup", b"master"))


def line_patterns(syslog_name: str = "postfix") -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """pflogsumm's line grammar: stamp, host, ``postfix[/smtps|/submission]/DAEMON...: WORD``.

    Two patterns with the same groups: a quick one that assumes the first ":"
    after the daemon name ends the program part (true of every well-formed
    line), and pflogsumm's exact one for the lines where it does not.

    The quick one also sorts out "quiet" lines, where the word is followed by
    text with neither "=" nor ":" (``connect from host[ip]``...) or by just
    ``: message-id=<id>`` (an id without ":", ">" or blanks) -- group 13 -- or
    by just ``: removed`` -- group 14. No test pflogsumm makes after the first
    word can match such a line, so the scan skips it. Two exceptions are ruled
    out in the pattern itself: daemon ``master`` (group 9 marks it) and a
    first word pflogsumm looks at (``warning``, ``reject``..., group 11).
    """
    names = b"postfix"
    if syslog_name != "postfix":
        names = b"(?:postfix|" + re.escape(syslog_name.encode()) + b")"
    program = b"(" + names + rb"(?:/(?:smtps|submission))?/"
    special = rb"(?:warning|fatal|panic|reject|reject_warning|hold|discard)(?:[:\s]|$)"
    quiet = rb"(?:(?(9)(?!)|(?(11)(?!)|(?:( [^=:]*+|: message-id=<[^>:\s]*+>\r?)|(: removed\r?))$)))?"
    return (
        re.compile(
            STAMP_AND_HOST + program + rb"(?:(?=master[\[:])())?([^\[:]*)[^:]*: (?:(?=" + special + rb")())?([^:\s]+))"
            + quiet
        ),
        re.compile(STAMP_AND_HOST + program + rb"((?!))?([^\[:]*).*?: ((?!))?([^:\s]+))"),
    )


_lowered: dict[bytes, bytes] = {}


def _lower(addr: bytes) -> bytes:
    if len(_lowered) > 50_000:
        _lowered.clear()
    value = _lowered[addr] = lower_domain(addr)
    return value


def _cleanup_reject(t: Tally, line: bytes, pos: int) -> bool:
    if b": header " in line or b": body " in line or b": END-OF-MESSAGE " in line:
        c = _CLEANUP.search(line, pos)
        if c is not None:
            t.cleanup_reject(*c.groups())
            return True
    return False


def scan(  # noqa: C901 (the hot loop, in pflogsumm's order of tests; a call per branch costs more than the branch)
    lines: list[bytes], t: Tally, events: list[Event], patterns: tuple[re.Pattern[bytes], ...]
) -> None:
    """Count ``lines`` (one log's, in order, newlines removed) into ``t`` and ``events``.

    ``patterns`` comes from :func:`line_patterns`. The tests run in pflogsumm's
    order. This is the hot loop: every operation per line costs about a tenth
    of a microsecond, so it trades some repetition for fewer of them.
    """
    quick, exact = patterns[0].match, patterns[1].match
    script = _SCRIPT.match
    append = events.append
    client_search, reject_search, delivery_search, sender_search = (
        _CLIENT.search, _SMTPD_REJECT.search, _DELIVERY.search, _SENDER.search
    )
    recipients = t.recipients
    h_rcv, h_dlv, h_dfr, h_bnc, h_rej = t.hours
    lowered, seconds, origins = _lowered, DELAYS, CLIENT_DOMAINS
    special, notable = _SPECIAL, _NOTABLE
    forwarded = 0
    skipped = t.unparsed_lines + t.other_lines + t.skipped_postfix_lines
    if b": [ID " in b"".join(lines):
        lines = [_SOLARIS_ID.sub(b": ", line, count=1) for line in lines]
    last_key = b"\n"
    hour = 0
    row: list[int] = []
    for line in lines:
        m = quick(line) or exact(line) or script(line)
        if m is None:
            t.skip(line)
            continue
        if not line.startswith(last_key):
            hour, row, width = t.clock(m)
            last_key = line[:width]
        last = m.lastindex
        if last == QUIET:
            continue
        if last == REMOVED:
            append((EV_REMOVED, m.group(QID)))
            continue
        cmd, qid = m.group(CMD, QID)
        if qid in special:
            if (cmd == b"cleanup" and _cleanup_reject(t, line, m.start(8))) or t.special(cmd, qid, line[m.start(8) :]):
                h_rej[hour] += 1
                row[4] += 1
            continue
        pos = m.start(8)
        if cmd in notable:
            if cmd == b"smtpd" or cmd == b"postscreen":
                if b"client=" in line and (c := client_search(line, pos)) is not None:
                    h_rcv[hour] += 1
                    row[0] += 1
                    client = c.group(1)
                    origin = origins[client] if client in origins else client_domain(client)
                    append((EV_CLIENT, qid, origin))
                elif b"reject" in line or b"hold: " in line or b"discard: " in line:
                    r = reject_search(line, pos)
                    if r is not None:
                        t.smtpd_reject(r.group(1), line[pos:])
                        h_rej[hour] += 1
                        row[4] += 1
                    elif b": milter-reject: " in line:
                        t.smtpd_milter_rejects += 1
                continue
            if cmd == b"master":
                master = _MASTER.match(line, pos)
                bump(t.detail["master"], line[master.end() :] if master else b"")
                continue
            if _cleanup_reject(t, line, pos):
                h_rej[hour] += 1
                row[4] += 1
                continue
        if (
            b"to=<" in line
            and (b"from=<" not in line or sender_search(line, pos) is None)
            and (d := delivery_search(line, pos)) is not None
        ):
            addr, relay, delay, status, rest = d.groups()
            addr = lowered.get(addr) or _lower(addr)
            if status == b"sent":
                if b"forwarded as " in rest:
                    forwarded += 1
                    continue
                h_dlv[hour] += 1
                row[1] += 1
                took = seconds[delay] if delay in seconds else number(delay)
                stats = recipients.get(addr)
                if stats is None:
                    recipients[addr] = [1, 0, took, took]
                else:
                    stats[0] += 1
                    stats[2] += took
                    if took > stats[3]:
                        stats[3] = took
                append((EV_DELIVERY, qid, addr))
                if cmd == b"discard":
                    t.discard_deliveries += 1
            elif status == b"deferred":
                t.deferral(cmd, line[pos:], addr, delay)
                h_dfr[hour] += 1
                row[2] += 1
                append((EV_DEFERRAL, qid))
            elif status == b"bounced":
                t.bounce(relay, line[pos:])
                h_bnc[hour] += 1
                row[3] += 1
        elif b"from=<" in line and (f := sender_search(line, pos)) is not None:
            sender, size = f.groups()
            sender = (lowered.get(sender) or _lower(sender)) if sender else b"from=<>"
            append((EV_SENDER, qid, sender, size))
        elif cmd == b"pickup" and _PICKUP.search(line, pos):
            h_rcv[hour] += 1
            row[0] += 1
            append((EV_CLIENT, qid, b"pickup"))
        elif cmd == b"smtp":
            if b" connect to " in line:
                t.smtp_failure(line[pos:])
        elif line.endswith(_REMOVED):
            append((EV_REMOVED, qid))
        elif b"status=expired" in line:
            t.expired += 1
        elif b"/" in cmd:  # smtpd under a service name pflogsumm does not know
            if client_search(line, pos):
                t.other_smtpd_received += 1
            elif reject_search(line, pos):
                t.other_smtpd_rejected += 1
    t.lines += len(lines)
    t.postfix_lines += len(lines) - (t.unparsed_lines + t.other_lines + t.skipped_postfix_lines - skipped)
    t.forwarded += forwarded
