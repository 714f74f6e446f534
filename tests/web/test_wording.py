"""What a newcomer meets: on/off in histories, "just now", one "Deployed", no internal ids in
messages, a long key said once and shortened, problems in line order, a confirmation before
overwriting hand edits, a resolver that refuses what is no address and says when maps were
not searched, and reasons shown whole."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from aliasdesk.accounts import display
from aliasdesk.aliases.bulk_files import read_source
from aliasdesk.aliases.import_report import ImportRefused
from aliasdesk.aliases.models import Alias
from aliasdesk.aliases.services import PasteRefused, add_pasted, create_alias, update_alias
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.postfix.maps.resolve import address_problem
from aliasdesk.postfix.maps.virtual import Problem
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]


def _switched_off(example):  # type: ignore[no-untyped-def]
    alias = Alias.objects.get(domain=example, key="sales@example.com")
    return update_alias(alias, version=alias.version, enabled=False)


# --- on/off, not True/— -------------------------------------------------------------------------


def test_the_history_shows_a_switch_as_on_and_off(login, example):
    alias = _switched_off(example)
    page = login("alice").get(reverse("alias-history", args=[example.name, alias.pk])).content.decode()
    assert "<del>on</del> → <ins>off</ins>" in page
    assert "True" not in page and "False" not in page


def test_the_audit_log_shows_a_switch_as_on_and_off(login, example):
    _switched_off(example)
    page = login("alice").get(reverse("audit-log")).content.decode()
    assert re.search(r"<strong>on/off</strong>\s*<del>on</del>", page)
    assert "<ins>off</ins>" in page


def test_values_as_people_read_them():
    assert display.show_value(True, "enabled") == "on"
    assert display.show_value(False, "enabled") == "off"
    assert display.show_value(None, "comment") == "—"
    assert display.show_value(True, "allow_private") == "yes"


# --- just now ---------------------------------------------------------------------------------


def test_a_moment_ago_is_just_now_not_zero_minutes():
    now = timezone.now()
    assert display.ago(now - timedelta(seconds=5), now) == "just now"
    assert display.ago(now - timedelta(minutes=3), now) == "3\xa0minutes ago"


def test_the_domain_list_says_just_now_and_deployed_once(login, example, postfix_conf):
    require_postmap()
    assert deploy_domain(example).status == "ok"
    page = login("alice").get(reverse("domain-list")).content.decode()
    row = page[page.index("example.com</strong>") : page.index("</tr>", page.index("example.com</strong>"))]
    assert "just now" in row and "0\xa0minutes" not in row
    assert row.lower().count("deployed") == 1


# --- no internal ids --------------------------------------------------------------------------


def test_restoring_a_version_names_its_time_not_its_id(login, example):
    alias = _switched_off(example)
    first = alias.history.order_by("history_id").first()
    client = login("alice")
    url = reverse("alias-restore-version", args=[example.name, alias.pk, first.history_id])
    response = client.post(url, {"version": alias.version})
    said = [str(m) for m in get_messages(response.wsgi_request)]
    when = f"{timezone.localtime(first.history_date):%Y-%m-%d %H:%M:%S}"
    assert said == [f"sales@example.com is back to its version of {when}."]
    assert str(first.history_id) not in said[0].split(" of ")[0]


# --- a long key, said once --------------------------------------------------------------------


def test_a_refused_long_key_is_shortened_and_said_once(login, example):
    key = "x" * 2000 + "@example.com"
    url = reverse("alias-create", args=[example.name])
    response = login("alice").post(url, {"key": key, "destinations": "a@example.org"})
    assert response.status_code == 422
    page = response.content.decode()
    assert page.count(key) == 1  # the form keeps what was typed; the message does not repeat it
    assert page.count("longer than 64 bytes") == 1
    assert re.search(r"x…x+@example\.com: the local part is longer", page)


def test_shorten_cuts_once_and_keeps_the_end():
    text = "a" * 500 + "@example.com"
    short = display.shorten(text)
    assert len(short) == 80 and short.count("…") == 1 and short.endswith("@example.com")
    assert display.shorten("info@example.com") == "info@example.com"


# --- problems in line order -------------------------------------------------------------------


def test_an_import_refusal_lists_its_problems_in_line_order():
    refused = ImportRefused("f", [Problem(9, "nine"), Problem(2, "two"), Problem(0, "file"), Problem(5, "five")])
    assert [p.line for p in refused.problems] == [0, 2, 5, 9]
    assert str(refused).index("two") < str(refused).index("five") < str(refused).index("nine")


def test_a_map_file_read_for_an_upload_lists_its_problems_in_line_order():
    data = b"a@example.com b@example.org\nnovalue@example.com\nc@example.com \xff@example.org\nd@example.com\n"
    source = read_source(data, "m.txt", "map", strict=False)
    lines = [p.line for p in source.problems]
    assert lines == sorted(lines) and {2, 3, 4} <= set(lines)


def test_paste_problems_come_in_line_order(example, alice):
    text = (
        "ok1@example.com a@example.org\n"
        "novalue@example.com\n"
        "x@other.org a@example.org\n"
        "two@example.com a@example.org\n"
        "two@example.com b@example.org\n"
    )
    with pytest.raises(PasteRefused) as refused:
        add_pasted(example, text, user=alice)
    numbers = [int(m.group(1)) for p in refused.value.problems if (m := re.match(r"line (\d+):", p))]
    assert numbers == sorted(numbers) and numbers


# --- drift: confirm before overwriting --------------------------------------------------------


def test_overwriting_hand_edits_asks_first(login, example, postfix_conf):
    require_postmap()
    assert deploy_domain(example).status == "ok"
    path = Path(example.map_path)
    path.write_text(path.read_text() + "handmade@example.com\tsomeone@example.org\n")
    page = login("alice").get(reverse("deploy-preview", args=[example.name])).content.decode()
    start = page.index('<details class="overwrite" id="overwrite">')
    box = page[start : page.index("</details>", start)]
    assert re.search(r"<summary[^>]*>Overwrite them</summary>", box)
    assert 'name="force" value="1"' in box and "Yes, overwrite the hand edits" in box
    assert 'name="force"' not in page[:start]  # no form overwrites with one click
    assert "onclick" not in box and "<script" not in box


# --- the resolver -----------------------------------------------------------------------------


def test_not_an_address_is_no_final_recipient(login, example):
    page = login("alice").get(reverse("resolve"), {"address": "not an address"}).content.decode()
    assert 'id="not-an-address"' in page
    assert "Final recipients" not in page and "<code>&quot;not an address&quot;</code>" not in page


def test_address_problem():
    assert address_problem("not an address")
    assert address_problem("@example.com") and address_problem("hello") and address_problem("a@")
    assert address_problem("x y@example.com")
    assert address_problem("info+news@example.com") is None and address_problem("<a@example.org>") is None


def test_the_lookup_path_speaks_german(login, example):
    page = login("alice").get(reverse("resolve"), {"address": "info@example.com"}, HTTP_ACCEPT_LANGUAGE="de")
    trace = page.content.decode()
    assert "Wohin Mail an info@example.com geht:" in trace
    assert "Abfrage info@example.com (user@domain): gefunden in Map 1: anna@example.org" in trace
    assert "Endgültige Empfänger (2):" in trace
    assert "lookup " not in trace and "Final recipients" not in trace and "not found" not in trace
    wrong = login("alice").get(reverse("resolve"), {"address": "hello"}, HTTP_ACCEPT_LANGUAGE="de")
    assert "schreiben Sie sie als name@domain" in wrong.content.decode()


def test_a_loop_is_explained_in_german(login, example):
    create_alias(example, "loop1@example.com", "loop2@example.com")
    create_alias(example, "loop2@example.com", "loop1@example.com")
    page = login("alice").get(reverse("resolve"), {"address": "loop1@example.com"}, HTTP_ACCEPT_LANGUAGE="de")
    text = page.content.decode()
    assert "Postfix würde diese Mail zurückstellen: Schleife: loop1@example.com -&gt; loop2@example.com" in text
    assert "Postfix stellt die Mail zurück (4.6.0 Alias expansion error)" in text
    assert "Ergebnis: Postfix würde diese Mail nicht annehmen" in text and "Problem: Schleife:" in text


def test_a_reader_is_told_that_some_maps_were_not_searched(login, example, other):
    page = login("dave").get(reverse("resolve"), {"address": "info@example.com"}).content.decode()
    assert 'id="unsearched"' in page and "other.org" not in page
    page = login("alice").get(reverse("resolve"), {"address": "info@example.com"}).content.decode()
    assert 'id="unsearched"' not in page


def test_a_reader_who_sees_every_map_is_not_warned(login, example):
    page = login("dave").get(reverse("resolve"), {"address": "info@example.com"}).content.decode()
    assert 'id="unsearched"' not in page


# --- reasons are shown whole ------------------------------------------------------------------


def test_a_long_deploy_error_is_shown_whole(login, example):
    reason = "postmap: fatal: " + " ".join(f"word{i}" for i in range(120)) + " THE END"
    Deploy.objects.create(domain=example, status=Deploy.Status.FAILED, error=reason, finished_at=timezone.now())
    page = login("alice").get(reverse("deploy-history", args=[example.name])).content.decode()
    assert reason in page and "THE END" in page
