"""The reports besides a domain's aliases: the audit log for a period (before → after), deploy
history, unused and expiring aliases, and one line per domain; who may read each."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, update_alias
from aliasdesk.deploys.models import Deploy
from aliasdesk.maillog.models import AliasDay, AliasUsage
from tests.web.report_files import body, csv_rows, ods_rows, xlsx_rows

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

Login = Callable[[str], Client]
FORMATS = {"csv": csv_rows, "xlsx": xlsx_rows, "ods": ods_rows}


def rows_of(client: Client, url: str, **params: str) -> list[list[str]]:
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return FORMATS[url.rsplit(".", 1)[1]](body(response))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# --- the audit report --------------------------------------------------------------------------


@pytest.fixture
def changes(example: Domain, other: Domain, everyone) -> Domain:  # type: ignore[no-untyped-def]
    """bob changes sales@example.com's destinations and switches it off; alice adds one to other.org."""
    sales = Alias.objects.get(key="sales@example.com")
    sales = update_alias(sales, version=sales.version, user=everyone["bob"], destinations="new@example.org")
    update_alias(sales, version=sales.version, user=everyone["bob"], enabled=False, comment="=1+1")
    create_alias(other, "new@other.org", "x@example.org", user=everyone["alice"])
    return example


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_the_audit_report_says_who_changed_what_before_and_after(changes: Domain, login: Login, fmt: str):
    rows = as_dicts(rows_of(login("carol"), f"/reports/audit.{fmt}", domain="example.com", kind="alias"))
    by_bob = [r for r in rows if r["Who"] == "bob"]
    assert {(r["Subject"], r["Action"], r["Field"], r["Before"], r["After"]) for r in by_bob} >= {
        ("sales@example.com", "changed", "destinations", "carla@example.org", "new@example.org"),
        ("sales@example.com", "changed", "enabled", "on", "off"),
    }
    comment = next(r for r in by_bob if r["Field"] == "comment")
    assert comment["After"] == ("'=1+1" if fmt == "csv" else "=1+1"), "a formula stays text"
    assert all(r["Domain"] == "example.com" for r in rows), "only the domain asked for"
    created = [r for r in rows if r["Subject"] == "info@example.com" and r["Action"] == "created"]
    assert {(r["Field"], r["Before"], r["After"]) for r in created} >= {
        ("destinations", "", "anna@example.org, ben@example.org"),
        ("comment", "", "OPS-1"),
    }
    assert rows[0]["When"] >= rows[-1]["When"], "newest first"


def test_the_audit_report_covers_a_period_and_a_user(changes: Domain, login: Login):
    client = login("alice")
    today = timezone.localdate()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert rows_of(client, "/reports/audit.csv", since=tomorrow)[1:] == []
    by_alice = as_dicts(rows_of(client, "/reports/audit.csv", user="alice", since=today.isoformat(), kind="alias"))
    assert {r["Subject"] for r in by_alice} == {"new@other.org"}
    everything = as_dicts(rows_of(client, "/reports/audit.csv"))
    assert {"example.com", "other.org"} <= {r["Domain"] for r in everything}


def test_the_audit_report_reads_past_one_batch(changes: Domain, login: Login, monkeypatch):
    from aliasdesk.web.reports import rows_history

    monkeypatch.setattr(rows_history, "AUDIT_BATCH", 2)
    small = as_dicts(rows_of(login("carol"), "/reports/audit.csv", kind="alias"))
    monkeypatch.setattr(rows_history, "AUDIT_BATCH", 500)
    assert small == as_dicts(rows_of(login("carol"), "/reports/audit.csv", kind="alias"))
    changes = {(r["Subject"], r["Action"], r["Field"], r["After"]) for r in small}
    assert len(changes) == len(small) >= 7, "several batches, no row twice"


def test_the_printable_audit_report(changes: Domain, login: Login):
    response = login("carol").get("/reports/audit.html", {"domain": "example.com", "user": "bob"})
    html = body(response).decode()
    assert "Audit log · example.com" in html and "by or about bob" in html
    assert "<td>carla@example.org</td><td>new@example.org</td>" in html
    assert 'href="/audit/?user=bob&amp;domain=example.com"' in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods", "html"])
def test_only_admins_and_auditors_read_the_audit_report(changes: Domain, login: Login, fmt: str):
    for name in ("bob", "dave", "erin"):
        assert login(name).get(f"/reports/audit.{fmt}").status_code == 404, name
    for name in ("alice", "carol"):
        assert login(name).get(f"/reports/audit.{fmt}").status_code == 200, name


def test_the_audit_page_links_its_downloads(changes: Domain, login: Login):
    page = login("carol").get("/audit/", {"domain": "example.com"}).content.decode()
    for fmt in ("csv", "xlsx", "ods", "html"):
        assert f'href="/reports/audit.{fmt}?domain=example.com&amp;"' in page, fmt


# --- deploy history ----------------------------------------------------------------------------


def _deploy(domain: Domain, status: str, **fields: object) -> Deploy:
    return Deploy.objects.create(domain=domain, status=status, serial=1, sha256="a" * 64, **fields)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_the_deploy_history_report(example: Domain, other: Domain, login: Login, everyone, fmt: str):  # type: ignore[no-untyped-def]
    _deploy(example, Deploy.Status.OK, user=everyone["bob"], alias_count=2, timings={"total": 0.1234}, method="full")
    _deploy(example, Deploy.Status.FAILED, error="postmap: fatal: =oops")
    _deploy(other, Deploy.Status.OK)
    rows = as_dicts(rows_of(login("dave"), f"/domains/example.com/deploys.{fmt}"))
    assert [(r["Who"], r["Outcome"], r["Aliases"]) for r in rows] == [
        ("command line", "Failed", "0"), ("bob", "Deployed", "2"),
    ]
    assert rows[1]["Seconds"] == "0.12" and rows[1]["Method"] == "Full build" and rows[1]["SHA-256"] == "a" * 64
    assert rows[0]["Error"] == "postmap: fatal: =oops"
    assert login("dave").get("/domains/other.org/deploys.csv").status_code == 404
    page = login("dave").get("/domains/example.com/deploys/").content.decode()
    assert 'href="/domains/example.com/deploys.xlsx"' in page


# --- unused and expiring aliases ---------------------------------------------------------------


@pytest.fixture
def aged(example: Domain, other: Domain) -> None:
    Alias.objects.update(created_at=timezone.now() - datetime.timedelta(days=200))
    moment = timezone.now() - datetime.timedelta(days=5)
    AliasUsage.objects.create(alias=Alias.objects.get(key="sales@example.com"), first_seen=moment, last_seen=moment)


@pytest.mark.usefixtures("aged")
def test_the_unused_report_lists_only_visible_domains(login: Login):
    rows = as_dicts(rows_of(login("bob"), "/reports/unused.xlsx", days="90"))
    assert [(r["Domain"], r["Address"], r["Last seen"]) for r in rows] == [("example.com", "info@example.com", "never")]
    everything = as_dicts(rows_of(login("alice"), "/reports/unused.csv", days="90"))
    assert {r["Address"] for r in everything} == {"info@example.com", "info@other.org"}
    assert login("bob").get("/reports/unused.csv", {"domain": "other.org"}).status_code == 404
    page = login("bob").get("/traffic/unused/", {"days": "90"}).content.decode()
    assert 'href="/reports/unused.ods?days=90"' in page


def test_the_expiring_report(example: Domain, other: Domain, login: Login):
    today = timezone.localdate()
    create_alias(example, "soon@example.com", "x@example.org", valid_until=today + datetime.timedelta(days=10))
    create_alias(example, "later@example.com", "x@example.org", valid_until=today + datetime.timedelta(days=100))
    create_alias(other, "hidden@other.org", "x@example.org", valid_until=today + datetime.timedelta(days=3))
    rows = as_dicts(rows_of(login("dave"), "/reports/expiring.csv", days="30"))
    assert [(r["Address"], r["Days left"]) for r in rows] == [("soon@example.com", "10")]
    rows = as_dicts(rows_of(login("alice"), "/reports/expiring.ods", days="365"))
    assert [r["Address"] for r in rows] == ["hidden@other.org", "soon@example.com", "later@example.com"]
    assert login("dave").get("/reports/expiring.csv", {"domain": "other.org"}).status_code == 404
    html = body(login("dave").get("/reports/expiring.html", {"domain": "example.com"})).decode()
    assert "Expiring aliases · example.com" in html and "soon@example.com" in html


# --- one line per domain -----------------------------------------------------------------------


def test_the_domain_summary(example: Domain, other: Domain, login: Login):
    alias = Alias.objects.get(key="info@example.com")
    AliasDay.objects.create(alias=alias, day=timezone.localdate(), received=7)
    AliasDay.objects.create(alias=alias, day=timezone.localdate() - datetime.timedelta(days=60), received=1000)
    Deploy.objects.create(domain=example, status=Deploy.Status.OK, serial=1)
    rows = as_dicts(rows_of(login("alice"), "/reports/domains.xlsx"))
    assert [r["Domain"] for r in rows] == ["example.com", "other.org"]
    com = rows[0]
    assert (com["Aliases on"], com["Off"], com["In trash"]) == ("2", "0", "0")
    assert com["Mail received, 30 days"] == "7" and com["Last deploy outcome"] == "Deployed"
    assert rows[1]["State"] == "not deployed yet" and rows[1]["Last deploy"] == "never"
    assert [r["Domain"] for r in as_dicts(rows_of(login("bob"), "/reports/domains.csv"))] == ["example.com"]
    assert rows_of(login("erin"), "/reports/domains.csv") == [rows_of(login("alice"), "/reports/domains.csv")[0]]
    page = login("alice").get("/domains/").content.decode()
    assert 'href="/reports/domains.xlsx"' in page and 'href="/reports/expiring.html?days=30"' in page
