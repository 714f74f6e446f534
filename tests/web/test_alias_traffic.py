"""The alias grid's traffic columns (mail in 30 days, last seen) and its "unused for N days" filter."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.maillog.models import AliasDay, AliasUsage

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

Login = Callable[[str], Client]


def row_html(html: str, alias: Alias) -> str:
    found = re.search(rf'<tr id="alias-{alias.pk}".*?</tr>', html, re.S)
    assert found, f"no row for {alias.key}"
    return found.group(0)


def cell(row: str, css: str) -> str:
    found = re.search(rf'<td class="{css}[^"]*"(?P<attrs>[^>]*)>(?P<body>.*?)</td>', row, re.S)
    assert found, f"no {css} cell in {row}"
    return found.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def grid(client: Client, domain: str = "example.com", **params: str) -> str:
    response = client.get(f"/domains/{domain}/", params)
    assert response.status_code == 200
    return response.content.decode().replace("<wbr>", "")  # the break points of long addresses


def shown_keys(html: str) -> set[str]:
    return set(re.findall(r'<td class="key">([^<\s]+)', html))


def count_mail(alias: Alias, days_ago: int, received: int, delivered: int = 0, deferred: int = 0,
               bounced: int = 0) -> None:
    AliasDay.objects.create(
        alias=alias, day=timezone.localdate() - timedelta(days=days_ago),
        received=received, delivered=delivered, deferred=deferred, bounced=bounced,
    )


def seen(alias: Alias, ago: timedelta) -> AliasUsage:
    moment = timezone.now() - ago
    usage, _ = AliasUsage.objects.update_or_create(alias=alias, defaults={"first_seen": moment, "last_seen": moment})
    return usage


def age(alias: Alias, days: int) -> None:
    Alias.objects.filter(pk=alias.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_grid_shows_mail_of_the_last_30_days_and_when_last_seen(example: Domain, login: Login):
    info = Alias.objects.get(key="info@example.com")
    sales = Alias.objects.get(key="sales@example.com")
    count_mail(info, 0, received=5, delivered=4, deferred=1)
    count_mail(info, 10, received=3, delivered=2, bounced=1)
    count_mail(info, 29, received=2, delivered=2)
    count_mail(info, 30, received=100, delivered=100)  # 31 days ago counting today: outside
    seen(info, timedelta(days=3, hours=2))

    html = grid(login("bob"))

    traffic = cell(row_html(html, info), "traffic")
    assert text(traffic).startswith("10 ")
    assert "1 bounced" in text(traffic)
    assert 'title="last 30 days: 10 received, 8 delivered, 1 deferred, 1 bounced"' in traffic
    last_seen = cell(row_html(html, info), "seen")
    assert text(last_seen) == "3 days ago"
    moment = timezone.localtime(AliasUsage.objects.get(alias=info).last_seen)
    assert f'title="{moment:%Y-%m-%d %H:%M:%S}"' in last_seen

    assert text(cell(row_html(html, sales), "traffic")) == "0"
    assert text(cell(row_html(html, sales), "seen")) == "never"
    assert "Last seen" in html and "Mail, 30 d" in html


def test_a_single_row_shows_its_traffic_too(example: Domain, login: Login):
    info = Alias.objects.get(key="info@example.com")
    count_mail(info, 1, received=7, delivered=7)
    seen(info, timedelta(minutes=20))
    client = login("bob")

    row = client.get(f"/domains/example.com/aliases/{info.pk}/").content.decode()
    assert text(cell(row, "traffic")) == "7"
    assert text(cell(row, "seen")) == "20 minutes ago"

    toggled = client.post(f"/domains/example.com/aliases/{info.pk}/toggle", {"version": info.version})
    assert text(cell(toggled.content.decode(), "traffic")) == "7"


def test_the_row_cache_never_serves_old_traffic(example: Domain, login: Login):
    info = Alias.objects.get(key="info@example.com")
    count_mail(info, 2, received=4, delivered=4)
    seen(info, timedelta(days=2))
    client = login("dave")
    assert text(cell(row_html(grid(client), info), "traffic")) == "4"
    assert text(cell(row_html(grid(client), info), "traffic")) == "4"  # now from the cache

    # Ingestion adds to the counters without touching the alias (no new version).
    AliasDay.objects.filter(alias=info).update(received=9, delivered=9)
    count_mail(info, 0, received=1, delivered=1)
    seen(info, timedelta(minutes=5))
    html = grid(client)

    assert text(cell(row_html(html, info), "traffic")) == "10"
    assert text(cell(row_html(html, info), "seen")) == "5 minutes ago"


@pytest.fixture
def ages(example: Domain) -> dict[str, Alias]:
    """example.com's aliases by what their traffic says, for ``?unused=90``."""
    domain = example
    made = {
        "never-old": create_alias(domain, "never-old@example.com", "a@example.org"),
        "seen-long-ago": create_alias(domain, "seen-long-ago@example.com", "a@example.org"),
        "seen-recently": create_alias(domain, "seen-recently@example.com", "a@example.org"),
        "never-new": create_alias(domain, "never-new@example.com", "a@example.org"),
        "disabled-old": create_alias(domain, "disabled-old@example.com", "a@example.org", enabled=False),
        "deleted-old": create_alias(domain, "deleted-old@example.com", "a@example.org"),
        "seen-at-the-edge": create_alias(domain, "seen-at-the-edge@example.com", "a@example.org"),
    }
    for key in ("info@example.com", "sales@example.com"):
        made[key] = Alias.objects.get(key=key)
        age(made[key], 20)  # young: never listed
    for name, alias in made.items():
        if name != "never-new" and "@" not in name:
            age(alias, 200)
    age(made["never-new"], 30)
    seen(made["seen-long-ago"], timedelta(days=100))
    seen(made["seen-recently"], timedelta(days=10))
    seen(made["seen-at-the-edge"], timedelta(days=89, hours=23))
    Alias.objects.filter(pk=made["deleted-old"].pk).update(deleted_at=timezone.now())
    return made


def test_unused_filter_lists_exactly_the_old_switched_on_aliases_without_recent_mail(
    ages: dict[str, Alias], login: Login
):
    html = grid(login("bob"), unused="90")
    assert shown_keys(html) == {"never-old@example.com", "seen-long-ago@example.com"}
    assert '<option value="90" selected>' in html
    assert "2 aliases" in html

    assert shown_keys(grid(login("bob"), unused="15")) == {
        "never-old@example.com", "seen-long-ago@example.com", "never-new@example.com",
        "info@example.com", "sales@example.com", "seen-at-the-edge@example.com",
    }
    assert shown_keys(grid(login("bob"), unused="365")) == set()


def test_unused_filter_works_with_search_order_and_paging(ages: dict[str, Alias], example: Domain, login: Login):
    client = login("bob")
    assert shown_keys(grid(client, unused="90", q="long")) == {"seen-long-ago@example.com"}
    html = grid(client, unused="90", order="-key")
    assert html.index("seen-long-ago@example.com") < html.index("never-old@example.com")
    assert "unused=90" in html  # the sort links keep the filter

    many = [
        Alias(domain=example, key=f"old{i:03}@example.com", key_folded=f"old{i:03}@example.com",
              destinations="a@example.org")
        for i in range(60)
    ]
    Alias.objects.bulk_create(many)
    Alias.objects.filter(key__startswith="old").update(created_at=timezone.now() - timedelta(days=400))
    first = grid(client, unused="90")
    assert "62 aliases, page 1 of 2" in first
    assert re.search(r'href="\?[^"]*unused=90[^"]*page=2" rel="next"', first)
    second = grid(client, unused="90", page="2")
    assert len(shown_keys(second)) == 12


def test_an_editor_switches_off_what_the_filter_selected(ages: dict[str, Alias], login: Login):
    client = login("bob")
    html = grid(client, unused="90")
    ids = re.findall(r'name="ids" value="(\d+)"', html)
    assert len(ids) == 2
    back = "/domains/example.com/?unused=90"
    assert f'name="next" value="{back}"' in html

    response = client.post("/domains/example.com/aliases/bulk", {"action": "disable", "ids": ids, "next": back})

    assert response.status_code == 302 and response["Location"] == back
    assert not Alias.objects.filter(pk__in=ids, enabled=True).exists()
    assert shown_keys(grid(client, unused="90")) == set()
    assert "No alias here has gone 90 days without mail." in grid(client, unused="90")


def test_unused_filter_stays_within_the_editors_domains(ages: dict[str, Alias], other: Domain, login: Login):
    age(Alias.objects.get(key="info@other.org"), 200)
    assert login("bob").get("/domains/other.org/", {"unused": "90"}).status_code == 404
    assert login("erin").get("/domains/example.com/", {"unused": "90"}).status_code == 404
    assert shown_keys(grid(login("alice"), "other.org", unused="90")) == {"info@other.org"}


@pytest.mark.parametrize("value", ["abc", "0", "-5", "99999999", "", "1e3", "12a"])
def test_a_bad_unused_value_is_no_filter(ages: dict[str, Alias], login: Login, value: str):
    html = grid(login("bob"), unused=value)
    assert "seen-recently@example.com" in shown_keys(html)
    select = html.split('id="unused"', 1)[1].split("</select>", 1)[0]
    assert "selected" not in select


def page_queries(client: Client, domain: str) -> list[str]:
    grid(client, domain)  # counts and row cache warm, as on a busy site
    with CaptureQueriesContext(connection) as queries:
        grid(client, domain)
    return [q["sql"] for q in queries.captured_queries]


def test_the_traffic_of_a_page_costs_one_query_whatever_the_number_of_rows(login: Login, map_dir):
    small = create_domain("small.example", map_path=map_dir / "small.example")
    big = create_domain("big.example", map_path=map_dir / "big.example")
    for domain, count in ((small, 5), (big, 50)):
        for i in range(count):
            alias = create_alias(domain, f"user{i}@{domain.name}", "a@example.org")
            count_mail(alias, i % 30, received=i + 1, delivered=i)
            seen(alias, timedelta(hours=i + 1))
    client = login("alice")

    five, fifty = page_queries(client, "small.example"), page_queries(client, "big.example")

    assert len(fifty) == len(five)
    assert sum("maillog_aliasday" in sql for sql in fifty) == 1
    assert sum("maillog_aliasusage" in sql for sql in fifty) == 1
    assert any("maillog_aliasday" in sql and "maillog_aliasusage" in sql for sql in fifty)
    assert len(shown_keys(grid(client, "big.example"))) == 50
