"""Present a :class:`~aliasdesk.postfix.maillog.summary.LogSummary`: pflogsumm's text report, and JSON lists.

The text is pflogsumm's layout, section for section: Grand Totals (byte for
byte the same), per-day and per-hour traffic, host/domain summaries, top
senders and recipients, then the problem details. ``top`` limits every list (0
lists everything, as pflogsumm does by default). A last section lists what
pflogsumm counts wrong, when anything is.
"""

from __future__ import annotations

from typing import Any

from aliasdesk.postfix.maillog.detail import host_sort_key
from aliasdesk.postfix.maillog.summary import HOURLY, LogSummary

__all__ = ["as_dict", "lists_as_dict", "render_text"]

_MONTH_NAMES = b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DETAIL_TITLES = (
    ("deferred", b"message deferral detail"),
    ("bounced", b"message bounce detail (by relay)"),
    ("reject", b"message reject detail"),
    ("reject_warning", b"message reject warning detail"),
    ("hold", b"message hold detail"),
    ("discard", b"message discard detail"),
    ("smtp", b"smtp delivery failures"),
    ("warning", b"Warnings"),
)


def _units(value: float) -> tuple[int, bytes]:
    if value > 536870912:
        return int(value / 1048576), b"m"
    if value > 524288:
        return int(value / 1024), b"k"
    return int(value), b" "


def _time_units(value: float) -> tuple[float, bytes]:
    if value > 3600:
        return value / 3600, b"h"
    if value > 60:
        return value / 60, b"m"
    return value, b"s"


def _title(text: bytes) -> bytes:
    return b"\n" + text + b"\n" + b"-" * len(text) + b"\n"


def _ranked(table: dict[bytes, Any], count: Any = lambda v: v) -> list[bytes]:
    """Keys by count, highest first, then in pflogsumm's host order."""
    return sorted(table, key=lambda k: (-count(table[k]), host_sort_key(k), k))


def _limit(items: list[Any], top: int) -> list[Any]:
    return items[:top] if top > 0 else items


def render_text(summary: LogSummary, top: int = 10) -> bytes:
    out: list[bytes] = []
    w = out.append
    _grand_totals(w, summary)
    _traffic_summaries(w, summary)
    _host_summaries(w, summary, top)
    _top_addresses(w, summary, top)
    _details(w, summary, top)
    _corrections(w, summary)
    return b"".join(out)


def _grand_totals(w: Any, summary: LogSummary) -> None:
    totals = summary.totals
    rejected_pct, discarded_pct = summary.rejected_percent()
    w(_title(b"Grand Totals") + b"messages\n\n")
    for name in ("received", "delivered", "forwarded"):
        w(b" %6d%s  %s\n" % (*_units(totals[name]), name.encode()))
    w(b" %6d%s  deferred" % _units(totals["deferred"]))
    if totals["deferrals"]:
        w(b"  (%d%s deferrals)" % _units(totals["deferrals"]))
    w(b"\n %6d%s  bounced\n" % _units(totals["bounced"]))
    w(b" %6d%s  rejected (%d%%)\n" % (*_units(totals["rejected"]), rejected_pct))
    w(b" %6d%s  reject warnings\n" % _units(totals["reject_warnings"]))
    w(b" %6d%s  held\n" % _units(totals["held"]))
    w(b" %6d%s  discarded (%d%%)\n\n" % (*_units(totals["discarded"]), discarded_pct))
    for name, label in (
        ("bytes_received", b"bytes received"),
        ("bytes_delivered", b"bytes delivered"),
        ("senders", b"senders"),
        ("sending_hosts", b"sending hosts/domains"),
        ("recipients", b"recipients"),
        ("recipient_hosts", b"recipient hosts/domains"),
    ):
        w(b" %6d%s  %s\n" % (*_units(totals[name]), label))
    w(b"\n")


def _traffic_summaries(w: Any, summary: LogSummary) -> None:
    """Per-day (when the log spans days) and per-hour traffic."""
    t = summary.tally
    days = summary.day_changes
    heading = b"    %s          received  delivered   deferred    bounced     rejected\n    " + b"-" * 68 + b"\n"
    if days > 1:
        w(_title(b"Per-Day Traffic Summary") + heading % b"date")
        for (year, month, day), counts in summary.daily():
            w(b"    %s %2d %d" % (_MONTH_NAMES[(month - 1) % 12], day, year))
            while counts and not counts[-1]:  # pflogsumm prints a day's columns up to its last non-zero one
                counts = counts[:-1]
            w(b"".join(b"    %6d%s" % _units(value) for value in counts) + b"\n")
    w(_title(b"Per-Hour Traffic " + (b"Daily Average" if days > 1 else b"Summary")) + heading % b"time")
    for hour in range(24):
        w(b"    %02d00-%02d00  " % (hour, hour + 1))
        for row in t.hours:
            value: float = row[hour]
            if days:
                value = value / days + 0.5
            w(b"    %6d%s" % _units(value))
        w(b"\n")


def _host_summaries(w: Any, summary: LogSummary, top: int) -> None:
    q = summary.tracker
    topcnt = b" (top %d)" % top if top > 0 else b" "
    domains = summary.recipient_domains()
    w(_title(b"Host/Domain Summary: Message Delivery" + topcnt))
    w(b" sent cnt  bytes   defers   avg dly max dly host/domain\n")
    w(b" -------- -------  -------  ------- ------- -----------\n")
    for dom in _limit(sorted(domains, key=lambda d: (-domains[d][0], -domains[d][4], d)), top):
        sent, defers, delay_sum, delay_max, size = domains[dom]
        w(b" %6d%s  %6d%s  %6d%s  %5.1f %s  %5.1f %s  %s\n" % (
            *_units(sent), *_units(size), *_units(defers),
            *_time_units(delay_sum / sent if sent else 0.0), *_time_units(delay_max), dom))
    senders = q.sending_domains
    w(_title(b"Host/Domain Summary: Messages Received" + topcnt))
    w(b" msg cnt   bytes   host/domain\n -------- -------  -----------\n")
    for dom in _limit(sorted(senders, key=lambda d: (-senders[d][0], -senders[d][1], d)), top):
        w(b" %6d%s  %6d%s  %s\n" % (*_units(senders[dom][0]), *_units(senders[dom][1]), dom))


def _top_addresses(w: Any, summary: LogSummary, top: int) -> None:
    """Senders and recipients by count and by size, then messages without a size."""
    t, q = summary.tally, summary.tracker
    recipients = {addr: (stats[0], q.recipient_bytes.get(addr, 0)) for addr, stats in t.recipients.items() if stats[0]}
    for index, by in ((0, b"count"), (1, b"size")):
        for table, what in ((q.senders, b"Senders"), (recipients, b"Recipients")):
            title = (b"top %d " % top if top > 0 else b"") + what + b" by message " + by
            if not table:
                w(b"\n" + title + b": none\n")
                continue
            w(b"\n" + title + b"\n" + b"-" * len(title) + b"\n")
            for key in _limit(_ranked(table, lambda v, i=index: v[i]), top):
                w(b" %6d%s  %s\n" % (*_units(table[key][index]), key))
    if q.no_size:
        title = b"Messages with no size data"
        w(b"\n" + title + b"\n" + b"-" * len(title) + b"\n")
        for qid in _limit(sorted(q.no_size), top):
            w(b" %s  %s\n" % (qid, q.no_size[qid]))


def _details(w: Any, summary: LogSummary, top: int) -> None:
    t = summary.tally
    for name, title in _DETAIL_TITLES:
        _nested(w, t.detail[name], title, top)
    _nested(w, t.detail["fatal"], b"Fatal Errors", 0)
    _nested(w, t.detail["panic"], b"Panics", 0)
    master = t.detail["master"]
    w(b"\nMaster daemon messages" + (b"\n" + b"-" * 22 if master else b": none") + b"\n")
    for key in _ranked(master):
        w(b" %6d%s  %s\n" % (*_units(master[key]), key))


def _nested(w: Any, table: dict[bytes, Any], title: bytes, top: int, level: int = 0) -> None:
    if level == 0:
        w(b"\n" + title + (b"\n" + b"-" * len(title) if table else b": none") + b"\n")
    indent = b" " * (level + 2)
    if table and isinstance(next(iter(table.values())), dict):
        for key in sorted(table):
            child = table[key]
            w(indent + key)
            if not isinstance(next(iter(child.values()), 0), dict):
                if top > 0:
                    w(b" (top %d)" % top)
                w(b" (total: %d)" % sum(child.values()))
            w(b"\n")
            _nested(w, child, title, top, level + 2)
    else:
        for key in _limit(_ranked(table), top):
            w(indent + b"%6d%s  %s\n" % (*_units(table[key]), key))


def _corrections(w: Any, summary: LogSummary) -> None:
    totals, corrected, notes = summary.totals, summary.corrected(), summary.notes()
    wrong = {name: value for name, value in corrected.items() if value != totals[name]}
    if not wrong:
        return
    w(_title(b"Counted correctly (pflogsumm differs)"))
    for name, value in wrong.items():
        w(b" %6d%s  %s (pflogsumm: %d)\n" % (*_units(value), name.replace("_", " ").encode(), totals[name]))
    for name, value in notes.items():
        if value:
            w(b"   %d %s\n" % (value, name.replace("_", " ").encode()))


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def _flatten(table: dict[bytes, Any], names: tuple[str, ...], top: int) -> list[dict[str, Any]]:
    """Nested count tables as rows, the biggest first; the innermost level is summed away."""
    rows: list[dict[str, Any]] = []

    def walk(node: dict[bytes, Any], path: tuple[str, ...]) -> int:
        total = 0
        for key, value in node.items():
            here = (*path, _text(key))
            count = walk(value, here) if isinstance(value, dict) else value
            if len(here) == len(names):
                rows.append({**dict(zip(names, here, strict=True)), "count": count})
            total += count
        return total

    walk(table, ())
    rows.sort(key=lambda row: (-row["count"], *(row[n] for n in names)))
    return _limit(rows, top)


def lists_as_dict(summary: LogSummary, top: int = 10) -> dict[str, Any]:
    """Top lists and problem reasons for the JSON document."""
    t, q = summary.tally, summary.tracker
    detail = t.detail
    domains = summary.recipient_domains()
    recipients = {addr: stats[0] for addr, stats in t.recipients.items() if stats[0]}
    return {
        "top_senders": [
            {"address": _text(a), "messages": q.senders[a][0], "bytes": q.senders[a][1]}
            for a in _limit(_ranked(q.senders, lambda v: v[0]), top)
        ],
        "top_recipients": [
            {"address": _text(a), "messages": recipients[a], "bytes": q.recipient_bytes.get(a, 0)}
            for a in _limit(_ranked(recipients), top)
        ],
        "top_sending_domains": [
            {"domain": _text(d), "messages": q.sending_domains[d][0], "bytes": q.sending_domains[d][1]}
            for d in _limit(_ranked(q.sending_domains, lambda v: v[0]), top)
        ],
        "top_recipient_domains": [
            {
                "domain": _text(d),
                "messages": int(domains[d][0]),
                "bytes": domains[d][4],
                "deferrals": int(domains[d][1]),
                "avg_delay": round(domains[d][2] / domains[d][0], 3) if domains[d][0] else 0.0,
                "max_delay": domains[d][3],
            }
            for d in _limit(sorted(domains, key=lambda d: (-domains[d][0], -domains[d][4], d)), top)
        ],
        "deferral_reasons": _flatten(detail["deferred"], ("daemon", "reason"), top),
        "bounce_reasons": _flatten(detail["bounced"], ("relay", "reason"), top),
        "reject_reasons": [
            {"kind": kind, **row}
            for kind in ("reject", "reject_warning", "hold", "discard")
            for row in _flatten(detail[kind], ("stage", "reason"), top)
        ],
        "smtp_failures": _flatten(detail["smtp"], ("reason", "host"), top),
        "warnings": _flatten(detail["warning"], ("daemon", "message"), top),
        "fatal_errors": _flatten(detail["fatal"], ("daemon", "message"), 0),
        "panics": _flatten(detail["panic"], ("daemon", "message"), 0),
        "master_messages": _flatten(detail["master"], ("message",), 0),
    }


def as_dict(summary: LogSummary, top: int = 10) -> dict[str, Any]:
    """The JSON document of ``aliasdesk logstats --json``."""
    rejected_pct, discarded_pct = summary.rejected_percent()
    return {
        "totals": summary.totals,
        "per_hour": summary.hourly(),
        "per_day": [
            {"date": f"{y:04d}-{m:02d}-{d:02d}", **dict(zip(HOURLY, counts, strict=True))}
            for (y, m, d), counts in summary.daily()
        ],
        "rejected_percent": rejected_pct,
        "discarded_percent": discarded_pct,
        "days": len(list(summary.daily())),
        "pflogsumm_day_count": summary.day_changes,
        **lists_as_dict(summary, top),
        "corrected": summary.corrected(),
        "notes": summary.notes(),
        "lines": summary.lines(),
    }
