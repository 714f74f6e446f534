"""Sorting the alias grid by its columns: ?order=, whitelisted, ties by key, kept across pages and search."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aliasdesk.aliases import views
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import ORDERS, SORTS, AliasPaginator, AliasQuery
from aliasdesk.aliases.services import create_alias, soft_delete_alias
from aliasdesk.maillog.models import AliasDay, AliasUsage

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

Login = Callable[[str], Client]


@pytest.fixture
def mixed(example: Domain) -> Domain:
    """example.com with info@, sales@ and: b@ (off, mail 5), a@ (mail 5, seen an hour ago),
    c@ (mail 9, seen a day ago), all changed at the same moment."""
    b = create_alias(example, "b@example.com", "zed@example.org", enabled=False)
    a = create_alias(example, "a@example.com", "amy@example.org")
    c = create_alias(example, "c@example.com", "amy@example.org")
    today, now = timezone.localdate(), timezone.now()
    for alias, received in ((a, 5), (b, 5), (c, 9)):
        AliasDay.objects.create(alias=alias, day=today - timedelta(days=1), received=received)
    AliasDay.objects.create(alias=c, day=today - timedelta(days=40), received=100)  # too old to count
    for alias, ago in ((a, timedelta(hours=1)), (c, timedelta(days=1))):
        AliasUsage.objects.create(alias=alias, first_seen=now - ago, last_seen=now - ago)
    Alias.objects.filter(domain=example).update(updated_at=now)
    Alias.objects.filter(key="info@example.com").update(updated_at=now - timedelta(days=3))
    return example


def keys(domain: Domain, order: str, **query: str) -> list[str]:
    page = AliasPaginator(domain, AliasQuery(order=order, **query), 50).get_page(1)
    return [a.key.split("@")[0] for a in page.object_list]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("file", ["info", "sales", "b", "a", "c"]),
        ("key", ["a", "b", "c", "info", "sales"]),
        ("-key", ["sales", "info", "c", "b", "a"]),
        ("dest", ["a", "c", "info", "sales", "b"]),  # amy, amy, anna, carla, zed: ties by key
        ("-dest", ["b", "sales", "info", "c", "a"]),  # the exact reverse
        ("on", ["b", "a", "c", "info", "sales"]),  # off first
        ("-on", ["sales", "info", "c", "a", "b"]),
        ("traffic", ["info", "sales", "a", "b", "c"]),
        ("-traffic", ["c", "b", "a", "sales", "info"]),
        ("seen", ["b", "info", "sales", "c", "a"]),  # never seen is longest ago
        ("-seen", ["a", "c", "sales", "info", "b"]),
        ("updated", ["info", "a", "b", "c", "sales"]),
        ("-updated", ["sales", "c", "b", "a", "info"]),
    ],
)
def test_each_column_sorts_both_ways_with_ties_by_key(mixed: Domain, order: str, expected: list[str]):
    assert keys(mixed, order) == expected
    # the same through the search's list of matching ids
    assert keys(mixed, order, q="example") == expected


def test_only_known_orders_are_taken(mixed: Domain):
    assert AliasQuery.from_params({"order": "-traffic"}).order == "-traffic"
    for bad in ("password", "-", "--key", "key_folded", "id"):
        assert AliasQuery.from_params({"order": bad}).order == "file"
    assert {"file", "key", "-key", "updated", "-updated"} <= ORDERS  # the API's orders


def headers(html: str) -> dict[str, tuple[str, str, str]]:
    """Each sortable header's link target, aria-sort and arrow."""
    found = {}
    for attrs, href, body in re.findall(r'<th scope="col"([^>]*)><a href="([^"]+)"[^>]*>(.*?)</a></th>', html, re.S):
        label = re.sub(r"<[^>]+>|[▲▼]", "", body).strip()
        aria = re.search(r'aria-sort="(\w+)"', attrs)
        arrow = re.search(r"[▲▼]", body)
        found[label] = (href.replace("&amp;", "&"), aria.group(1) if aria else "", arrow.group(0) if arrow else "")
    return found


def test_headers_link_to_their_sort_and_mark_the_current_one(mixed: Domain, login: Login):
    html = login("bob").get(f"/domains/{mixed.name}/", {"q": "example", "order": "-traffic", "page": "1"}).content
    shown = headers(html.decode())
    assert shown["Mail, 30 d"] == ("?q=example&show=all&order=traffic", "descending", "▼")
    assert shown["Address"] == ("?q=example&show=all&order=key", "", "")
    assert shown["Destinations"] == ("?q=example&show=all&order=dest", "", "")
    assert shown["On/off"] == ("?q=example&show=all&order=on", "", "")
    assert shown["Changed"] == ("?q=example&show=all&order=-updated", "", "")
    assert shown["Last seen"] == ("?q=example&show=all&order=-seen", "", "")
    html = login("bob").get(f"/domains/{mixed.name}/", {"order": "key"}).content.decode()
    assert headers(html)["Address"] == ("?show=all&order=-key", "ascending", "▲")
    assert len(SORTS) == len(headers(html))


def test_the_order_is_kept_across_pages_and_in_the_search_form(mixed: Domain, login: Login, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client = login("bob")
    first = client.get(f"/domains/{mixed.name}/", {"order": "-key"}).content.decode()
    assert '<input type="hidden" name="order" value="-key">' in first
    nxt = re.search(r'href="\?([^"]*)" rel="next"', first)
    assert nxt and "order=-key" in nxt.group(1)
    second = client.get(f"/domains/{mixed.name}/?{nxt.group(1).replace('&amp;', '&')}").content.decode()
    assert re.findall(r'<td class="key">([^<\s@]+)', second) == ["c", "b"]


def test_the_grid_shows_on_and_off(mixed: Domain, login: Login):
    html = login("bob").get(f"/domains/{mixed.name}/", {"order": "on"}).content.decode()
    states = re.findall(r'<td class="onoff"><span class="badge[^"]*">(\w+)</span>', html)
    assert states == ["off", "on", "on", "on", "on"]


@pytest.mark.parametrize("name", SORTS)
def test_descending_is_the_exact_reverse(mixed: Domain, name: str):
    assert keys(mixed, f"-{name}") == keys(mixed, name)[::-1]


@pytest.mark.parametrize("order", ["-traffic", "seen", "dest"])
def test_this_views_download_keeps_the_order(mixed: Domain, login: Login, order: str):
    response = login("bob").get(f"/domains/{mixed.name}/aliases.csv", {"q": "example", "order": order})
    lines = b"".join(response.streaming_content).decode().splitlines()[1:]
    assert [line.split(",")[0].split("@")[0] for line in lines] == keys(mixed, order)


def test_a_kept_page_never_outlives_a_change(login: Login, example: Domain) -> None:
    """Grid pages are kept under the domain's serial (search.AliasPaginator.walk): every change
    through the services shows on the next view, in every order the page may be kept in."""
    client = login("alice")
    for order in ("file", "key", "-updated"):
        assert "late@example.com" not in client.get(f"/domains/example.com/?order={order}").content.decode()
    alias = create_alias(example, "late@example.com", "amy@example.org")
    for order in ("file", "key", "-updated"):
        assert "late@example.com" in client.get(f"/domains/example.com/?order={order}").content.decode()
    views_of_traffic = AliasPaginator(Domain.objects.get(pk=example.pk), AliasQuery(order="traffic"), 50, fresh=True)
    assert views_of_traffic._kept_key(0, 50) is None  # the mail logs change it, not the serial
    soft_delete_alias(alias, version=alias.version)
    assert "late@example.com" not in client.get("/domains/example.com/").content.decode()
