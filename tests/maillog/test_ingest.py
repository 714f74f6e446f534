"""logingest: counts equal pflogsumm's, per alias attribution, and no line counted twice."""

from __future__ import annotations

import gzip
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.db.models import Sum

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.maillog.ingest import (
    IngestBusy,
    IngestConflict,
    NotALiveLog,
    _store_with_retries,
    ingest_log,
    reader_lock,
)
from aliasdesk.maillog.models import AliasDay, AliasUsage, DomainHour, HostHour, LogSource, PeerDay, ReasonDay
from aliasdesk.postfix.maillog.count import HOUR_FIELDS, TrafficCounter
from aliasdesk.postfix.maillog.follow import read_new
from aliasdesk.postfix.maillog.summary import LogSummary
from tests.conftest import REALDATA, realdata

pytestmark = pytest.mark.django_db

MESSAGE_FIELDS = [f for f in HOUR_FIELDS if not f.startswith("bytes")]
REAL_LOGS = sorted(p.name for p in (REALDATA / "logs").glob("*.log")) if (REALDATA / "logs").exists() else []


@pytest.fixture(autouse=True)
def _utc(aliasdesk_settings):  # type: ignore[no-untyped-def]
    aliasdesk_settings.LOG_TIME_ZONE = "UTC"
    aliasdesk_settings.TIME_ZONE = "UTC"
    return aliasdesk_settings


def host_totals() -> dict[str, int]:
    sums = HostHour.objects.aggregate(**{f: Sum(f) for f in HOUR_FIELDS})
    return {f: sums[f] or 0 for f in HOUR_FIELDS}


def pflogsumm_totals(*paths: Path) -> dict[str, int]:
    summary = LogSummary()
    for path in paths:
        summary.add_file(path)
    return {f: summary.totals[f] for f in MESSAGE_FIELDS}


def message_totals() -> dict[str, int]:
    totals = host_totals()
    return {f: totals[f] for f in MESSAGE_FIELDS}


@pytest.mark.parametrize("name", REAL_LOGS)
def test_counts_equal_pflogsumm_on_every_real_log(name: str, tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    shutil.copy(realdata("logs", name), log)
    report = ingest_log(str(log))
    assert report.lines == sum(1 for _ in log.open("rb"))
    assert message_totals() == pflogsumm_totals(log)
    source = LogSource.objects.get()
    assert source.lines == report.lines
    assert source.position["offset"] == log.stat().st_size


def test_log_read_in_many_small_pieces_counts_every_line_once(tmp_path: Path) -> None:
    original = realdata("logs", "kdent-mail2.log").read_bytes()
    log = tmp_path / "mail.log"
    log.write_bytes(b"")
    step = len(original) // 7 + 13  # cuts fall inside lines: each read sees a partial last line
    for start in range(0, len(original), step):
        with log.open("ab") as f:
            f.write(original[start : start + step])
        ingest_log(str(log), max_bytes=4096)
    assert message_totals() == pflogsumm_totals(realdata("logs", "kdent-mail2.log"))
    assert LogSource.objects.get().lines == original.count(b"\n")


def _rotate(log: Path, suffix: str, *, compress: bool = False, copytruncate: bool = False) -> None:
    rotated = log.with_name(log.name + suffix)
    if copytruncate:
        shutil.copy(log, rotated)
        with log.open("r+b") as f:
            f.truncate(0)
    else:
        os.rename(log, rotated)
        log.write_bytes(b"")
    if compress:
        with rotated.open("rb") as src, gzip.open(str(rotated) + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        rotated.unlink()


@pytest.mark.parametrize(
    "how",
    [
        {"suffix": ".1"},
        {"suffix": ".1", "compress": True},
        {"suffix": "-20261126"},
        {"suffix": ".1", "copytruncate": True},
    ],
    ids=["rename", "rename-gzip", "dateext", "copytruncate"],
)
def test_rotation_between_runs_loses_and_doubles_nothing(how: dict[str, object], tmp_path: Path) -> None:
    lines = realdata("logs", "kdent-mail.log").read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(lines[:third]))
    ingest_log(str(log))
    with log.open("ab") as f:  # written after the last read, before the rotation
        f.write(b"".join(lines[third : 2 * third]))
    _rotate(log, **how)  # type: ignore[arg-type]
    with log.open("ab") as f:
        f.write(b"".join(lines[2 * third :]))
    report = ingest_log(str(log))
    assert "rotated" in report.notes or "truncated" in report.notes
    assert message_totals() == pflogsumm_totals(realdata("logs", "kdent-mail.log"))
    assert LogSource.objects.get().lines == len(lines)
    ingest_log(str(log))  # nothing new: nothing more counted
    assert message_totals() == pflogsumm_totals(realdata("logs", "kdent-mail.log"))


def test_second_reader_of_the_same_file_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    shutil.copy(realdata("logs", "nole-mail.log"), log)
    with reader_lock("mx1", str(log)), pytest.raises(IngestBusy, match="another logingest"):
        ingest_log(str(log), node="mx1")
    assert not HostHour.objects.exists()


def test_a_position_stored_meanwhile_stops_the_run_without_counting(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    shutil.copy(realdata("logs", "nole-mail.log"), log)
    first = next(read_new(str(log), None))  # a second reader counted this piece first
    ingest_log(str(log))
    before = message_totals()
    counter = TrafficCounter()
    counter.feed(first.lines)
    with pytest.raises(IngestConflict, match="another reader"):
        _store_with_retries(LogSource.objects.get().pk, None, first, counter)
    assert message_totals() == before


# --- per alias -----------------------------------------------------------------------

def _line(stamp: str, text: str, host: str = "mx1") -> str:
    return f"{stamp} {host} {text}\n"


REASONS = {
    "sent": "250 2.0.0 Ok",
    "deferred": "connect to mx.example.org[192.0.2.20]:25: Connection timed out",
    "bounced": "host mx.example.org[192.0.2.20] said: 550 5.1.1 User unknown (in reply to RCPT TO command)",
}


def _message(qid: str, stamp: str, alias: str, destinations: list[str], status: str = "sent",
             size: int = 1000, removed: bool = True) -> str:
    text = _line(stamp, f"postfix/smtpd[10]: {qid}: client=client.example.net[192.0.2.10]")
    text += _line(stamp, f"postfix/qmgr[11]: {qid}: from=<sender@example.net>, size={size}, "
                         f"nrcpt={len(destinations)} (queue active)")
    for dest in destinations:
        reason = REASONS[status]
        text += _line(stamp, f"postfix/smtp[12]: {qid}: to=<{dest}>, orig_to=<{alias}>, "
                             f"relay=mx.example.org[192.0.2.20]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, "
                             f"status={status} ({reason})")
    if removed:
        text += _line(stamp, f"postfix/qmgr[11]: {qid}: removed")
    return text


@pytest.fixture
def managed(map_dir: Path) -> Domain:
    domain = create_domain("example.com", map_path=map_dir / "example.com")
    create_alias(domain, "info@example.com", "anna@example.org, ben@example.org")
    create_alias(domain, "sales@example.com", "carla@example.org")
    create_alias(domain, "@example.com", "catchall@example.org")
    off = create_alias(domain, "old@example.com", "olga@example.org")
    Alias.objects.filter(pk=off.pk).update(enabled=False)
    return domain


def _alias(key: str) -> Alias:
    return Alias.objects.get(key_folded=key)


def test_mail_is_counted_on_the_alias_postfix_used(managed: Domain, tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(
        _message("A1", "Nov 26 10:01:00", "info@example.com", ["anna@example.org", "ben@example.org"])
        + _message("A2", "Nov 26 10:02:00", "INFO+news@Example.com", ["anna@example.org"])
        + _message("A3", "Nov 26 11:15:30", "nobody@example.com", ["catchall@example.org"])
        + _message("A4", "Nov 26 11:20:00", "old@example.com", ["catchall@example.org"])
        + _message("A5", "Nov 26 11:30:00", "sales@example.com", ["carla@example.org"], status="bounced")
        + _message("A6", "Nov 26 11:40:00", "someone@elsewhere.org", ["x@elsewhere.org"])
    )
    os.utime(log, (datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp(),) * 2)
    ingest_log(str(log))
    info = AliasDay.objects.get(alias=_alias("info@example.com"))
    assert (info.day, info.received, info.delivered, info.bounced) == (date(2026, 11, 26), 2, 3, 0)
    catch_all = AliasUsage.objects.get(alias=_alias("@example.com"))
    assert (catch_all.received, catch_all.delivered) == (2, 2)  # nobody@ and the switched-off old@
    assert catch_all.last_seen == datetime(2026, 11, 26, 11, 20, tzinfo=UTC)
    sales = AliasUsage.objects.get(alias=_alias("sales@example.com"))
    assert (sales.received, sales.delivered, sales.bounced) == (1, 0, 1)
    assert not AliasUsage.objects.filter(alias=_alias("old@example.com")).exists()
    hours = {h.hour.hour: (h.received, h.delivered, h.bounced) for h in DomainHour.objects.filter(domain=managed)}
    assert hours == {10: (2, 3, 0), 11: (3, 2, 1)}
    assert HostHour.objects.aggregate(Sum("received"))["received__sum"] == 6
    assert ReasonDay.objects.get(kind="bounced").count == 1
    assert set(PeerDay.objects.filter(direction="from").values_list("domain", "messages")) == {("example.net", 6)}


def test_a_deferred_message_delivered_in_a_later_run_is_received_once(managed: Domain, tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(_message("B1", "Nov 26 10:00:00", "info@example.com", ["anna@example.org"], status="deferred",
                            removed=False))
    ingest_log(str(log))
    assert LogSource.objects.get().in_flight  # the message is still queued
    with log.open("a") as f:
        f.write(_line("Nov 26 10:30:00", "postfix/smtp[12]: B1: to=<anna@example.org>, orig_to=<info@example.com>, "
                      "relay=mx.example.org[192.0.2.20]:25, delay=1800, delays=1/1700/0.5/0.6, dsn=2.0.0, "
                      "status=sent (250 2.0.0 Ok)"))
        f.write(_line("Nov 26 10:30:00", "postfix/qmgr[11]: B1: removed"))
    ingest_log(str(log))
    usage = AliasUsage.objects.get(alias=_alias("info@example.com"))
    assert (usage.received, usage.delivered, usage.deferred) == (1, 1, 1)
    assert HostHour.objects.get().bytes_delivered == 1000
    assert LogSource.objects.get().in_flight == {}


def test_a_purged_alias_takes_its_counters_with_it(managed: Domain, tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(_message("C1", "Nov 26 10:00:00", "sales@example.com", ["carla@example.org"]))
    ingest_log(str(log))
    _alias("sales@example.com").delete()
    assert not AliasDay.objects.exists() and not AliasUsage.objects.exists()
    assert DomainHour.objects.exists() and HostHour.objects.exists()


@pytest.mark.parametrize("name", ["mail.log.1", "mail.log.2.gz", "mail.log-20261126", "mail.log-2026112601.gz"])
def test_a_rotated_file_is_refused_as_a_source(name: str, tmp_path: Path) -> None:
    rotated = tmp_path / name
    rotated.write_bytes(realdata("logs", "nole-mail.log").read_bytes())
    with pytest.raises(NotALiveLog, match="rotated log: name the live file"):
        ingest_log(str(rotated))
    assert not LogSource.objects.exists() and not HostHour.objects.exists()
