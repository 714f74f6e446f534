"""/metrics: exact values in Prometheus' text format, for allowed addresses or the token only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.maillog.models import HostHour, LogSource

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

HOUR = datetime(2025, 3, 1, 10, tzinfo=UTC)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client | None = None, **extra: str) -> Samples:
    response = (client or Client()).get("/metrics", **extra)  # type: ignore[arg-type]
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    samples: Samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def finish(domain: Domain, status: str, finished: datetime | None) -> Deploy:
    return Deploy.objects.create(domain=domain, status=status, finished_at=finished)


@pytest.fixture
def world(aliasdesk_settings, map_dir: Path) -> dict[str, Domain]:  # type: ignore[no-untyped-def]
    """Three live domains and a deleted one, deploys of every kind, two mail hosts, two logs."""
    com = create_domain("example.com", map_path=map_dir / "example.com")
    org = create_domain("other.org", map_path=map_dir / "other.org")
    new = create_domain("new.example", map_path=map_dir / "new.example")
    gone = create_domain("gone.example", map_path=map_dir / "gone.example")
    for key in ("a", "b", "c"):
        create_alias(com, f"{key}@example.com", "x@example.net")
    create_alias(com, "off@example.com", "x@example.net", enabled=False)
    deleted = create_alias(com, "trash@example.com", "x@example.net")
    Alias.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    create_alias(org, "info@other.org", "x@example.net", enabled=False)
    create_alias(gone, "info@gone.example", "x@example.net")
    Domain.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    Domain.objects.filter(pk=com.pk).update(serial=12, deployed_serial=9)
    Domain.objects.filter(pk=org.pk).update(serial=4, deployed_serial=4)
    Domain.objects.filter(pk=new.pk).update(serial=3, deployed_serial=0)

    now = timezone.now()
    finish(com, Deploy.Status.OK, now - timedelta(hours=5))
    finish(com, Deploy.Status.FAILED, now - timedelta(hours=1))
    finish(com, Deploy.Status.RUNNING, None)  # not finished: not the last deploy
    finish(org, Deploy.Status.OK, now - timedelta(days=2))
    finish(org, Deploy.Status.NOOP, now - timedelta(minutes=10))
    finish(gone, Deploy.Status.OK, now - timedelta(days=1))

    HostHour.objects.create(hour=HOUR, host="mx1", received=10, delivered=9, forwarded=1, deferrals=2, bounced=1,
                            rejected=5, reject_warnings=1, held=0, discarded=0,
                            bytes_received=1000, bytes_delivered=900)
    HostHour.objects.create(hour=HOUR + timedelta(hours=1), host="mx1", received=5, delivered=5, rejected=1,
                            bytes_received=500, bytes_delivered=500)
    HostHour.objects.create(hour=HOUR, host="mx2", received=7, delivered=6, held=2, discarded=1,
                            bytes_received=70, bytes_delivered=60)
    LogSource.objects.create(node="mx1", path="/var/log/mail.log", lines=1234,
                             last_read_at=HOUR + timedelta(hours=2), last_line_at=HOUR + timedelta(hours=1))
    LogSource.objects.create(node="mx2", path="/var/log/mail.log", lines=0)
    return {"example.com": com, "other.org": org, "new.example": new}


def test_mail_counters_sum_every_hour_per_host(world: dict[str, Domain]):
    samples = scrape()
    messages = "aliasdesk_mail_messages_total"
    assert value(samples, messages, host="mx1", kind="received") == 15
    assert value(samples, messages, host="mx1", kind="delivered") == 14
    assert value(samples, messages, host="mx1", kind="forwarded") == 1
    assert value(samples, messages, host="mx1", kind="deferrals") == 2
    assert value(samples, messages, host="mx1", kind="bounced") == 1
    assert value(samples, messages, host="mx1", kind="rejected") == 6
    assert value(samples, messages, host="mx1", kind="reject_warnings") == 1
    assert value(samples, messages, host="mx1", kind="held") == 0
    assert value(samples, messages, host="mx2", kind="held") == 2
    assert value(samples, messages, host="mx2", kind="discarded") == 1
    assert len(named(samples, messages)) == 18  # 9 kinds, 2 hosts
    assert value(samples, "aliasdesk_mail_bytes_total", host="mx1", direction="received") == 1500
    assert value(samples, "aliasdesk_mail_bytes_total", host="mx1", direction="delivered") == 1400
    assert value(samples, "aliasdesk_mail_bytes_total", host="mx2", direction="delivered") == 60


def test_domains_their_aliases_and_undeployed_changes(world: dict[str, Domain]):
    samples = scrape()
    assert named(samples, "aliasdesk_domain_aliases") == {
        frozenset({("domain", "example.com"), ("state", "enabled")}): 3,
        frozenset({("domain", "example.com"), ("state", "disabled")}): 1,
        frozenset({("domain", "other.org"), ("state", "enabled")}): 0,
        frozenset({("domain", "other.org"), ("state", "disabled")}): 1,
        frozenset({("domain", "new.example"), ("state", "enabled")}): 0,
        frozenset({("domain", "new.example"), ("state", "disabled")}): 0,
    }
    assert named(samples, "aliasdesk_domain_undeployed_changes") == {
        frozenset({("domain", "example.com")}): 3,
        frozenset({("domain", "other.org")}): 0,
        frozenset({("domain", "new.example")}): 3,
    }
    Domain.objects.filter(name="other.org").update(serial=2, deployed_serial=4)
    assert value(scrape(), "aliasdesk_domain_undeployed_changes", domain="other.org") == 0


def test_deploys_last_outcome_time_age_and_last_success(world: dict[str, Domain]):
    samples = scrape()
    deploys = {d.domain.name + ":" + d.status: d for d in Deploy.objects.select_related("domain")}
    assert named(samples, "aliasdesk_domain_last_deploy_ok") == {
        frozenset({("domain", "example.com")}): 0,  # the failed one came last
        frozenset({("domain", "other.org")}): 1,  # nothing to do counts as fine
    }
    failed_at = deploys["example.com:failed"].finished_at
    noop_at = deploys["other.org:noop"].finished_at
    assert failed_at and noop_at
    assert named(samples, "aliasdesk_domain_last_deploy_timestamp_seconds") == {
        frozenset({("domain", "example.com")}): failed_at.timestamp(),
        frozenset({("domain", "other.org")}): noop_at.timestamp(),
    }
    age = value(samples, "aliasdesk_domain_last_deploy_age_seconds", domain="example.com")
    assert age is not None and 3600 <= age < 3600 + 60
    assert value(samples, "aliasdesk_domain_last_deploy_age_seconds", domain="new.example") is None
    ok_com, ok_org = deploys["example.com:ok"].finished_at, deploys["other.org:ok"].finished_at
    assert ok_com and ok_org
    assert named(samples, "aliasdesk_domain_last_successful_deploy_timestamp_seconds") == {
        frozenset({("domain", "example.com")}): ok_com.timestamp(),
        frozenset({("domain", "other.org")}): ok_org.timestamp(),
    }


def test_log_ingestion_per_node_and_path(world: dict[str, Domain]):
    samples = scrape()
    mx1 = {"node": "mx1", "path": "/var/log/mail.log"}
    mx2 = {"node": "mx2", "path": "/var/log/mail.log"}
    assert value(samples, "aliasdesk_logingest_lines_total", **mx1) == 1234
    assert value(samples, "aliasdesk_logingest_lines_total", **mx2) == 0
    assert value(samples, "aliasdesk_logingest_last_read_timestamp_seconds", **mx1) == (
        HOUR + timedelta(hours=2)
    ).timestamp()
    assert value(samples, "aliasdesk_logingest_last_line_timestamp_seconds", **mx1) == (
        HOUR + timedelta(hours=1)
    ).timestamp()
    assert value(samples, "aliasdesk_logingest_last_read_timestamp_seconds", **mx2) is None


def test_an_empty_database_still_answers(db):  # type: ignore[no-untyped-def]
    samples = scrape()
    assert named(samples, "aliasdesk_domain_aliases") == {}


def test_it_refuses_other_addresses(world: dict[str, Domain]):
    response = Client().get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403
    assert b"aliasdesk_" not in response.content
    assert scrape(REMOTE_ADDR="::1")
    assert scrape(REMOTE_ADDR="::ffff:127.0.0.1")


def test_allowed_addresses_and_networks_come_from_settings(world: dict[str, Domain], settings):  # type: ignore[no-untyped-def]
    settings.METRICS_ALLOW = ["10.0.0.0/8", "192.0.2.7", "not an address"]
    assert scrape(REMOTE_ADDR="10.1.2.3")
    assert scrape(REMOTE_ADDR="192.0.2.7")
    assert Client().get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 403
    assert Client().get("/metrics").status_code == 403  # 127.0.0.1 is no longer listed


def test_the_token_opens_it_from_anywhere(world: dict[str, Domain], settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = "s3cret-token"
    far = {"REMOTE_ADDR": "203.0.113.9"}
    assert value(scrape(HTTP_AUTHORIZATION="Bearer s3cret-token", **far),
                 "aliasdesk_logingest_lines_total", node="mx1", path="/var/log/mail.log") == 1234
    for header in ("Bearer wrong", "Bearer s3cret-toke", "Basic s3cret-token", "s3cret-token", ""):
        assert Client().get("/metrics", HTTP_AUTHORIZATION=header, **far).status_code == 403, header


def test_an_empty_token_opens_nothing(world: dict[str, Domain], settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403


def test_it_needs_no_session_and_takes_only_get(world: dict[str, Domain]):
    client = Client()
    assert client.get("/metrics").status_code == 200
    assert "sessionid" not in client.cookies
    assert client.post("/metrics").status_code == 405


def test_queries_do_not_grow_with_domains(world: dict[str, Domain], map_dir: Path):
    with CaptureQueriesContext(connection) as few:
        scrape()
    for i in range(40):
        domain = create_domain(f"d{i}.example", map_path=map_dir / f"d{i}.example")
        create_alias(domain, f"a@d{i}.example", "x@example.net")
        finish(domain, Deploy.Status.OK, timezone.now())
    with CaptureQueriesContext(connection) as many:
        samples = scrape()
    assert len(many.captured_queries) == len(few.captured_queries) <= 6
    assert value(samples, "aliasdesk_domain_last_deploy_ok", domain="d39.example") == 1


FORWARDED = {
    "Forwarded": {"HTTP_FORWARDED": "for=203.0.113.9;proto=https"},
    "X-Forwarded-For": {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},
    "X-Forwarded-For of loopback": {"HTTP_X_FORWARDED_FOR": "127.0.0.1"},
    "X-Forwarded-Proto": {"HTTP_X_FORWARDED_PROTO": "https"},
    "X-Forwarded-Host": {"HTTP_X_FORWARDED_HOST": "mail.example.com"},
    "X-Real-IP": {"HTTP_X_REAL_IP": "203.0.113.9"},
    "Client-IP": {"HTTP_CLIENT_IP": "203.0.113.9"},
    "True-Client-IP": {"HTTP_TRUE_CLIENT_IP": "203.0.113.9"},
    "Via": {"HTTP_VIA": "1.1 proxy"},
    "empty X-Forwarded-For": {"HTTP_X_FORWARDED_FOR": ""},
}


@pytest.mark.parametrize("header", FORWARDED)
def test_a_proxied_request_from_loopback_needs_the_token(world: dict[str, Domain], settings, header: str):  # type: ignore[no-untyped-def]
    """The documented proxy runs on the same host: its requests come from 127.0.0.1 but are remote."""
    settings.METRICS_TOKEN = "s3cret-token"
    forwarded = {**FORWARDED[header], "REMOTE_ADDR": "127.0.0.1"}
    response = Client().get("/metrics", **forwarded)
    assert response.status_code == 403, header
    assert b"aliasdesk_" not in response.content
    assert b"needs the token" in response.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **forwarded).status_code == 403
    assert scrape(HTTP_AUTHORIZATION="Bearer s3cret-token", **forwarded)


@pytest.mark.parametrize("header", FORWARDED)
def test_a_proxied_request_is_refused_without_a_token_setting(world: dict[str, Domain], settings, header: str):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", REMOTE_ADDR="::1", **FORWARDED[header]).status_code == 403


def test_a_direct_request_from_an_allowed_address_needs_no_token(world: dict[str, Domain], settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = "s3cret-token"
    assert scrape(REMOTE_ADDR="127.0.0.1")
    assert scrape(REMOTE_ADDR="::1")
