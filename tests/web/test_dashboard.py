"""The traffic dashboard: who sees which numbers, and that the numbers are the stored ones.

Counter rows are made with the ORM with known values; the clock is fixed at half
past an hour so the 24-hour window cannot move under a test.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.maillog.models import AliasDay, DomainHour, HostHour, LogSource, PeerDay, ReasonDay

pytestmark = [pytest.mark.django_db]

SECRET_REASON = "connect to mx.secret-peer.example[192.0.2.1]:25: Connection timed out"
SECRET_PEER = "secret-peer.example"


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    fixed = timezone.now().replace(minute=30, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: fixed)
    return fixed


@pytest.fixture
def traffic(now: datetime, example: Domain, other: Domain) -> datetime:
    """Server-wide: mx1 1,200 received this hour, mx2 300 two hours ago, 1,000 the day before,
    777 ten days ago. example.com 40 received this hour, other.org 900; info@other.org 600."""
    hour = now.replace(minute=0)
    today = timezone.localdate(now)
    HostHour.objects.create(hour=hour, host="mx1", received=1200, delivered=1100, forwarded=7, deferrals=30,
                            bounced=4, rejected=55, bytes_received=5 * 1024 * 1024, bytes_delivered=4 * 1024 * 1024)
    HostHour.objects.create(hour=hour - timedelta(hours=2), host="mx2", received=300, delivered=280, deferrals=5,
                            bounced=1, rejected=9)
    HostHour.objects.create(hour=hour - timedelta(hours=30), host="mx1", received=1000, delivered=990)
    HostHour.objects.create(hour=hour - timedelta(days=10), host="mx1", received=777, delivered=777)
    HostHour.objects.create(hour=hour - timedelta(days=40), host="mx1", received=99999)  # outside every window
    DomainHour.objects.create(domain=example, hour=hour, received=40, delivered=38, deferred=3, bounced=1)
    DomainHour.objects.create(domain=example, hour=hour - timedelta(days=5), received=11, delivered=11)
    DomainHour.objects.create(domain=other, hour=hour, received=900, delivered=890, deferred=6, bounced=2)
    info_com = Alias.objects.get(key="info@example.com")
    info_org = Alias.objects.get(key="info@other.org")
    AliasDay.objects.create(alias=info_com, day=today, received=25, delivered=24, deferred=1)
    AliasDay.objects.create(alias=info_org, day=today, received=600, delivered=600)
    ReasonDay.objects.create(day=today, host="mx1", kind="deferred", reason=SECRET_REASON, count=17)
    ReasonDay.objects.create(day=today, host="mx2", kind="deferred", reason="lost connection with mx.b.example",
                             count=3)
    ReasonDay.objects.create(day=today, host="mx1", kind="bounced", reason="User unknown", count=4)
    ReasonDay.objects.create(day=today, host="mx1", kind="rejected", reason="blocked using zen.spamhaus.org",
                             count=5555)
    ReasonDay.objects.create(day=today - timedelta(days=8), host="mx1", kind="rejected", reason="too old", count=1)
    PeerDay.objects.create(day=today, host="mx1", direction="to", domain=SECRET_PEER, messages=321)
    PeerDay.objects.create(day=today, host="mx1", direction="from", domain="sender.example", messages=4321)
    return now


def page(client, **params: str) -> str:  # type: ignore[no-untyped-def]
    """The dashboard's HTML without its CSRF tokens: random letters that may spell a "secret" such as MB."""
    response = client.get(reverse("dashboard"), params)
    assert response.status_code == 200
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*', r"\1", response.content.decode())


def card(html: str, name: str) -> str:
    found = re.search(rf'data-card="{name}">([^<]*)<', html)
    assert found, f"no {name} card"
    return found.group(1)


def traffic_json(client, **params: str):  # type: ignore[no-untyped-def]
    response = client.get(reverse("dashboard-traffic"), params)
    assert response.status_code == 200, response.content
    return response.json()


# --- Who sees what ---------------------------------------------------------------------------


def test_admin_sees_server_wide_numbers_of_the_last_24_hours(login, traffic):
    html = page(login("alice"))
    assert card(html, "received") == "1,500"
    assert card(html, "delivered") == "1,380"
    assert card(html, "forwarded") == "7"
    assert card(html, "deferred") == "35"
    assert card(html, "bounced") == "5"
    assert card(html, "rejected") == "64"
    assert re.search(r'data-previous="received">1,000<', html)
    assert "5.0\xa0MB" in html and "4.0\xa0MB" in html  # bytes in / out
    assert SECRET_REASON in html and "5,555" in html and "too old" not in html
    assert SECRET_PEER in html and "4,321" in html
    assert 'href="?domain=other.org"' in html  # the per-domain table
    assert 'href="/domains/other.org/?q=info%40other.org"' in html  # top aliases link to the grid
    assert 'href="/traffic/unused/"' in html
    assert 'aria-current="page">Traffic' in html


def test_admin_narrows_to_one_host(login, traffic):
    html = page(login("alice"), host="mx2")
    assert card(html, "received") == "300"
    assert card(html, "rejected") == "9"
    assert SECRET_REASON not in html and "lost connection with mx.b.example" in html
    data = traffic_json(login("alice"), range="24h", host="mx2")
    assert sum(data["series"]["received"]) == 300


def test_auditor_sees_the_server_wide_numbers_too(login, traffic):
    html = page(login("carol"))
    assert card(html, "received") == "1,500"
    assert SECRET_REASON in html
    assert traffic_json(login("carol"), range="24h")["scope"] == "server"


def test_editor_sees_only_his_domains_numbers(login, traffic):
    html = page(login("bob"))
    assert card(html, "received") == "40"
    assert card(html, "delivered") == "38"
    assert card(html, "deferred") == "3"
    assert card(html, "bounced") == "1"
    assert 'data-card="rejected"' not in html and 'data-card="forwarded"' not in html
    for secret in ("1,500", "1,200", "900", "600", "other.org", SECRET_REASON, SECRET_PEER, "sender.example", "MB"):
        assert secret not in html, secret
    assert 'href="/domains/example.com/?q=info%40example.com"' in html
    assert 'aria-current="page">Traffic' in html


def test_editor_json_counts_only_his_domains(login, traffic):
    data = traffic_json(login("bob"), range="24h")
    assert data["scope"] == "domains"
    assert set(data["series"]) == {"received", "delivered", "deferred", "bounced"}
    assert data["series"]["received"][-1] == 40 and sum(data["series"]["received"]) == 40
    month = traffic_json(login("bob"), range="30d")
    assert sum(month["series"]["received"]) == 51


def test_viewer_sees_the_domain_he_reads(login, traffic):
    html = page(login("dave"))
    assert card(html, "received") == "40"
    assert "other.org" not in html
    assert traffic_json(login("dave"), range="24h", domain="example.com")["series"]["received"][-1] == 40


def test_editor_without_domains_gets_an_empty_state(login, traffic):
    html = page(login("erin"))
    assert "No domains yet" in html
    assert "data-card" not in html and "1,500" not in html
    data = traffic_json(login("erin"), range="24h")
    assert data["scope"] == "domains" and sum(data["series"]["received"]) == 0


def test_a_domain_outside_the_grants_is_404(login, traffic):
    assert login("bob").get(reverse("dashboard"), {"domain": "other.org"}).status_code == 404
    assert login("bob").get(reverse("dashboard-traffic"), {"range": "24h", "domain": "other.org"}).status_code == 404
    assert login("bob").get(reverse("dashboard"), {"domain": "nowhere.example"}).status_code == 404
    assert login("erin").get(reverse("dashboard-traffic"), {"domain": "example.com"}).status_code == 404


def test_a_host_filter_is_only_for_who_sees_everything(login, traffic):
    assert login("bob").get(reverse("dashboard"), {"host": "mx1"}).status_code == 404
    assert login("dave").get(reverse("dashboard-traffic"), {"range": "24h", "host": "mx1"}).status_code == 404


def test_admin_narrows_to_one_domain(login, traffic):
    html = page(login("alice"), domain="other.org")
    assert card(html, "received") == "900"
    assert SECRET_REASON not in html  # a domain's view never shows server-wide lists
    data = traffic_json(login("alice"), range="24h", domain="other.org")
    assert data["scope"] == "domains" and data["series"]["received"][-1] == 900


def test_anonymous_is_sent_to_sign_in(client, db):
    for name in ("dashboard", "dashboard-traffic"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_only_get_is_allowed(login, traffic):
    assert login("alice").post(reverse("dashboard")).status_code == 405
    assert login("alice").post(reverse("dashboard-traffic")).status_code == 405


# --- The JSON -------------------------------------------------------------------------------


def test_24_hours_are_24_zero_filled_points_labelled_in_the_site_zone(login, traffic, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    data = traffic_json(login("alice"), range="24h")
    assert data["scope"] == "server"
    assert set(data["series"]) == {"received", "delivered", "deferred", "bounced", "rejected"}
    assert all(len(points) == 24 for points in data["series"].values())
    assert len(data["labels"]) == 24
    hour = traffic.replace(minute=0)
    assert data["labels"][-1] == timezone.localtime(hour).strftime("%H:00")
    assert data["labels"][0] == timezone.localtime(hour - timedelta(hours=23)).strftime("%H:00")
    received = data["series"]["received"]
    assert received[23] == 1200 and received[21] == 300
    assert sum(received) == 1500 and received.count(0) == 22
    assert data["series"]["rejected"][23] == 55 and data["series"]["deferred"][21] == 5


def test_30_days_are_30_zero_filled_points(login, traffic):
    data = traffic_json(login("alice"), range="30d")
    assert len(data["labels"]) == 30 and all(len(p) == 30 for p in data["series"].values())
    today = timezone.localdate(traffic)
    assert data["labels"][-1] == f"{today:%b} {today.day}"
    received = data["series"]["received"]
    assert sum(received) == 1200 + 300 + 1000 + 777  # not the row of 40 days ago
    assert received[19] == 777


def test_days_are_days_of_the_site_zone(login, now, example, settings):
    settings.TIME_ZONE = "America/New_York"
    midnight = timezone.localtime(now).replace(hour=0, minute=0)
    HostHour.objects.create(hour=midnight + timedelta(hours=1), host="mx1", received=5)
    HostHour.objects.create(hour=midnight - timedelta(hours=1), host="mx1", received=7)  # 23:00 yesterday
    received = traffic_json(login("alice"), range="30d")["series"]["received"]
    assert received[-1] == 5 and received[-2] == 7 and sum(received) == 12


def test_an_unknown_range_is_a_bad_request(login, traffic):
    assert login("alice").get(reverse("dashboard-traffic"), {"range": "1y"}).status_code == 400


# --- Empty states and the ingestion line ----------------------------------------------------


def test_no_log_read_yet_tells_the_admin_what_to_run(login, example):
    html = page(login("alice"))
    assert "No mail log has been read yet" in html
    assert "aliasdesk logingest /var/log/mail.log" in html
    assert card(html, "received") == "0"
    assert "Nothing logged in the last 7 days" in html


def test_no_log_read_yet_tells_an_editor_who_does_it(login, example):
    html = page(login("bob"))
    assert "No mail log has been read yet" in html and "aliasdesk logingest" not in html


def test_the_ingestion_line_shows_the_sources_to_admins_only(login, traffic):
    LogSource.objects.create(node="mx1", path="/var/log/mail.log", lines=12345,
                             last_read_at=traffic - timedelta(minutes=3), last_line_at=traffic.replace(minute=0))
    admin = page(login("alice"))
    assert "mx1:/var/log/mail.log" in admin and "last read" in admin
    editor = page(login("bob"))
    assert "last read" in editor and "/var/log/mail.log" not in editor


def test_the_page_takes_a_fixed_number_of_queries(login, traffic, django_assert_max_num_queries):
    client = login("alice")
    with django_assert_max_num_queries(20):
        page(client)
