"""dbexport/dbimport through the real servers: SQLite → PostgreSQL → MariaDB → SQLite ends
byte for byte where it began, and on each engine people sign in, history and keys that
differ only in case or accents are there, new rows get fresh ids, Postfix lookups answer."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, require_postmap
from tests.test_cli import _mariadb_url, _postgres_url

pytestmark = pytest.mark.xdist_group("dbmove-engines")

# Run on each engine after its export: everything here writes, so it comes after.
CHECK = """
import json
import django
django.setup()
from django.db import connection
from django.test import Client
from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from aliasdesk.aliases.models import Alias, Domain, VirtualEntry
from aliasdesk.aliases.services import create_alias
from aliasdesk.aliases.virtual_store import table_database
from tests.dbmove.sample import PASSWORD

client = Client(HTTP_HOST="localhost")
signed_in = client.post("/login/", {"username": "Alice", "password": PASSWORD})
domains_page = client.get("/domains/").content.decode()
wrong = Client(HTTP_HOST="localhost").post("/login/", {"username": "alice", "password": PASSWORD})
example = Domain.objects.get(name="example.com")
# keys are not unique, and compare without case on MariaDB: find it by its exact spelling
info = next(a for a in Alias.objects.filter(domain=example) if a.key == "Info@example.com")
highest = max(Alias.objects.values_list("pk", flat=True))
alice = User.objects.get(username="Alice")
new = create_alias(example, "new@example.com", "new@example.org", user=alice)
user, _ = add_user("newcomer", "viewer", password="another fine passphrase 9")
using = table_database()
answers = {}
if using is not None:
    for key in ("info@example.com", "josé@example.com", "jose@example.com", "new@example.com"):
        answers[key] = list(
            VirtualEntry.objects.using(using).filter(lookup_key=key)
            .order_by("map_rank", "section", "position").values_list("value", flat=True)[:1]
        )
print(json.dumps({
    "vendor": connection.vendor,
    "signed_in": [signed_in.status_code, signed_in.get("Location", "")],
    "sees_domains": "hjólavefsjá.is" in domains_page and "hjolavefsja.is" in domains_page,
    "wrong_password": wrong.status_code,
    "history": list(info.history.order_by("history_id").values_list("destinations", "history_change_reason")),
    "users": sorted(User.objects.values_list("username", flat=True)),
    "domains": sorted(Domain.objects.values_list("name", flat=True)),
    "keys": sorted(Alias.objects.values_list("key", flat=True)),
    "new_alias_fresh": new.pk > highest,
    "new_user": user.pk > 0,
    "lookup": answers,
}))
"""


class Engine:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, *args: str) -> str:
        proc = subprocess.run(args, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{args}: {proc.stderr[-3000:]}"
        return proc.stdout

    def aliasdesk(self, *args: str) -> str:
        return self.run(sys.executable, "-m", "aliasdesk", *args)

    def check(self) -> dict[str, object]:
        return dict(json.loads(self.run(sys.executable, "-c", CHECK)))


@pytest.fixture
def engines(tmp_path: Path, postfix_conf: Path) -> Iterator[dict[str, Engine]]:
    """An environment per engine, each with its own data dir; the server databases are new."""
    base = dict(os.environ, DJANGO_SETTINGS_MODULE="aliasdesk.settings", ALIASDESK_POSTFIX_CONFIG_DIR=str(postfix_conf))
    base.pop("ALIASDESK_DATABASE_URL", None)
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH", "")) if p)
    made = {}
    servers = []
    for name, url in (("sqlite", None), ("postgres", _postgres_url), ("mariadb", _mariadb_url), ("sqlite2", None)):
        env = dict(base, ALIASDESK_DATA_DIR=str(tmp_path / name))
        if url is not None:
            server = url()
            servers.append(server)
            env["ALIASDESK_DATABASE_URL"] = next(server)
        made[name] = Engine(env)
    yield made
    for server in servers:
        next(server, None)


def test_sqlite_postgres_mariadb_sqlite_ends_byte_for_byte_where_it_began(
    engines: dict[str, Engine], tmp_path: Path, postfix_conf: Path
) -> None:
    require_postmap()
    source = engines["sqlite"]
    source.aliasdesk("migrate", "--verbosity", "0")
    maps = tmp_path / "maps"
    maps.mkdir()
    source.run(sys.executable, "-c", "from tests.dbmove.sample import main; main()", str(maps))
    source.aliasdesk("postfix-config", "sqlite")  # the lookup table is kept: it must come along
    files = [tmp_path / "0-sqlite.jsonl"]
    source.aliasdesk("dbexport", str(files[0]))
    first = files[0].read_bytes()
    header = json.loads(first.split(b"\n", 1)[0])
    assert header["postfix_lookup"] is True
    assert {t["table"]: t["rows"] for t in header["tables"]}["aliases_historicalalias"] >= 6

    results = {}
    for step, name in enumerate(("postgres", "mariadb", "sqlite2"), 1):
        engine = engines[name]
        engine.aliasdesk("migrate", "--verbosity", "0")
        out = engine.aliasdesk("dbimport", str(files[-1]))
        assert out.startswith("imported ")
        files.append(tmp_path / f"{step}-{name}.jsonl.gz")
        engine.aliasdesk("dbexport", str(files[-1]))
        assert gzip.decompress(files[-1].read_bytes()) == first, f"{name} exported other bytes"
        results[name] = engine.check()

    for name, found in results.items():
        assert found["signed_in"] == [302, "/domains/"], name
        assert found["sees_domains"] and found["wrong_password"] == 200, name
        assert found["history"][0][0] == "anna@example.org, ben@example.org", name
        assert found["history"][-1] == ["anna@example.org", "ticket 7"], name
        assert found["users"] == ["Alice", "alice", "newcomer", "rene", "rené"], name
        assert found["domains"] == ["example.com", "hjolavefsja.is", "hjólavefsjá.is"], name
        assert found["keys"] == sorted(
            ["@hjólavefsjá.is", "Info@example.com", "info@example.com", "jose@example.com", "josé@example.com",
             "new@example.com"]
        ), name
        assert found["new_alias_fresh"] and found["new_user"], name
        assert found["lookup"] == {
            "info@example.com": ["anna@example.org"],
            "josé@example.com": ["jose.garcia@example.org"],
            "jose@example.com": ["jose@example.org"],
            "new@example.com": ["new@example.org"],
        }, name

    same = [{k: v for k, v in found.items() if k != "vendor"} for found in results.values()]
    assert same[0] == same[1] == same[2]
    assert [found["vendor"] for found in results.values()] == ["postgresql", "mysql", "sqlite"]

    # Postfix itself asks the rebuilt SQLite lookup database of the last hop.
    final = engines["sqlite2"]
    table = tmp_path / "virtual.cf"
    table.write_text(final.aliasdesk("postfix-config", "sqlite"))
    query = subprocess.run(
        ["postmap", "-c", str(postfix_conf), "-q", "JOSÉ@example.com", f"sqlite:{table}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert query.stdout.strip() == "jose.garcia@example.org", query.stderr


def test_a_database_that_is_not_migrated_or_not_empty_is_refused(engines: dict[str, Engine], tmp_path: Path) -> None:
    fresh = engines["sqlite"]
    export = tmp_path / "empty.jsonl"
    source = engines["sqlite2"]
    source.aliasdesk("migrate", "--verbosity", "0")
    source.aliasdesk("dbexport", str(export))
    for name in ("sqlite", "postgres"):
        proc = subprocess.run(
            [sys.executable, "-m", "aliasdesk", "dbimport", str(export)],
            env=engines[name].env, cwd=REPO, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode != 0 and proc.stdout == ""
        assert proc.stderr.strip().splitlines() == [
            "CommandError: the database is not migrated: run 'aliasdesk migrate' first"
        ], name
    fresh.aliasdesk("migrate", "--verbosity", "0")
    fresh.aliasdesk("user", "add", "zoe", "--role", "admin")
    proc = subprocess.run(
        [sys.executable, "-m", "aliasdesk", "dbimport", str(export)],
        env=fresh.env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "CommandError: the database is not empty (table accounts_securityevent has rows): "
        "dbimport goes only into an empty, migrated database"
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "aliasdesk", "dbimport", str(tmp_path / "nothing-here.jsonl")],
        env=source.env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "nothing-here.jsonl: cannot read it" in missing.stderr
