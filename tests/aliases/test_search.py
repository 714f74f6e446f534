"""Searching a domain's aliases: the same answers on every database, kept right on every write path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from aliasdesk.accounts.models import User
from aliasdesk.aliases import search
from aliasdesk.aliases.importer import ImportRefused, bulk_insert_aliases, import_map
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import AliasQuery, alias_counts, search_aliases
from aliasdesk.aliases.services import bulk_change, create_alias, create_domain, soft_delete_alias, update_alias
from aliasdesk.deploys.models import Deploy
from aliasdesk.postfix.maps.virtual import Entry
from tests.conftest import REPO
from tests.test_cli import _mariadb_url, _postgres_url

pytestmark = pytest.mark.django_db

MAP = """# example.com

# ticket OPS-4711 moved from mx2
info@example.com      anna.schmidt@example.org, ben@example.org
sales@example.com     Carla.Weber@partner.example.net
#old@example.com      gone@example.org
jobs@example.com      hr-team@example.org
# 100% discount_code "x"
promo@example.com     marketing@example.org
"""


def keys(domain: Domain, text: str, **options: str) -> list[str]:
    return [a.key for a in search_aliases(domain, AliasQuery(text, **options))]


@pytest.fixture
def example(aliasdesk_settings, tmp_path: Path) -> Domain:  # type: ignore[no-untyped-def]
    src = tmp_path / "example.virtual"
    src.write_text(MAP)
    return import_map(src, "example.com").domain


@pytest.fixture
def other(aliasdesk_settings) -> Domain:  # type: ignore[no-untyped-def]
    domain = create_domain("other.org")
    create_alias(domain, "info@other.org", "anna.schmidt@example.org", comment="OPS-4711")
    return domain


def test_every_word_must_match_key_destinations_or_comment(example: Domain) -> None:
    assert keys(example, "schmidt") == ["info@example.com"]
    assert keys(example, "OPS-4711") == ["info@example.com"]
    assert keys(example, "info schmidt mx2") == ["info@example.com"]
    assert keys(example, "info weber") == []
    assert keys(example, "example.org") == [
        "info@example.com",
        "old@example.com",
        "jobs@example.com",
        "promo@example.com",
    ]


def test_words_match_as_case_insensitive_substrings(example: Domain) -> None:
    assert keys(example, "CARLA.weber") == ["sales@example.com"]
    assert keys(example, "SALES@EXAMPLE") == ["sales@example.com"]
    assert keys(example, "artner.exa") == ["sales@example.com"]


def test_words_shorter_than_three_characters_still_match(example: Domain) -> None:
    assert keys(example, "hr") == ["jobs@example.com"]
    assert keys(example, "hr team") == ["jobs@example.com"]
    assert keys(example, "zz") == []


def test_like_wildcards_and_quotes_are_taken_literally(example: Domain) -> None:
    assert keys(example, "100%") == ["promo@example.com"]
    assert keys(example, "discount_code") == ["promo@example.com"]
    assert keys(example, "%") == ["promo@example.com"]
    assert keys(example, "_") == ["promo@example.com"]
    assert keys(example, '"x"') == ["promo@example.com"]
    assert keys(example, "discount%code") == []


def test_search_stays_inside_the_domain(example: Domain, other: Domain) -> None:
    assert keys(example, "OPS-4711") == ["info@example.com"]
    assert keys(other, "OPS-4711") == ["info@other.org"]
    assert keys(other, "ben@example") == []


def test_filters_and_orders_apply_to_search_results(example: Domain) -> None:
    assert keys(example, "gone", filter="disabled") == ["old@example.com"]
    assert keys(example, "gone", filter="enabled") == []
    assert keys(example, "example.com", order="-key") == [
        "sales@example.com",
        "promo@example.com",
        "old@example.com",
        "jobs@example.com",
        "info@example.com",
    ]


def test_edits_are_found_and_replaced_text_is_not(example: Domain) -> None:
    alias = Alias.objects.get(key="sales@example.com")
    alias = update_alias(alias, version=alias.version, destinations="dora.berger@example.org", comment="OPS-99")
    assert keys(example, "weber") == []
    assert keys(example, "berger OPS-99") == ["sales@example.com"]
    alias = update_alias(alias, version=alias.version, key="verkauf@example.com")
    assert keys(example, "verkauf") == ["verkauf@example.com"]
    assert keys(example, "sales") == []


def test_deleted_aliases_leave_the_results_and_come_back_in_the_trash(example: Domain) -> None:
    alias = Alias.objects.get(key="jobs@example.com")
    soft_delete_alias(alias, version=alias.version)
    assert keys(example, "hr-team") == []
    assert keys(example, "hr-team", filter="deleted") == ["jobs@example.com"]
    bulk_change(example, [alias.pk], "restore")
    assert keys(example, "hr-team") == ["jobs@example.com"]
    bulk_change(example, [alias.pk], "delete")
    assert bulk_change(example, [alias.pk], "purge") == 1
    assert keys(example, "hr-team", filter="deleted") == []


def test_import_replace_keeps_the_index_in_step(example: Domain, tmp_path: Path) -> None:
    src = tmp_path / "replaced.virtual"
    src.write_text(MAP.replace("Carla.Weber@partner.example.net", "ulla.novak@example.org"))
    report = import_map(src, "example.com", replace=True)
    assert report.updated == 1
    assert keys(example, "novak") == ["sales@example.com"]
    assert keys(example, "weber") == []


def test_created_aliases_are_found(example: Domain) -> None:
    create_alias(example, "press@example.com", "pia.lorenz@example.org", comment="since 2025")
    assert keys(example, "lorenz 2025") == ["press@example.com"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table exists on SQLite only")
def test_sqlite_index_holds_exactly_the_current_text(example: Domain) -> None:
    """The index answers for the trigrams alone, before any check of the words."""
    alias = Alias.objects.get(key="sales@example.com")
    update_alias(alias, version=alias.version, destinations="ulla.novak@example.org")

    def candidates(word: str) -> set[int]:
        expression = search._fts_expression([example.pk], [word])
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT rowid FROM {search.SEARCH_TABLE} WHERE {search.SEARCH_TABLE} MATCH %s", [expression]
            )
            return {row[0] for row in cursor.fetchall()}

    assert candidates("weber") == set()
    assert candidates("novak") == {alias.pk}
    assert candidates("schmidt") == {Alias.objects.get(key="info@example.com").pk}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 triggers exist on SQLite only")
def test_sqlite_triggers_and_index_survive_every_migration() -> None:
    """A later migration that rebuilds aliases_alias on SQLite drops them: it must make them again."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'aliases_alias' AND type = 'trigger'")
        triggers = dict(cursor.fetchall())
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'alias_live_by_domain'")
        assert cursor.fetchone()
    assert set(triggers) == {f"{search.SEARCH_TABLE}_{op}" for op in ("insert", "update", "delete")}
    # The importer indexes rows with search.SQLITE_BODY; the triggers must write the same text.
    assert search.SQLITE_BODY.format(row="new") in triggers[search.INSERT_TRIGGER]


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the insert trigger, and indexing_in_bulk's own transaction around it, exist on SQLite only; "
    "elsewhere the caller's transaction (import_map) undoes a failed bulk insert",
)
def test_bulk_insert_puts_the_insert_trigger_back_even_when_it_fails(example: Domain) -> None:
    before = _trigger_sql()
    with pytest.raises(ValueError), search.indexing_in_bulk():
        bulk_insert_aliases(example, [Entry("x@example.com", "y@example.org")], None, "test")
        raise ValueError("stop")
    assert _trigger_sql() == before
    assert keys(example, "x@example.com") == []
    bulk_insert_aliases(example, [Entry("late@example.com", "zora@example.org")], None, "test")
    create_alias(example, "later@example.com", "zora@example.org")
    assert keys(example, "zora") == ["late@example.com", "later@example.com"]
    assert _trigger_sql() == before


def test_refused_import_leaves_search_as_it_was(example: Domain, tmp_path: Path) -> None:
    src = tmp_path / "bad.virtual"
    src.write_text("new@example.com a@example.org\nnovalue@example.com\n")
    with pytest.raises(ImportRefused):
        import_map(src, "example.com")
    assert keys(example, "new@example") == []
    create_alias(example, "new@example.com", "a@example.org")
    assert keys(example, "new@example") == ["new@example.com"]


def _trigger_sql() -> str | None:
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [search.INSERT_TRIGGER])
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.fixture
def admin_client(db) -> Client:  # type: ignore[no-untyped-def]
    user = User(username="alice", role=User.Role.ADMIN, is_staff=True)
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    return client


def many(domain: Domain, count: int, word: str = "bulk") -> None:
    entries = [Entry(f"{word}{i}@example.com", f"target{i}@example.org") for i in range(count)]
    bulk_insert_aliases(domain, entries, None, "test")


def test_grid_counts_matches_only_up_to_the_cap(
    example: Domain, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "COUNT_CAP", 60)
    many(example, 130)
    grid = admin_client.get("/domains/example.com/", {"q": "bulk"}).content.decode()
    assert "more than 60 aliases, page 1" in grid and 'rel="next"' in grid
    page3 = admin_client.get("/domains/example.com/", {"q": "bulk", "page": "3"}).content.decode()
    assert "130 aliases, page 3 of 3" in page3 and 'rel="next"' not in page3
    assert page3.count('<tr id="alias-') == 30
    few = admin_client.get("/domains/example.com/", {"q": "bulk12"}).content.decode()
    assert "11 aliases" in few  # bulk12, bulk120 … bulk129


def test_grid_pages_walk_the_matches_in_file_order(example: Domain, admin_client: Client) -> None:
    many(example, 120)
    seen = []
    for page in ("1", "2", "3"):
        html = admin_client.get("/domains/example.com/", {"q": "bulk", "page": page}).content.decode()
        seen += [line.replace("<wbr>", "") for line in html.split("\n") if 'class="key"' in line]
    assert len(seen) == 120
    assert "bulk0@example.com" in seen[0] and "bulk119@example.com" in seen[-1]


def test_domain_page_counts_follow_every_change(example: Domain, admin_client: Client) -> None:
    assert alias_counts(example) == {"enabled": 4, "disabled": 1, "deleted": 0, "expiring": 0}
    page = admin_client.get("/domains/example.com/").content.decode()
    assert "4 on" in page and "5 aliases" in page
    alias = Alias.objects.get(key="info@example.com")
    update_alias(alias, version=alias.version, enabled=False)
    many(example, 3)
    assert alias_counts(example) == {"enabled": 6, "disabled": 2, "deleted": 0, "expiring": 0}
    page = admin_client.get("/domains/example.com/").content.decode()
    assert "6 on" in page and "8 aliases" in page


def test_domain_list_shows_each_domains_last_real_deploy(example: Domain, other: Domain, admin_client: Client) -> None:
    Deploy.objects.create(domain=example, status=Deploy.Status.FAILED)
    Deploy.objects.create(domain=example, status=Deploy.Status.OK)
    Deploy.objects.create(domain=example, status=Deploy.Status.NOOP)
    Deploy.objects.create(domain=other, status=Deploy.Status.FAILED)
    response = admin_client.get("/domains/")
    rows = {d.name: d for d in response.context["domains"]}
    assert rows["example.com"].last_deploy.status == Deploy.Status.OK
    assert rows["other.org"].last_deploy.status == Deploy.Status.FAILED
    assert (rows["example.com"].n_enabled, rows["example.com"].n_disabled) == (4, 1)


ENGINE_CHECK = """
import json, sys
import django
django.setup()
from django.db import connection
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import AliasQuery, search_aliases
domain = Domain.objects.get(name="example.com")
alias = Alias.objects.get(key="sales@example.com")
alias.destinations = "ulla.novak@example.org"
alias.save()
answers = {q: [a.key for a in search_aliases(domain, AliasQuery(q))] for q in json.loads(sys.argv[1])}
print(json.dumps({"vendor": connection.vendor, "answers": answers}))
"""
EXPECTED = {
    "schmidt": ["info@example.com"],
    "SCHMIDT ops-4711": ["info@example.com"],
    "example.org": [
        "info@example.com",
        "sales@example.com",
        "old@example.com",
        "jobs@example.com",
        "promo@example.com",
    ],
    "novak": ["sales@example.com"],
    "weber": [],
    "hr": ["jobs@example.com"],
    "100%": ["promo@example.com"],
    "discount_code": ["promo@example.com"],
    "nothing-like-this": [],
}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def engine_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ, ALIASDESK_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="aliasdesk.settings")
    env.pop("ALIASDESK_DATABASE_URL", None)
    urls = {"postgresql": _postgres_url, "mysql": _mariadb_url}
    if request.param not in urls:
        yield env
        return
    database = urls[request.param]()
    env["ALIASDESK_DATABASE_URL"] = next(database)
    yield env
    next(database, None)


def test_each_database_engine_answers_the_same(engine_env: dict[str, str], tmp_path: Path) -> None:
    def run(*args: str) -> str:
        proc = subprocess.run(args, env=engine_env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    src = tmp_path / "example.virtual"
    src.write_text(MAP)
    run(sys.executable, "-m", "aliasdesk", "migrate", "--verbosity", "0")
    run(sys.executable, "-m", "aliasdesk", "import", str(src), "--domain", "example.com")
    result = json.loads(run(sys.executable, "-c", ENGINE_CHECK, json.dumps(list(EXPECTED))))
    assert result["answers"] == EXPECTED, result["vendor"]


@pytest.mark.parametrize(
    ("word", "pieces"),
    [
        ("staff.example.org", ["sta", "aff"]),  # the host's own label, not the domain thousands share
        ("anna@example.org", ["ann", "nna"]),  # the local part
        ("x@example.org", ["exa", "mpl"]),  # a local part too short: two pieces of the domain
        ("m.wolf19879", ["f19", "879", "wol"]),  # digits first
        ("peters", ["pet", "ers"]),
        ("an", []),
    ],
)
def test_pieces_come_from_the_rare_part_of_the_word(word: str, pieces: list[str]) -> None:
    assert search._pieces(word) == pieces


@given(st.text(alphabet="ab.@-_1é", min_size=3, max_size=20))
def test_every_piece_is_part_of_the_word(word: str) -> None:
    """A piece only narrows what the exact check then reads: it must be in every row holding the word."""
    assert all(piece in word for piece in search._pieces(word))
