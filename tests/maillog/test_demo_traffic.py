"""The demo's mail log: real Postfix lines that ingest completely and count as pflogsumm counts them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum
from django.utils import timezone

from aliasdesk.aliases.models import Alias
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.maillog.demo import load_demo_traffic, write_demo_log
from aliasdesk.maillog.ingest import ingest_log
from aliasdesk.maillog.models import AliasDay, AliasUsage, DomainHour, HostHour, LogSource, PeerDay, ReasonDay
from aliasdesk.postfix.maillog.summary import LogSummary

pytestmark = [pytest.mark.django_db]

LINE = re.compile(
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d mx1 "
    r"postfix/(smtpd|cleanup|qmgr|smtp|lmtp|local|bounce|pickup)\[\d+\]: "
)
TOTALS = ("received", "delivered", "forwarded", "deferrals", "bounced", "rejected")


@pytest.fixture
def aliases(aliasdesk_settings) -> list[Alias]:  # type: ignore[no-untyped-def]
    com = create_domain("example.com")
    org = create_domain("example.org")
    made = [create_alias(com, f"{role}@example.com", f"{role}.team@staff.example") for role in
            ("info", "sales", "support", "billing", "jobs", "press")]
    made += [create_alias(com, f"person{i}@example.com", f"person{i}@mailbox.example") for i in range(40)]
    made += [create_alias(org, f"list{i}@example.org", f"a{i}@team.example, b{i}@team.example") for i in range(14)]
    return made


@pytest.fixture
def demo_log(aliases: list[Alias], tmp_path: Path) -> Path:
    path = tmp_path / "mail.log"
    destinations = {a.key: a.destination_list for a in aliases}
    write_demo_log(path, [a.key for a in aliases], days=10, seed=5, per_day=150, destinations=destinations)
    return path


def test_every_line_is_a_postfix_line_in_classic_syslog_form(demo_log: Path):
    lines = demo_log.read_text().splitlines()
    assert len(lines) > 5000
    assert all(LINE.match(line) for line in lines), next(line for line in lines if not LINE.match(line))
    text = demo_log.read_text()
    for sample in (": client=", ": message-id=<", "(queue active)", "status=sent (250 ", "status=deferred (",
                   "status=bounced (host ", "NOQUEUE: reject: RCPT from ", ": removed", "orig_to=<",
                   "sender non-delivery notification", "status=sent (forwarded as ", "uid=0 from=<root>"):
        assert sample in text, sample


def test_it_ingests_with_no_unparsed_line_and_counts_what_pflogsumm_counts(demo_log: Path):
    report = ingest_log(str(demo_log), node="mx1")
    assert report.unparsed == 0 and report.lines == len(demo_log.read_text().splitlines())
    assert LogSource.objects.get().unparsed == 0
    summary = LogSummary()
    summary.add_file(demo_log)
    counted = HostHour.objects.aggregate(**{name: Sum(name) for name in TOTALS})
    assert counted == {name: summary.totals[name] for name in TOTALS}
    assert all(counted[name] > 0 for name in TOTALS)
    assert set(HostHour.objects.values_list("host", flat=True)) == {"mx1"}


def test_mail_reaches_some_aliases_and_not_others(aliases: list[Alias], demo_log: Path):
    ingest_log(str(demo_log))
    used = set(AliasUsage.objects.values_list("alias_id", flat=True))
    assert 0 < len(used) < len(aliases)
    assert len(aliases) - len(used) >= len(aliases) // 5  # enough for the unused-alias report
    per_alias = AliasDay.objects.aggregate(r=Sum("received"), b=Sum("bounced"))
    per_domain = DomainHour.objects.aggregate(r=Sum("received"), b=Sum("bounced"))
    assert per_alias == per_domain and per_alias["r"] > 0


def test_the_lists_have_content(demo_log: Path):
    ingest_log(str(demo_log))
    kinds = set(ReasonDay.objects.values_list("kind", flat=True))
    assert {"deferred", "bounced", "rejected"} <= kinds
    assert PeerDay.objects.filter(direction="to", domain="staff.example").exists()
    assert PeerDay.objects.filter(direction="from", domain="gmail.com").exists()


def test_traffic_runs_up_to_now_with_a_daily_rhythm(aliases: list[Alias], tmp_path: Path, settings):
    settings.LOG_TIME_ZONE = "Europe/Berlin"
    now = timezone.now()
    path = tmp_path / "mail.log"
    write_demo_log(path, [a.key for a in aliases], days=14, seed=1, now=now)
    ingest_log(str(path))
    hours = HostHour.objects.order_by("hour")
    assert now - timedelta(days=14, hours=1) <= hours.first().hour  # type: ignore[union-attr]
    assert now - timedelta(hours=3) <= hours.last().hour <= now  # type: ignore[union-attr]
    by_hour = {h.hour: h.received for h in hours}
    berlin = ZoneInfo("Europe/Berlin")
    office = sum(n for hour, n in by_hour.items() if 9 <= hour.astimezone(berlin).hour < 17)
    night = sum(n for hour, n in by_hour.items() if 0 <= hour.astimezone(berlin).hour < 8)
    assert office > 3 * night


def test_the_same_seed_writes_the_same_log(aliases: list[Alias], tmp_path: Path):
    now = timezone.now()
    keys = [a.key for a in aliases]
    write_demo_log(tmp_path / "a.log", keys, days=3, seed=9, now=now)
    write_demo_log(tmp_path / "b.log", keys, days=3, seed=9, now=now)
    write_demo_log(tmp_path / "c.log", keys, days=3, seed=10, now=now)
    assert (tmp_path / "a.log").read_bytes() == (tmp_path / "b.log").read_bytes()
    assert (tmp_path / "a.log").read_bytes() != (tmp_path / "c.log").read_bytes()


def test_the_demo_loads_its_traffic_once(aliases: list[Alias], tmp_path: Path):
    report = load_demo_traffic(tmp_path)
    assert report is not None and report.lines > 0 and report.unparsed == 0
    received = HostHour.objects.aggregate(n=Sum("received"))["n"]
    assert AliasUsage.objects.exists()
    assert load_demo_traffic(tmp_path) is None
    assert HostHour.objects.aggregate(n=Sum("received"))["n"] == received
