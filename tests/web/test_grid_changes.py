"""After a change in the alias grid, the page head's counts and changes not deployed come along
(htmx out-of-band swaps); the "changed" column's time; ticket links in the grid."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from aliasdesk.aliases.models import Alias, Domain

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

Login = Callable[[str], Client]
HTMX = {"HX-Request": "true"}


def status(html: str) -> str:
    """The text of the page head's counts (the outer span and the spans within)."""
    start = html.index('<span id="domain-status"')
    depth, end = 0, start
    for tag in re.finditer(r"<(/?)span\b[^>]*>", html[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            end = start + tag.end()
            break
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[start:end])).strip()


def oob(html: str) -> bool:
    return bool(re.search(r'<span id="domain-status" class="domain-status" hx-swap-oob="true">', html))


def deployed(domain: Domain) -> None:
    Domain.objects.filter(pk=domain.pk).update(deployed_serial=Domain.objects.get(pk=domain.pk).serial)


def test_the_page_shows_counts_and_how_many_changes_wait(example: Domain, login: Login):
    page = login("bob").get(f"/domains/{example.name}/").content.decode()
    assert status(page) == "2 on 0 off not deployed yet" and not oob(page)
    deployed(example)
    assert status(login("bob").get(f"/domains/{example.name}/").content.decode()) == "2 on 0 off"


def test_switching_off_sends_the_counts_out_of_band(example: Domain, login: Login):
    deployed(example)
    info = Alias.objects.get(key="info@example.com")
    response = login("bob").post(
        reverse("alias-toggle", args=[example.name, info.pk]), {"version": info.version}, headers=HTMX
    )
    html = response.content.decode()
    assert html.startswith(f'<tr id="alias-{info.pk}"') and oob(html)
    assert status(html) == "1 on 1 off 1 change not deployed"


def test_an_edit_and_a_delete_send_the_counts(example: Domain, login: Login):
    deployed(example)
    info = Alias.objects.get(key="info@example.com")
    edit = login("bob").post(
        reverse("alias-edit", args=[example.name, info.pk]),
        {"version": info.version, "key": info.key, "destinations": "x@example.org", "comment": ""},
        headers=HTMX,
    )
    assert status(edit.content.decode()) == "1 on 1 off 1 change not deployed"
    info.refresh_from_db()
    delete = login("bob").post(reverse("alias-delete", args=[example.name, info.pk]), {"version": info.version})
    html = delete.content.decode()
    assert html.lstrip().startswith("<span") and status(html) == "1 on 0 off 2 changes not deployed"


def test_an_edit_refused_and_opening_a_row_send_no_counts(example: Domain, login: Login):
    info = Alias.objects.get(key="info@example.com")
    url = reverse("alias-edit", args=[example.name, info.pk])
    assert not oob(login("bob").get(url).content.decode())
    refused = login("bob").post(url, {"version": info.version, "key": info.key, "destinations": ""}, headers=HTMX)
    assert not oob(refused.content.decode())
    assert not oob(login("bob").get(reverse("alias-row", args=[example.name, info.pk])).content.decode())


def test_a_bulk_action_from_the_grid_gives_back_the_grid_of_its_view(example: Domain, login: Login):
    deployed(example)
    ids = list(Alias.objects.filter(domain=example).values_list("pk", flat=True))
    view = f"/domains/{example.name}/?q=example&order=-key"
    response = login("bob").post(
        reverse("alias-bulk", args=[example.name]), {"action": "disable", "ids": ids, "next": view}, headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="grid">')
    assert 'role="status">Switched off: 2 aliases.</p>' in html
    assert f'name="next" value="{view.replace("&", "&amp;")}"' in html
    keys = re.findall(r'<td class="key">([^<\s]+(?:<wbr>[^<\s]+)*)', html)
    assert [key.replace("<wbr>", "") for key in keys] == ["sales@example.com", "info@example.com"]
    assert status(html) == "0 on 2 off 1 change not deployed"
    # the message is in the grid, not left over for the next page
    assert "Switched off: 2" not in login("bob").get(f"/domains/{example.name}/").content.decode()


def test_a_bulk_action_without_htmx_still_redirects(example: Domain, login: Login):
    ids = list(Alias.objects.filter(domain=example).values_list("pk", flat=True))
    client = login("bob")
    response = client.post(reverse("alias-bulk", args=[example.name]), {"action": "disable", "ids": ids})
    assert response.status_code == 302
    assert "Switched off: 2 aliases." in client.get(response.url).content.decode()


def test_a_bulk_action_without_a_selection_says_so_in_the_grid(example: Domain, login: Login):
    response = login("bob").post(reverse("alias-bulk", args=[example.name]), {"action": "disable"}, headers=HTMX)
    assert "Select aliases and an action first." in response.content.decode()


def test_the_changed_column_shows_the_time_in_the_sites_zone(example: Domain, login: Login, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    moment = datetime(2026, 1, 15, 22, 30, tzinfo=ZoneInfo("UTC"))
    Alias.objects.filter(key="info@example.com").update(updated_at=moment)
    html = login("bob").get(f"/domains/{example.name}/").content.decode()
    assert '<time datetime="2026-01-15T23:30:00+01:00">2026-01-15 23:30</time>' in html
    german = login("bob").get(f"/domains/{example.name}/", headers={"Accept-Language": "de"}).content.decode()
    assert ">16.01.2026 01:30</time>" not in german  # 23:30 in Berlin is still the 15th
    assert ">15.01.2026 23:30</time>" in german


def test_ticket_references_in_the_grid_become_links(example: Domain, login: Login, settings):
    settings.TICKET_URL = "https://tickets.example/browse/{ref}"
    Alias.objects.filter(key="sales@example.com").update(comment='<img src=x onerror=alert(1)> OPS-77')
    html = login("bob").get(f"/domains/{example.name}/").content.decode()
    assert '<a href="https://tickets.example/browse/OPS-1" class="ticket" rel="noopener noreferrer"' in html
    assert "&lt;img src=x onerror=alert(1)&gt; <a href=\"https://tickets.example/browse/OPS-77\"" in html
    assert "<img src=x" not in html


def test_the_counts_move_with_a_change_instead_of_a_recount(example: Domain, login: Login, monkeypatch):
    from aliasdesk.aliases import search

    client = login("bob")
    client.get(f"/domains/{example.name}/")  # counted once, kept
    info = Alias.objects.get(key="info@example.com")
    sales = Alias.objects.get(key="sales@example.com")
    Alias.objects.filter(pk=sales.pk).update(valid_until="2999-01-01")
    search._counts.clear()
    client.get(f"/domains/{example.name}/")
    counted = search._count_rows

    def refuse(*args, **kwargs):
        raise AssertionError("counted again")

    monkeypatch.setattr(search, "_count_rows", refuse)
    client.post(reverse("alias-toggle", args=[example.name, info.pk]), {"version": info.version}, headers=HTMX)
    client.post(reverse("alias-delete", args=[example.name, sales.pk]), {"version": sales.version}, headers=HTMX)
    ids = [info.pk, sales.pk]
    client.post(reverse("alias-bulk", args=[example.name]), {"action": "restore", "ids": ids}, headers=HTMX)
    html = client.post(
        reverse("alias-bulk", args=[example.name]), {"action": "enable", "ids": ids}, headers=HTMX
    ).content.decode()
    assert status(html) == "2 on 0 off not deployed yet"
    kept = search.alias_counts(example)
    monkeypatch.setattr(search, "_count_rows", counted)
    search._counts.clear()
    assert kept == search.alias_counts(example) == {"enabled": 2, "disabled": 0, "deleted": 0, "expiring": 1}


def test_another_change_in_between_means_a_recount(example: Domain, login: Login, monkeypatch):
    from aliasdesk.aliases import search
    from aliasdesk.aliases.services import update_alias

    client = login("bob")
    client.get(f"/domains/{example.name}/")
    info = Alias.objects.get(key="info@example.com")
    sales = Alias.objects.get(key="sales@example.com")
    change = search.CountedChange.watch(example, [info.pk])
    update_alias(info, version=info.version, enabled=False)
    update_alias(sales, version=sales.version, enabled=False)  # someone else's, not watched
    change.carry()
    assert search.alias_counts(example)["disabled"] == 2
