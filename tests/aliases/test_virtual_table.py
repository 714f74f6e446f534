"""The lookup table follows every change through the services, asked with the real
``postmap -q`` against the SQLite lookup database, without a deploy."""

from __future__ import annotations

import datetime
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from aliasdesk.aliases.domain_services import DomainSettings, update_domain_settings
from aliasdesk.aliases.models import Alias, Domain, VirtualEntry
from aliasdesk.aliases.postfix_config import table_file_text
from aliasdesk.aliases.services import add_pasted, bulk_change, create_alias, create_domain, update_alias
from aliasdesk.aliases.virtual_store import LOOKUP, forget_lookup_file, lookup_file
from aliasdesk.aliases.virtual_table import FollowChange, expires_at, sync_all, sync_quietly
from tests.conftest import require_postmap

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sqlite_lookup_database() -> None:
    """These ask the SQLite lookup database; on PostgreSQL and MariaDB the table lives in the
    main database and tests/aliases/test_postfix_config.py asks it through pgsql: and mysql:."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the SQLite lookup database (test_postfix_config.py covers pgsql: and mysql:)")


@pytest.fixture
def table(aliasdesk_settings: Any, tmp_path: Path) -> Iterator[Path]:
    """The table switched on (as ``postfix-config`` does) and its table file."""
    require_postmap()
    sync_all(create=True)
    path = tmp_path / "aliasdesk-virtual.cf"
    path.write_text(table_file_text("sqlite"))
    yield path
    forget_lookup_file()


@pytest.fixture
def example(aliasdesk_settings: Any) -> Domain:
    return create_domain("example.com")


def ask(table: Path, key: str) -> str:
    from django.conf import settings

    proc = subprocess.run(
        ["postmap", "-c", settings.POSTFIX_CONFIG_DIR, "-q", key, f"sqlite:{table}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode in (0, 1) and not proc.stderr, proc.stderr
    return proc.stdout.strip()


def test_nothing_is_written_until_postfix_config_switches_the_table_on(
    example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "info@example.com", "anna@example.org")
    assert not lookup_file().exists()


def test_every_saved_change_answers_at_once(
    table: Path, example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        alias = create_alias(example, "Info@Example.com", "anna@example.org")
    assert ask(table, "INFO@example.com") == "anna@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        alias = update_alias(alias, version=alias.version, destinations="ben@example.org, carl@example.org")
    assert ask(table, "info@example.com") == "ben@example.org, carl@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        alias = update_alias(alias, version=alias.version, enabled=False)
    assert ask(table, "info@example.com") == ""
    with django_capture_on_commit_callbacks(execute=True):
        alias = update_alias(alias, version=alias.version, enabled=True, key="hello@example.com")
    assert ask(table, "info@example.com") == ""
    assert ask(table, "hello@example.com") == "ben@example.org, carl@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        bulk_change(example, [alias.pk], "delete")
    assert ask(table, "hello@example.com") == ""
    with django_capture_on_commit_callbacks(execute=True):
        bulk_change(example, [alias.pk], "restore")
    assert ask(table, "hello@example.com") == "ben@example.org, carl@example.org"


def test_header_and_footer_entries_answer_and_the_header_comes_first(
    table: Path, example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "sales@example.com", "row@example.org")
        wanted = DomainSettings.of(example)
        wanted.header = "# managed\nsales@example.com  header@example.org\n#off@example.com  x@example.org\n"
        wanted.footer = "# end\nfoot@example.com  foot@example.org\n"
        update_domain_settings(example, wanted, version=example.version)
    assert ask(table, "sales@example.com") == "header@example.org"
    assert ask(table, "foot@example.com") == "foot@example.org"
    assert ask(table, "off@example.com") == ""
    example.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        update_domain_settings(example, DomainSettings(), version=example.version)
    assert (ask(table, "sales@example.com"), ask(table, "foot@example.com")) == ("row@example.org", "")


def test_an_alias_stops_answering_at_the_local_midnight_after_its_date(
    table: Path, example: Domain, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "old@example.com", "old@example.org", valid_until=today - datetime.timedelta(days=1))
        create_alias(example, "today@example.com", "today@example.org", valid_until=today)
    assert (ask(table, "old@example.com"), ask(table, "today@example.com")) == ("", "today@example.org")
    berlin_midnight = datetime.datetime(2026, 7, 1, 22, 0, tzinfo=datetime.UTC)  # summer time: UTC+2
    assert expires_at(datetime.date(2026, 7, 1)) == int(berlin_midnight.timestamp())


def test_purged_aliases_leave_no_answer_even_when_a_sync_was_missed(table: Path, example: Domain) -> None:
    alias = create_alias(example, "gone@example.com", "gone@example.org")
    sync_quietly(example.pk)
    assert ask(table, "gone@example.com") == "gone@example.org"
    bulk_change(example, [alias.pk], "delete")  # no sync after the commit: it was missed
    bulk_change(example, [alias.pk], "purge")
    sync_quietly(example.pk)
    assert ask(table, "gone@example.com") == ""


def test_rows_written_around_the_services_reach_the_table_with_a_sync(table: Path, example: Domain) -> None:
    Alias.objects.create(domain=example, key="raw@example.com", key_folded="raw@example.com", destinations="r@x.org")
    Domain.objects.filter(pk=example.pk).update(serial=example.serial + 1)
    report = sync_all()
    assert report is not None and report.rebuilt == 1
    assert ask(table, "raw@example.com") == "r@x.org"


def test_the_order_of_virtual_alias_maps_decides_between_two_maps(
    table: Path, aliasdesk_settings: Any, tmp_path: Path
) -> None:
    alpha, zeta = create_domain("alpha.example"), create_domain("zeta.example")
    create_alias(alpha, "root", "alpha-root@example.org")
    create_alias(zeta, "root", "zeta-root@example.org")
    sync_all()
    assert ask(table, "root") == "alpha-root@example.org"  # no virtual_alias_maps: by name
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text(
        f"compatibility_level = 3.6\nvirtual_alias_maps = hash:{zeta.map_path} hash:{alpha.map_path}\n"
    )
    old = time.time() - 120
    os.utime(conf / "main.cf", (old, old))
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    sync_all()
    assert ask(table, "root") == "zeta-root@example.org"
    # The table replaces the map files in virtual_alias_maps: the order they had stays.
    (conf / "main.cf").write_text(f"compatibility_level = 3.6\nvirtual_alias_maps = proxy:sqlite:{table}\n")
    os.utime(conf / "main.cf", (old, old))
    create_alias(create_domain("aaa.example"), "root", "aaa-root@example.org")
    sync_all()
    assert ask(table, "root") == "zeta-root@example.org"


def test_a_failed_sync_never_fails_the_save_and_the_next_one_catches_up(
    table: Path, example: Domain, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from django.db import connections

    with connections[LOOKUP].cursor() as cursor:
        cursor.execute("DROP TABLE aliasdesk_virtual")
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "info@example.com", "anna@example.org")
    assert "could not follow the change" in caplog.text
    assert Alias.objects.filter(key="info@example.com").exists()
    with connections[LOOKUP].schema_editor() as editor:
        editor.create_model(VirtualEntry)
    report = sync_all()
    assert report is not None and report.rebuilt + report.changed == 1
    assert ask(table, "info@example.com") == "anna@example.org"


def test_a_lookup_file_that_is_no_database_is_moved_aside_and_made_anew(
    table: Path, example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "info@example.com", "anna@example.org")
    forget_lookup_file()
    lookup_file().write_bytes(b"this is not an SQLite database" * 100)
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "sales@example.com", "ben@example.org")
    # The change brought the whole table into the new file.
    assert ask(table, "info@example.com") == "anna@example.org"
    assert ask(table, "sales@example.com") == "ben@example.org"
    assert len(list(lookup_file().parent.glob("lookup.sqlite3.broken-*"))) == 1
    assert lookup_file().stat().st_mode & 0o777 == 0o640


def test_a_paste_of_many_lines_syncs_once_after_its_commit(
    table: Path, example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    lines = "".join(f"user{i}@example.com  user{i}@example.org\n" for i in range(40))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        add_pasted(example, lines)
    assert len([c for c in callbacks if isinstance(c, FollowChange)]) == 1
    assert ask(table, "user39@example.com") == "user39@example.org"


def test_an_alias_domain_answers_from_the_table_and_follows_its_target(
    table: Path, example: Domain, django_capture_on_commit_callbacks: Any
) -> None:
    from aliasdesk.aliases.aliasdomains import set_alias_of

    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "anna@example.com", "anna@mailbox.example")
        alias = create_domain("example.net")
        set_alias_of(alias, example, "expand")
    assert ask(table, "anna@example.net") == "anna@example.com"
    assert ask(table, "bob@example.net") == ""
    with django_capture_on_commit_callbacks(execute=True):
        create_alias(example, "bob@example.com", "bob@mailbox.example")
    assert ask(table, "bob@example.net") == "bob@example.com"
