"""Postfix reads the aliases from the database: the table file of ``aliasdesk postfix-config``,
asked through the real ``postmap -q`` (postfix-sqlite, postfix-pgsql, postfix-mysql), answers
every key exactly as the deployed hash maps do, on SQLite, PostgreSQL and MariaDB; a change
made through the services is live there without a deploy.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, require_postmap
from tests.test_cli import _mariadb_url, _postgres_url

# Two maps; Postfix's virtual_alias_maps lists zeta before alpha (against name order).
SETUP = """
import datetime, django
django.setup()
from aliasdesk.aliases.domain_services import DomainSettings, update_domain_settings
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_alias, create_domain, soft_delete_alias
today = datetime.date.today()
alpha = create_domain("alpha.example")
zeta = create_domain("zeta.example")
wanted = DomainSettings.of(alpha)
wanted.header = (
    "# alpha's map\\n"
    "head@alpha.example   from-header@x.example\\n"
    "Info@alpha.example   header-wins@x.example\\n"
    "abuse                alpha-abuse@x.example\\n"
)
wanted.footer = (
    "# the end\\n"
    "foot@alpha.example   one@x.example,  two@x.example\\n"
)
update_domain_settings(alpha, wanted, version=alpha.version)
create_alias(alpha, "Sales@Alpha.example", ["s1@x.example", "s2@x.example"])
create_alias(alpha, "off@alpha.example", "off@x.example", enabled=False)
gone = create_alias(alpha, "gone@alpha.example", "gone@x.example")
soft_delete_alias(gone, version=gone.version)
create_alias(alpha, "old@alpha.example", "old@x.example", valid_until=today - datetime.timedelta(days=2))
create_alias(alpha, "later@alpha.example", "later@x.example", valid_until=today + datetime.timedelta(days=9))
create_alias(alpha, "Straße@alpha.example", "strasse@x.example")
create_alias(alpha, "root", "alpha-root@x.example")
create_alias(alpha, "@alpha.example", "catchall@x.example")
create_alias(zeta, "root", "zeta-root@x.example")
create_alias(zeta, "hello@zeta.example", "z1@x.example, z2@x.example")
zeta = Domain.objects.get(pk=zeta.pk)
wanted = DomainSettings.of(zeta)
wanted.footer = "abuse   zeta-abuse@x.example\\n"
update_domain_settings(zeta, wanted, version=zeta.version)
"""

# A key the header defines too: a deploy refuses the map, postmap would keep the first.
DUPLICATE = """
import django
django.setup()
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_alias
create_alias(Domain.objects.get(name="alpha.example"), "INFO@alpha.example", "alias-loses@x.example")
"""

# Changes through the services, after the deploy: the SQL table must follow without one.
CHANGE = """
import django
django.setup()
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, update_alias, soft_delete_alias
alpha = Domain.objects.get(name="alpha.example")
sales = Alias.objects.get(key="Sales@Alpha.example")
update_alias(sales, version=sales.version, destinations="new-sales@x.example")
zroot = Alias.objects.get(domain__name="zeta.example", key="root")
update_alias(zroot, version=zroot.version, enabled=False)
hello = Alias.objects.get(key="hello@zeta.example")
soft_delete_alias(hello, version=hello.version)
create_alias(alpha, "new@alpha.example", "fresh@x.example")
"""

KEYS = [
    "head@alpha.example",
    "info@alpha.example",
    "INFO@ALPHA.EXAMPLE",
    "foot@alpha.example",
    "dup@alpha.example",
    "DUP@alpha.example",
    "sales@alpha.example",
    "SALES@alpha.example",
    "off@alpha.example",
    "gone@alpha.example",
    "old@alpha.example",
    "later@alpha.example",
    "straße@alpha.example",
    "STRASSE@alpha.example",
    "root",
    "abuse",
    "@alpha.example",
    "nobody@alpha.example",
    "hello@zeta.example",
    "new@alpha.example",
    "alpha.example",
    "it's@alpha.example",
]


def wait_old(path: Path) -> None:
    """Postfix waits for a main.cf younger than a second to settle: make it old."""
    old = time.time() - 120
    os.utime(path, (old, old))


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    require_postmap()
    data = tmp_path / "data"
    maps = data / "maps"
    conf = tmp_path / "postfix"
    conf.mkdir()
    (conf / "main.cf").write_text(
        "compatibility_level = 3.6\n"
        f"virtual_alias_maps = hash:{maps}/zeta.example, hash:{maps}/alpha.example\n"
    )
    wait_old(conf / "main.cf")
    env = dict(os.environ, ALIASDESK_DATA_DIR=str(data), ALIASDESK_POSTFIX_CONFIG_DIR=str(conf))
    env.pop("ALIASDESK_DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    urls = {"postgres": _postgres_url, "mariadb": _mariadb_url}
    if request.param not in urls:
        yield request.param, env
        return
    database = urls[request.param]()
    env["ALIASDESK_DATABASE_URL"] = next(database)
    yield request.param, env
    next(database, None)


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(args, env=env, cwd=REPO, input=stdin, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args)}:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def aliasdesk(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    return run(env, sys.executable, "-m", "aliasdesk", *args, stdin=stdin)


def python(env: dict[str, str], script: str) -> str:
    return run(dict(env, DJANGO_SETTINGS_MODULE="aliasdesk.settings"), sys.executable, "-c", script)


def answers(env: dict[str, str], *tables: str) -> dict[str, str]:
    """What ``postmap -q`` answers for each key, asking the tables in order (first hit wins)."""
    conf = env["ALIASDESK_POSTFIX_CONFIG_DIR"]
    proc = subprocess.run(
        ["postmap", "-c", conf, "-q", "-", *tables],
        input="".join(f"{k}\n" for k in KEYS),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "warning" not in proc.stderr and "fatal" not in proc.stderr, proc.stderr
    found = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("\t")
        found[key] = value
    return found


def deployed_answers(env: dict[str, str]) -> dict[str, str]:
    conf = env["ALIASDESK_POSTFIX_CONFIG_DIR"]
    tables = run(env, "postconf", "-c", conf, "-h", "virtual_alias_maps").replace(",", " ").split()
    return answers(env, *tables)


def test_the_sql_table_answers_as_the_deployed_maps_live(
    engine: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    name, env = engine
    aliasdesk(env, "migrate", "--verbosity", "0")
    python(env, SETUP)
    duplicates = tmp_path / "duplicates"
    duplicates.write_text("dup@alpha.example  first@x.example\nDUP@alpha.example  second@x.example\n")
    aliasdesk(env, "import", str(duplicates), "--domain", "alpha.example")  # the second: switched off
    table_type = {"sqlite": "sqlite", "postgres": "pgsql", "mariadb": "mysql"}[name]
    table_file = tmp_path / "aliasdesk-virtual.cf"
    table_file.write_text(aliasdesk(env, "postfix-config", table_type))
    sql = f"{table_type}:{table_file}"

    # Live before any deploy: the expired alias is gone already, the header wins.
    before = answers(env, sql)
    assert before["info@alpha.example"] == "header-wins@x.example"
    assert "old@alpha.example" not in before
    aliasdesk(env, "deploy", "--all")
    deployed = deployed_answers(env)
    assert deployed == answers(env, sql)
    # The cases that matter, as the deployed maps answer them.
    assert deployed["INFO@ALPHA.EXAMPLE"] == "header-wins@x.example"  # header before footer
    assert deployed["DUP@alpha.example"] == "first@x.example"  # the later duplicate was switched off
    assert deployed["foot@alpha.example"] == "one@x.example,  two@x.example"  # footer, as written
    assert deployed["root"] == "zeta-root@x.example"  # zeta comes first in virtual_alias_maps
    assert deployed["abuse"] == "zeta-abuse@x.example"  # zeta's footer before alpha's header
    assert deployed["STRASSE@alpha.example"] == "strasse@x.example"  # Postfix's case folding
    assert deployed["later@alpha.example"] == "later@x.example"
    for absent in ("off@alpha.example", "gone@alpha.example", "old@alpha.example", "nobody@alpha.example"):
        assert absent not in deployed

    # Changed through the services, not deployed: the SQL table follows, the hash maps wait.
    python(env, CHANGE)
    live = answers(env, sql)
    assert live["sales@alpha.example"] == "new-sales@x.example"
    assert live["root"] == "alpha-root@x.example"
    assert live["new@alpha.example"] == "fresh@x.example"
    assert "hello@zeta.example" not in live
    assert deployed_answers(env) == deployed
    aliasdesk(env, "deploy", "--all")
    assert deployed_answers(env) == live

    # Duplicates: the first entry answers, as postmap keeps the first of the text.
    python(env, DUPLICATE)
    exported = tmp_path / "alpha.txt"
    exported.write_text(aliasdesk(env, "export", "alpha.example"))
    postmap = subprocess.run(
        ["postmap", "-c", env["ALIASDESK_POSTFIX_CONFIG_DIR"], "-q", "info@alpha.example", f"texthash:{exported}"],
        capture_output=True,
        text=True,
    )
    assert postmap.stdout.strip() == "header-wins@x.example"
    assert answers(env, sql)["info@alpha.example"] == "header-wins@x.example"


def test_the_sqlite_lookup_database_holds_only_the_alias_table(tmp_path: Path) -> None:
    require_postmap()
    env = dict(os.environ, ALIASDESK_DATA_DIR=str(tmp_path / "data"))
    env.pop("ALIASDESK_DATABASE_URL", None)
    aliasdesk(env, "migrate", "--verbosity", "0")
    aliasdesk(env, "user", "add", "alice", "--role", "admin", "--password-stdin", stdin="a-long-Passw0rd!\n")
    text = aliasdesk(env, "postfix-config", "sqlite")
    assert "0640, owner root, group postfix" in text and "proxy:sqlite:" in text
    dbpath = Path(next(line.split(" = ", 1)[1] for line in text.splitlines() if line.startswith("dbpath")))
    assert dbpath == tmp_path / "data" / "lookup.sqlite3"
    assert dbpath.stat().st_mode & 0o777 == 0o640
    with sqlite3.connect(dbpath) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {name for (name,) in rows if not name.startswith("sqlite_")}
    assert tables == {"aliasdesk_virtual", "aliasdesk_virtual_sync"}


def test_a_sqlite_lookup_database_that_was_removed_comes_back_whole(tmp_path: Path, postfix_conf: Path) -> None:
    require_postmap()
    env = dict(os.environ, ALIASDESK_DATA_DIR=str(tmp_path / "data"))
    env.pop("ALIASDESK_DATABASE_URL", None)
    aliasdesk(env, "migrate", "--verbosity", "0")
    src = tmp_path / "virtual"
    src.write_text("info@example.com  anna@example.org\n")
    aliasdesk(env, "import", str(src), "--domain", "example.com")
    table_file = tmp_path / "t.cf"
    table_file.write_text(aliasdesk(env, "postfix-config", "sqlite"))
    (tmp_path / "data" / "lookup.sqlite3").unlink()
    assert "1 rebuilt" in aliasdesk(env, "postfix-config", "--sync")
    query = ["postmap", "-c", str(postfix_conf), "-q", "info@example.com", f"sqlite:{table_file}"]
    assert subprocess.run(query, capture_output=True, text=True).stdout.strip() == "anna@example.org"


def test_each_engine_refuses_the_other_engines_table_type(tmp_path: Path) -> None:
    env = dict(os.environ, ALIASDESK_DATA_DIR=str(tmp_path / "data"))
    env.pop("ALIASDESK_DATABASE_URL", None)
    aliasdesk(env, "migrate", "--verbosity", "0")
    command = [sys.executable, "-m", "aliasdesk", "postfix-config", "pgsql"]
    proc = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "aliasdesk postfix-config sqlite" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "aliasdesk", "postfix-config", "sqlite", "--role", "postfix", "--password-stdin"],
        env=env,
        cwd=REPO,
        input="x\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "SQLite has no database roles" in proc.stderr


@pytest.fixture(params=["postgres", "mariadb"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    require_postmap()
    env = dict(os.environ, ALIASDESK_DATA_DIR=str(tmp_path / "data"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    database = {"postgres": _postgres_url, "mariadb": _mariadb_url}[request.param]()
    env["ALIASDESK_DATABASE_URL"] = next(database)
    yield request.param, env
    next(database, None)


def _client(name: str, env: dict[str, str], user: str, password: str, sql: str) -> subprocess.CompletedProcess[str]:
    dbname = env["ALIASDESK_DATABASE_URL"].rsplit("/", 1)[1]
    if name == "postgres":
        cmd = ["psql", "-h", "127.0.0.1", "-U", user, "-d", dbname, "-v", "ON_ERROR_STOP=1", "-qc", sql]
        return subprocess.run(cmd, env=dict(env, PGPASSWORD=password), capture_output=True, text=True)
    client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
    cmd = [client, "-h", "127.0.0.1", "-u", user, f"-p{password}", dbname, "-e", sql]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_a_read_only_role_reads_the_lookup_table_and_nothing_else(
    server: tuple[str, dict[str, str]], tmp_path: Path, postfix_conf: Path
) -> None:
    name, env = server
    table_type = {"postgres": "pgsql", "mariadb": "mysql"}[name]
    superuser = "postgres" if name == "postgres" else "root"
    role, password = f"pf_{uuid.uuid4().hex[:8]}", "lookup-Secret-42"
    aliasdesk(env, "migrate", "--verbosity", "0")
    src = tmp_path / "virtual"
    src.write_text("info@example.com  anna@example.org\n")
    aliasdesk(env, "import", str(src), "--domain", "example.com")
    grants = aliasdesk(env, "postfix-config", table_type, "--role", role, "--password-stdin", "--grant-sql",
                       stdin=password + "\n")
    table_file = tmp_path / "ro.cf"
    table_file.write_text(
        aliasdesk(env, "postfix-config", table_type, "--role", role, "--password-stdin", stdin=password + "\n")
    )
    assert f"user = {role}" in table_file.read_text()
    created = _client(name, env, superuser, "", grants)
    assert created.returncode == 0, created.stderr
    try:
        query = ["postmap", "-c", str(postfix_conf), "-q", "INFO@example.com", f"{table_type}:{table_file}"]
        assert subprocess.run(query, capture_output=True, text=True).stdout.strip() == "anna@example.org"
        assert _client(name, env, role, password, "SELECT count(*) FROM aliasdesk_virtual").returncode == 0
        for table in ("accounts_user", "aliases_alias", "aliasdesk_virtual_sync"):
            refused = _client(name, env, role, password, f"SELECT * FROM {table}")
            assert refused.returncode != 0, table
            assert "denied" in refused.stderr.lower(), refused.stderr
    finally:
        if name == "postgres":
            _client(name, env, superuser, "", f'DROP OWNED BY "{role}"')
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
                            f'DROP ROLE IF EXISTS "{role}"'], capture_output=True)
        else:
            _client(name, env, superuser, "", f"DROP USER IF EXISTS '{role}'@'%'")
