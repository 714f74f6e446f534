"""The unused-aliases report: who sees which domains, its CSV, and what it makes of bad input."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias
from aliasdesk.maillog.models import AliasUsage, LogSource
from aliasdesk.maillog.report_views import csv_cell

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

Login = Callable[[str], Client]
URL = "/traffic/unused/"


def age(days: int, **lookup: object) -> None:
    Alias.objects.filter(**lookup).update(created_at=timezone.now() - timedelta(days=days))


def seen(key: str, days_ago: int) -> None:
    moment = timezone.now() - timedelta(days=days_ago)
    AliasUsage.objects.create(alias=Alias.objects.get(key=key), first_seen=moment, last_seen=moment)


@pytest.fixture
def world(example: Domain, other: Domain) -> dict[str, Domain]:
    """Everything 200 days old; sales@example.com had mail 5 days ago, info@example.com 120 days ago."""
    create_alias(example, "old-off@example.com", "x@example.org", enabled=False)
    age(200)
    seen("sales@example.com", 5)
    seen("info@example.com", 120)
    return {"example.com": example, "other.org": other}


def listed(html: str) -> list[str]:
    return re.findall(r'<td class="key"><a href="[^"]*">([^<]+)</a>', html)


def get(client: Client, **params: str) -> str:
    response = client.get(URL, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode().replace("<wbr>", "")  # the break points of long addresses


def read_csv(client: Client, **params: str) -> list[dict[str, str]]:
    response = client.get(URL, {**params, "format": "csv"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="unused-aliases-')
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(body)))


def test_it_needs_a_signed_in_user(world: dict[str, Domain]):
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("alice", ["info@example.com", "info@other.org"]),
        ("carol", ["info@example.com", "info@other.org"]),
        ("bob", ["info@example.com"]),
        ("dave", ["info@example.com"]),
        ("erin", []),
    ],
)
def test_each_user_sees_the_unused_aliases_of_their_domains_only(
    world: dict[str, Domain], login: Login, user: str, expected: list[str]
):
    client = login(user)
    html = get(client)
    assert listed(html) == expected
    assert [row["address"] for row in read_csv(client)] == expected
    if user == "erin":
        assert "You may not see any domain." in html
    if "info@other.org" not in expected:
        assert "other.org" not in html


def test_a_domain_the_user_may_not_see_answers_404(world: dict[str, Domain], login: Login):
    assert login("bob").get(URL, {"domain": "other.org"}).status_code == 404
    assert login("bob").get(URL, {"domain": "other.org", "format": "csv"}).status_code == 404
    assert login("erin").get(URL, {"domain": "example.com"}).status_code == 404
    assert login("alice").get(URL, {"domain": "nowhere.example"}).status_code == 404
    assert listed(get(login("alice"), domain="other.org")) == ["info@other.org"]
    assert listed(get(login("bob"), domain="EXAMPLE.com")) == ["info@example.com"]


def test_rows_show_domain_destinations_dates_and_link_to_the_grid(world: dict[str, Domain], login: Login):
    html = get(login("alice"), days="90")
    row = re.search(r"<tr>\s*<td class=\"key\"><a[^>]*>info@example.com</a>.*?</tr>", html, re.S)
    assert row
    cells = row.group(0)
    assert 'href="/domains/example.com/?q=info%40example.com"' in cells
    assert "anna@example.org, ben@example.org" in cells
    created = timezone.localtime(Alias.objects.get(key="info@example.com").created_at)
    assert f"{created:%Y-%m-%d}" in cells
    last_seen = timezone.localtime(AliasUsage.objects.get(alias__key="info@example.com").last_seen)
    assert f"{last_seen:%Y-%m-%d}" in cells
    other = re.search(r"<tr>\s*<td class=\"key\"><a[^>]*>info@other.org</a>.*?</tr>", html, re.S)
    assert other and "never" in other.group(0)


def test_days_choose_how_long_counts_as_unused(world: dict[str, Domain], login: Login):
    client = login("alice")
    assert listed(get(client, days="90")) == ["info@example.com", "info@other.org"]
    assert listed(get(client, days="180")) == ["info@other.org"]  # info@ was seen 120 days ago
    assert listed(get(client, days="3")) == ["info@example.com", "sales@example.com", "info@other.org"]
    assert listed(get(client, days="365")) == []  # nothing is that old
    html = get(client, days="180")
    assert 'href="?days=180" aria-current="page"' in html
    assert 'value="180"' in html


@pytest.mark.parametrize("value", ["abc", "0", "-5", "3651", "99999999999999999999999", "1e3", "9" * 5000, " "])
def test_a_bad_number_of_days_says_so_and_shows_the_default(world: dict[str, Domain], login: Login, value: str):
    client = login("alice")
    html = get(client, days=value)
    assert listed(html) == ["info@example.com", "info@other.org"]  # 90 days
    assert 'value="90"' in html
    if value.strip():
        assert "is not a number of days from 1 to 3650: showing 90 days." in html
    assert len(read_csv(client, days=value)) == 2


def test_the_csv_holds_the_same_rows(world: dict[str, Domain], login: Login):
    rows = read_csv(login("alice"), days="90")
    assert [(r["address"], r["domain"], r["destinations"], r["last_seen"]) for r in rows] == [
        ("info@example.com", "example.com", "anna@example.org, ben@example.org",
         timezone.localtime(AliasUsage.objects.get(alias__key="info@example.com").last_seen).isoformat(
             timespec="seconds")),
        ("info@other.org", "other.org", "dora@example.org", "never"),
    ]
    created = timezone.localtime(Alias.objects.get(key="info@other.org").created_at)
    assert rows[1]["created"] == created.isoformat(timespec="seconds")
    response = login("alice").get(URL, {"days": "30", "domain": "example.com", "format": "csv"})
    assert 'filename="unused-aliases-example.com-30d.csv"' in response["Content-Disposition"]


def test_the_csv_cannot_carry_a_formula(world: dict[str, Domain], login: Login):
    example = world["example.com"]
    for key, destinations in [
        ("=HYPERLINK(\"http://evil.example\")@example.com", "+1-555@example.org"),
        ("@SUM(A1)@example.com", "-cmd@example.org"),
    ]:
        Alias.objects.create(domain=example, key=key, key_folded=key.lower(), destinations=destinations)
    age(200)
    rows = {r["address"]: r for r in read_csv(login("bob"))}
    assert rows["'=HYPERLINK(\"http://evil.example\")@example.com"]["destinations"] == "'+1-555@example.org"
    assert rows["'@SUM(A1)@example.com"]["destinations"] == "'-cmd@example.org"
    assert rows["info@example.com"]["address"] == "info@example.com"


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@a", "'@a"), ("\tx", "'\tx"), ("a=b", "a=b"), (None, "")],
)
def test_csv_cells_starting_like_a_formula_get_a_quote(value: str | None, cell: str):
    assert csv_cell(value) == cell


def test_the_page_says_where_last_seen_comes_from(world: dict[str, Domain], login: Login):
    html = get(login("bob"))
    assert "No mail log has been read: every alias looks unused." in html
    assert "mail-log ingestion" in html

    LogSource.objects.create(node="mx1", path="/var/log/mail.log", last_read_at=timezone.now() - timedelta(hours=2))
    LogSource.objects.create(node="mx2", path="/var/log/mail.log", last_read_at=timezone.now() - timedelta(days=3))
    html = get(login("bob"))
    assert "No mail log has been read" not in html
    assert re.search(r"logs last read <time[^>]*>2\xa0hours ago</time>", html)


def test_it_pages_through_many_aliases(world: dict[str, Domain], login: Login):
    example = world["example.com"]
    Alias.objects.bulk_create(
        Alias(domain=example, key=f"old{i:03}@example.com", key_folded=f"old{i:03}@example.com",
              destinations="a@example.org")
        for i in range(120)
    )
    age(200)
    client = login("bob")
    first = get(client, days="90")
    assert "121 unused aliases, page 1 of 2" in first
    assert len(listed(first)) == 100
    assert 'href="?days=90&amp;page=2" rel="next"' in first
    second = get(client, days="90", page="2")
    assert len(listed(second)) == 21
    assert len(read_csv(client, days="90")) == 121
    assert 'href="/domains/example.com/?unused=90"' in get(client, days="90", domain="example.com")


def test_it_takes_no_post(world: dict[str, Domain], login: Login):
    assert login("alice").post(URL).status_code == 405
