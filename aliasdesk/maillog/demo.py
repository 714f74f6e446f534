"""A month of made-up Postfix log for the demo, so the traffic pages have something to show.

:func:`write_demo_log` writes what a mail host ``mx1`` serving virtual aliases
would log: mail arriving over SMTP for the aliases and handed on to their
destinations, with office-hours and weekday rhythm, deferrals that are retried,
destinations that bounce (with the notification back to the sender), rejects
by smtpd, and the machine's own cron mail. The lines are written as Postfix 3
writes them, so ingestion and ``logstats`` read them as they read a real log;
IPs are from the documentation ranges. Some aliases get no mail at all, so the
unused-alias report has content.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from aliasdesk.aliases.models import Alias
from aliasdesk.maillog.ingest import IngestReport, ingest_log
from aliasdesk.maillog.models import LogSource

__all__ = ["DEMO_HOST", "load_demo_traffic", "write_demo_log"]

DEMO_HOST = "mx1"
DEMO_LOG = "demo-mail.log"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Share of a day's mail in each local hour: quiet nights, busy office hours.
_HOURLY = [2, 1.5, 1, 1, 1, 2, 4, 8, 14, 18, 19, 18, 15, 17, 18, 17, 15, 12, 9, 7, 6, 5, 4, 3]
_ROLES = ("info", "sales", "support", "billing", "jobs", "press", "office", "team", "hello", "contact")
_SENDERS = [  # address, client, IP, weight
    ("anna.kowalski@gmail.com", "mail-wm1-f49.google.com", "198.51.100.49", 30),
    ("j.smith@outlook.com", "mail-db8eur05on2070.outbound.protection.outlook.com", "198.51.100.70", 20),
    ("orders@shop.example", "mta2.shop.example", "203.0.113.12", 10),
    ("newsletter@news.shop.example", "bulk1.news.shop.example", "203.0.113.13", 15),
    ("noreply@tickets.example.net", "out.tickets.example.net", "203.0.113.40", 8),
    ("invoices@billing.example.org", "smtp.billing.example.org", "192.0.2.81", 5),
    ("m.garcia@partner.example.net", "mail.partner.example.net", "192.0.2.90", 6),
    ("hr@recruit.example", "relay.recruit.example", "192.0.2.66", 3),
    ("press@media.example", "mx.media.example", "203.0.113.77", 2),
    ("lars.eriksen@web.example", "mout.web.example", "198.51.100.120", 8),
]
_SPAM_CLIENTS = [("unknown", "203.0.113.201"), ("dsl-45-12.example.ru", "192.0.2.199"), ("unknown", "198.51.100.250")]
_REJECTS = [
    ("554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; "
     "https://www.spamhaus.org/query/ip/{ip}", 5),
    ("550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual alias table", 4),
    ("450 4.7.1 <{helo}>: Helo command rejected: Host not found", 2),
    ("504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", 1),
]
_DEFERRALS = [
    "connect to mx.{domain}[{ip}]:25: Connection timed out",
    "host mx.{domain}[{ip}] said: 451 4.7.1 Greylisting in action, please come back later "
    "(in reply to RCPT TO command)",
    "host mx.{domain}[{ip}] said: 452 4.2.2 <{to}>: Mailbox full (in reply to RCPT TO command)",
]


def _secs(span: timedelta | float) -> str:
    """Seconds as Postfix logs a delay: 0, two significant digits below 10, whole seconds above."""
    value = span.total_seconds() if isinstance(span, timedelta) else span
    if value < 0.005:
        return "0"
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


class _Log:
    """Lines with their time, sorted on writing; nothing after ``now`` is kept."""

    def __init__(self, tz: tzinfo, now: datetime) -> None:
        self.tz, self.now = tz, now
        self.lines: list[tuple[datetime, int, str]] = []

    def add(self, when: datetime, program: str, text: str) -> None:
        if when <= self.now:  # times are UTC; the log shows them in its zone
            local = when.astimezone(self.tz)
            stamp = f"{_MONTHS[local.month - 1]} {local.day:>2} {local:%H:%M:%S}"
            self.lines.append((when, len(self.lines), f"{stamp} {DEMO_HOST} postfix/{program}: {text}"))


class _Generator:
    def __init__(self, log: _Log, rng: random.Random, keys: Sequence[str],
                 destinations: Mapping[str, Sequence[str]]) -> None:
        self.log, self.rng = log, rng
        shuffled = list(keys)
        rng.shuffle(shuffled)
        self.used = shuffled[: max(1, len(shuffled) * 7 // 10)] if shuffled else []  # the rest get no mail
        self.weights = [(6.0 if k.split("@")[0] in _ROLES else 1.0) / (1 + i) ** 0.6 for i, k in enumerate(self.used)]
        # Aliases whose destination mailbox is gone: every delivery bounces.
        self.broken = set(rng.sample(self.used, len(self.used) // 40 or min(1, len(self.used) // 10)))
        self.destinations = destinations
        self.queue_ids: set[str] = set()
        self.outage: tuple[datetime, datetime, str] | None = None

    def qid(self) -> str:
        while True:
            qid = f"{self.rng.getrandbits(40):010X}"
            if qid not in self.queue_ids:
                self.queue_ids.add(qid)
                return qid

    def pid(self) -> int:
        return self.rng.randint(1000, 32000)

    def dests(self, key: str) -> list[str]:
        found = list(self.destinations.get(key) or [])
        return found or [f"{key.split('@')[0]}@mailbox.example"]

    def message(self, t0: datetime) -> None:
        """One message from the internet to an alias, expanded to its destinations."""
        rng, add = self.rng, self.log.add
        key = rng.choices(self.used, weights=self.weights)[0]
        sender, client, ip, _ = rng.choices(_SENDERS, weights=[w for *_, w in _SENDERS])[0]
        qid, smtpd, size = self.qid(), f"smtpd[{self.pid()}]", int(rng.lognormvariate(9.3, 1.0)) + 600
        dests = self.dests(key)
        add(t0, smtpd, f"connect from {client}[{ip}]")
        add(t0 + timedelta(seconds=0.3), smtpd, f"{qid}: client={client}[{ip}]")
        add(t0 + timedelta(seconds=0.5), f"cleanup[{self.pid()}]",
            f"{qid}: message-id=<{rng.getrandbits(64):016x}@{sender.split('@')[1]}>")
        queued = t0 + timedelta(seconds=0.6)
        add(queued, "qmgr[812]", f"{qid}: from=<{sender}>, size={size}, nrcpt={len(dests)} (queue active)")
        add(t0 + timedelta(seconds=0.7), smtpd,
            f"disconnect from {client}[{ip}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")
        done = queued
        for dest in dests:
            done = max(done, self.deliver(qid, key, dest, queued, sender, size, len(dests)))
        add(done + timedelta(seconds=0.1), "qmgr[812]", f"{qid}: removed")

    def deliver(self, qid: str, key: str, dest: str, queued: datetime, sender: str, size: int, nrcpt: int) -> datetime:
        """Log one destination's delivery (after deferrals, if any); returns when it ended."""
        rng, add = self.rng, self.log.add
        domain = dest.rpartition("@")[2]
        ip = f"198.51.100.{sum(map(ord, domain)) % 200 + 20}"
        lmtp = domain == "mailbox.example"
        agent, relay = ("lmtp", "mailbox.example[private/dovecot-lmtp]") if lmtp else ("smtp", f"mx.{domain}[{ip}]:25")
        when = queued + timedelta(seconds=rng.uniform(0.05, 0.8))  # handed to a delivery agent
        tries = 0
        while self.down(domain, when) or (tries == 0 and rng.random() < 0.03):
            timeout = self.down(domain, when)
            text = _DEFERRALS[0] if timeout else rng.choice(_DEFERRALS)
            conn = 30.0 if text == _DEFERRALS[0] else rng.uniform(0.3, 2.0)
            logged = when + timedelta(seconds=conn)
            relayed = "none" if text == _DEFERRALS[0] else relay
            add(logged, f"{agent}[{self.pid()}]",
                f"{qid}: to=<{dest}>, orig_to=<{key}>, relay={relayed}, delay={_secs(logged - queued)}, "
                f"delays={_secs(when - queued)}/0.01/{_secs(conn)}/0, dsn=4.4.1, "
                f"status=deferred ({text.format(domain=domain, ip=ip, to=dest)})")
            tries += 1
            when = logged + timedelta(minutes=rng.choice([5, 10, 15, 30]) * tries)
            add(when - timedelta(seconds=0.2), "qmgr[812]",
                f"{qid}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)")
        conn, transfer = rng.uniform(0.01, 0.6), rng.uniform(0.05, 1.5)
        done = when + timedelta(seconds=conn + transfer)
        timing = f"delay={_secs(done - queued)}, delays={_secs(when - queued)}/0.01/{_secs(conn)}/{_secs(transfer)}"
        bounce = ""
        if key in self.broken:
            bounce = f"550 5.1.1 <{dest}>: Recipient address rejected: User unknown in virtual mailbox table"
        elif rng.random() < 0.004:
            bounce = f"552 5.2.2 <{dest}>: Mailbox full, quota exceeded"
        if bounce:
            add(done, f"{agent}[{self.pid()}]",
                f"{qid}: to=<{dest}>, orig_to=<{key}>, relay={relay}, {timing}, dsn={bounce[4:9]}, "
                f"status=bounced (host {relay.removesuffix(':25')} said: {bounce} (in reply to RCPT TO command))")
            self.notify(qid, sender, done)
        else:
            reply = f"250 2.0.0 <{dest}> {rng.getrandbits(48):012x} Saved" if lmtp else \
                f"250 2.0.0 Ok: queued as {rng.getrandbits(36):09X}"
            add(done, f"{agent}[{self.pid()}]",
                f"{qid}: to=<{dest}>, orig_to=<{key}>, relay={relay}, {timing}, dsn=2.0.0, status=sent ({reply})")
        return done

    def down(self, domain: str, when: datetime) -> bool:
        return self.outage is not None and self.outage[2] == domain and self.outage[0] <= when < self.outage[1]

    def notify(self, qid: str, sender: str, when: datetime) -> None:
        """The non-delivery notification Postfix sends back to the sender of a bounced message."""
        add, new = self.log.add, self.qid()
        domain = sender.rpartition("@")[2]
        add(when + timedelta(seconds=0.1), f"bounce[{self.pid()}]", f"{qid}: sender non-delivery notification: {new}")
        add(when + timedelta(seconds=0.2), f"cleanup[{self.pid()}]",
            f"{new}: message-id=<{when:%Y%m%d%H%M%S}.{new}@mx1.example.com>")
        add(when + timedelta(seconds=0.3), "qmgr[812]",
            f"{new}: from=<>, size={self.rng.randint(3000, 9000)}, nrcpt=1 (queue active)")
        add(when + timedelta(seconds=1.4), f"smtp[{self.pid()}]",
            f"{new}: to=<{sender}>, relay=mx.{domain}[192.0.2.{len(domain) + 10}]:25, delay=1.2, "
            f"delays=0.2/0/0.6/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {self.rng.getrandbits(36):09X})")
        add(when + timedelta(seconds=1.5), "qmgr[812]", f"{new}: removed")

    def reject(self, t0: datetime) -> None:
        """A connection smtpd turns away before anything is queued."""
        rng, add = self.rng, self.log.add
        client, ip = rng.choice(_SPAM_CLIENTS)
        smtpd = f"smtpd[{self.pid()}]"
        text = rng.choices([r for r, _ in _REJECTS], weights=[w for _, w in _REJECTS])[0]
        domain = (rng.choice(self.used) if self.used else "nobody@example.com").rpartition("@")[2]
        if "Recipient" in text or not self.used:  # an address that is no alias
            to = f"{rng.choice(_ROLES)}{rng.randint(2, 99)}@{domain}"
        else:
            to = rng.choice(self.used)
        helo = f"{client if client != 'unknown' else 'ylmf-pc'}"
        add(t0, smtpd, f"connect from {client}[{ip}]")
        add(t0 + timedelta(seconds=0.8), smtpd,
            f"NOQUEUE: reject: RCPT from {client}[{ip}]: {text.format(ip=ip, to=to, helo=helo)}; "
            f"from=<spameri@{rng.choice(['tiscali.it', 'bulk.example', 'promo.example'])}> to=<{to}> "
            f"proto=ESMTP helo=<{helo}>")
        add(t0 + timedelta(seconds=1.0), smtpd,
            f"disconnect from {client}[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")

    def cron_mail(self, t0: datetime) -> None:
        """The machine's own mail: root's cron output, picked up and forwarded to the admins (/etc/aliases)."""
        add, qid, new = self.log.add, self.qid(), self.qid()
        message_id = f"<{t0:%Y%m%d%H%M%S}.{qid}@mx1.example.com>"
        add(t0, f"pickup[{self.pid()}]", f"{qid}: uid=0 from=<root>")
        add(t0 + timedelta(seconds=0.1), f"cleanup[{self.pid()}]", f"{qid}: message-id={message_id}")
        add(t0 + timedelta(seconds=0.2), "qmgr[812]",
            f"{qid}: from=<root@mx1.example.com>, size=912, nrcpt=1 (queue active)")
        add(t0 + timedelta(seconds=0.3), f"cleanup[{self.pid()}]", f"{new}: message-id={message_id}")
        add(t0 + timedelta(seconds=0.3), f"local[{self.pid()}]",
            f"{qid}: to=<root@mx1.example.com>, orig_to=<root>, relay=local, delay=0.16, "
            f"delays=0.09/0.02/0/0.05, dsn=2.0.0, status=sent (forwarded as {new})")
        add(t0 + timedelta(seconds=0.4), "qmgr[812]",
            f"{new}: from=<root@mx1.example.com>, size=1055, nrcpt=1 (queue active)")
        add(t0 + timedelta(seconds=0.4), "qmgr[812]", f"{qid}: removed")
        add(t0 + timedelta(seconds=1.2), f"smtp[{self.pid()}]",
            f"{new}: to=<sysadmin@staff.example>, orig_to=<root@mx1.example.com>, "
            "relay=mx.staff.example[192.0.2.25]:25, delay=0.8, delays=0.1/0.01/0.3/0.4, dsn=2.0.0, "
            f"status=sent (250 2.0.0 Ok: queued as {self.rng.getrandbits(36):09X})")
        add(t0 + timedelta(seconds=1.3), "qmgr[812]", f"{new}: removed")


def write_demo_log(path: str | os.PathLike[str], keys: list[str], *, days: int = 30, seed: int = 0,
                   now: datetime | None = None, per_day: int = 300,
                   destinations: Mapping[str, Sequence[str]] | None = None, tz: tzinfo | None = None) -> int:
    """Write ``days`` days of Postfix log up to ``now`` for mail to ``keys``; returns the number of lines.

    ``destinations`` maps a key to where its alias forwards (default
    ``local@mailbox.example``); ``per_day`` is the messages of an average
    weekday. Times are written in ``tz`` (default: the zone ``logingest``
    reads them in, LOG_TIME_ZONE or TIME_ZONE), classic syslog style.
    """
    rng = random.Random(seed)
    now = (now or timezone.now()).astimezone(UTC)
    zone = tz or ZoneInfo(settings.LOG_TIME_ZONE or settings.TIME_ZONE)
    log = _Log(zone, now)
    gen = _Generator(log, rng, keys, destinations or {})
    domains = sorted({d.rpartition("@")[2] for key in gen.used for d in gen.dests(key)})
    first = now - timedelta(days=days)
    if domains:  # one afternoon a destination's mail server is down: a wall of deferrals, retried later
        start = (now - timedelta(days=rng.randint(2, max(2, days - 1)))).astimezone(zone).replace(hour=13, minute=40)
        start = start.astimezone(UTC)
        remote = [d for d in domains if d != "mailbox.example"] or domains
        gen.outage = (start, start + timedelta(hours=2, minutes=30), rng.choice(remote))
    scale = per_day / sum(_HOURLY)
    day = first.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= now:
        weekday_factor = 0.45 if day.weekday() >= 5 else 1.0
        day_noise = rng.uniform(0.8, 1.2)
        for hour in range(24):
            start = datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)
            expected = _HOURLY[hour] * scale * weekday_factor * day_noise
            for _ in range(int(expected) + (rng.random() < expected % 1)):
                when = start + timedelta(seconds=rng.uniform(0, 3599))
                if when >= first and gen.used:
                    gen.message(when)
            for _ in range(rng.randint(0, max(1, int(expected / 3)))):
                when = start + timedelta(seconds=rng.uniform(0, 3599))
                if when >= first and gen.used:
                    gen.reject(when)
        cron = datetime(day.year, day.month, day.day, 6, 25, 1, tzinfo=zone).astimezone(UTC)
        if cron >= first:
            gen.cron_mail(cron)
        day += timedelta(days=1)
    log.lines.sort()
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for _, _, line in log.lines)
    return len(log.lines)


def load_demo_traffic(data_dir: str | os.PathLike[str]) -> IngestReport | None:
    """Write a month of log for the demo's aliases under ``data_dir`` and count it (once: None after)."""
    path = Path(data_dir).resolve() / DEMO_LOG
    if LogSource.objects.filter(path=str(path)).exists():
        return None
    aliases = Alias.objects.filter(enabled=True, deleted_at__isnull=True, domain__deleted_at__isnull=True)
    destinations = {a.key: a.destination_list for a in aliases.only("key", "destinations").exclude(key__startswith="@")}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_demo_log(path, sorted(destinations), seed=7, destinations=destinations)
    return ingest_log(str(path), node=DEMO_HOST)
