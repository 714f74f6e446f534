"""The aliasdesk command as users and scripts call it, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, require_postmap

MAP = """# example.com, managed by aliasdesk
# do not edit by hand

# ticket OPS-1
info@example.com   anna@example.org, ben@example.org
#old@example.com  gone@example.org
sales@example.com  info@example.com
@example.com       catchall@example.org
"""


class CLI:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "aliasdesk", *args],
            env=self.env,
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if ok and proc.returncode != 0:
            raise AssertionError(
                f"aliasdesk {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


def _postgres_url() -> Iterator[str]:
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    name = f"aliasdesk_test_{uuid.uuid4().hex[:8]}"
    base = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
    if subprocess.run([*base, f"CREATE DATABASE {name}"], capture_output=True).returncode != 0:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 as postgres")
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        subprocess.run([*base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


def _mariadb_url() -> Iterator[str]:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.skip("the MariaDB client is not installed")
    name = f"aliasdesk_test_{uuid.uuid4().hex[:8]}"
    base = [client, "-h", "127.0.0.1", "-uroot", "-e"]
    if subprocess.run([*base, f"CREATE DATABASE {name} CHARACTER SET utf8mb4"], capture_output=True).returncode != 0:
        pytest.skip("MariaDB is not reachable on 127.0.0.1:3306 as root")
    try:
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        subprocess.run([*base, f"DROP DATABASE IF EXISTS {name}"], capture_output=True)


class MigratedTemplates:
    """One migrated database per engine and test process, copied for each test: a migration
    run takes seconds (more on a busy MariaDB), a copy a fraction of one. PostgreSQL copies
    a template database, MariaDB loads the template's dump, SQLite copies the file."""

    def __init__(self, root: Path, postfix_conf: Path) -> None:
        self.root, self.postfix_conf = root, postfix_conf
        self.made: dict[str, str] = {}
        self.cleanups: list[Iterator[str]] = []

    def env(self, data: Path, url: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(ALIASDESK_DATA_DIR=str(data), ALIASDESK_POSTFIX_CONFIG_DIR=str(self.postfix_conf))
        env.pop("ALIASDESK_DATABASE_URL", None)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if url:
            env["ALIASDESK_DATABASE_URL"] = url
        return env

    def template(self, engine: str) -> str:
        """The migrated template: a file path (SQLite), a database URL (PostgreSQL), a dump (MariaDB)."""
        if engine not in self.made:
            data = self.root / f"template-{engine}"
            url = None
            if engine != "sqlite":
                gen = {"postgres": _postgres_url, "mariadb": _mariadb_url}[engine]()
                url = next(gen)
                self.cleanups.append(gen)
            CLI(self.env(data, url))("migrate", "--verbosity", "0")
            if engine == "sqlite":
                self.made[engine] = str(data / "aliasdesk.sqlite3")
            elif engine == "postgres":
                self.made[engine] = url or ""
            else:
                client = shutil.which("mariadb-dump") or shutil.which("mysqldump") or "mysqldump"
                name = (url or "").rsplit("/", 1)[1]
                dump = subprocess.run(
                    [client, "-h", "127.0.0.1", "-uroot", name], capture_output=True, text=True, check=True
                )
                self.made[engine] = dump.stdout
        return self.made[engine]

    def copy(self, engine: str, data: Path) -> Iterator[dict[str, str]]:
        """The environment of a command on a migrated database of its own, for one test."""
        template = self.template(engine)
        data.mkdir(parents=True, exist_ok=True)
        if engine == "sqlite":
            with sqlite3.connect(template) as source, sqlite3.connect(data / "aliasdesk.sqlite3") as target:
                source.backup(target)
            yield self.env(data, None)
            return
        gen = {"postgres": _postgres_url, "mariadb": _mariadb_url}[engine]()
        url = next(gen)
        name = url.rsplit("/", 1)[1]
        if engine == "postgres":
            base = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
            template_name = template.rsplit("/", 1)[1]
            subprocess.run([*base, f"DROP DATABASE {name}"], check=True, capture_output=True)
            subprocess.run([*base, f"CREATE DATABASE {name} TEMPLATE {template_name}"], check=True, capture_output=True)
        else:
            client = shutil.which("mariadb") or shutil.which("mysql") or "mysql"
            subprocess.run(
                [client, "-h", "127.0.0.1", "-uroot", name], input=template, text=True, check=True, capture_output=True
            )
        try:
            yield self.env(data, url)
        finally:
            next(gen, None)

    def close(self) -> None:
        for gen in self.cleanups:
            next(gen, None)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def cli(request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[CLI]:
    """The command on each engine, on a freshly migrated database of its own."""
    require_postmap()
    copies = migrated_templates.copy(request.param, tmp_path / "data")
    yield CLI(next(copies))
    next(copies, None)


def test_import_deploy_export_resolve_round_trip(cli: CLI, tmp_path: Path, postfix_conf: Path) -> None:
    src = tmp_path / "virtual.in"
    src.write_text(MAP)
    out = cli("import", str(src), "--domain", "example.com").stdout
    assert "4 added, 1 switched off" in out
    dry = cli("deploy", "example.com", "--dry-run").stdout
    assert "+info@example.com\tanna@example.org, ben@example.org" in dry
    assert "deployed" in cli("deploy", "example.com").stdout
    map_file = tmp_path / "data" / "maps" / "example.com"
    assert map_file.read_text() == cli("export", "example.com").stdout
    query = subprocess.run(
        ["postmap", "-c", str(postfix_conf), "-q", "Sales@Example.com", f"hash:{map_file}"],
        capture_output=True,
        text=True,
    )
    assert query.stdout.strip() == "info@example.com"
    assert "unchanged" in cli("deploy", "example.com").stdout
    resolved = json.loads(cli("resolve", "sales+x@example.com", "--json").stdout)
    assert resolved["recipients"] == ["anna+x@example.org", "ben+x@example.org"]
    assert json.loads(cli("resolve", "old@example.com", "--json").stdout)["recipients"] == ["catchall@example.org"]


def test_users_domains_and_errors_exit_non_zero_with_one_line(cli: CLI, tmp_path: Path) -> None:
    assert "created example.net" in cli("domain", "add", "example.net", "--map-type", "lmdb").stdout
    assert (
        "editor of example.net"
        in cli(
            "user",
            "add",
            "bob",
            "--role",
            "editor",
            "--domain",
            "example.net",
            "--password-stdin",
            stdin="a-long-Passphrase-9\n",
        ).stdout
    )
    admin = cli("user", "add", "alice", "--role", "admin").stdout
    assert "password: " in admin
    for args in (
        ("user", "add", "bob", "--role", "viewer"),
        ("domain", "add", "example.net"),
        ("deploy", "nope.example"),
        ("export", "nope.example"),
        ("import", str(tmp_path / "missing"), "--domain", "example.net"),
    ):
        proc = cli(*args, ok=False)
        assert proc.returncode != 0, args
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def test_import_with_errors_lists_each_line_and_imports_nothing(cli: CLI, tmp_path: Path) -> None:
    src = tmp_path / "bad"
    src.write_bytes(b"a@example.com b@example.org\nnovalue@example.com\nc@example.com d\x00@x.org\n")
    proc = cli("import", str(src), "--domain", "example.com", ok=False)
    assert proc.returncode != 0
    assert "line 2:" in proc.stderr and "line 3:" in proc.stderr
    assert "nothing imported" in proc.stderr.splitlines()[-1]
    assert cli("domain", "list").stdout.strip() == ""


def test_alias_edit_with_version_check_works_on_every_engine(cli: CLI, tmp_path: Path) -> None:
    src = tmp_path / "virtual.in"
    src.write_text(MAP)
    cli("import", str(src), "--domain", "example.com")
    code = "\n".join(
        [
            "from aliasdesk.aliases.models import Alias",
            "from aliasdesk.aliases import services as s",
            "a = Alias.objects.get(key='info@example.com')",
            "s.update_alias(a, version=a.version, destinations='zoe@x.org')",
            "try:",
            "    s.update_alias(a, version=a.version, destinations='late@x.org')",
            "except s.StaleEdit:",
            "    print('stale refused')",
            "print(Alias.objects.get(key='info@example.com').destinations)",
        ]
    )
    out = cli("shell", "-c", code).stdout
    assert "stale refused" in out and "zoe@x.org" in out


def test_limits_and_rollback_through_the_command(cli: CLI, tmp_path: Path) -> None:
    src = tmp_path / "virtual.in"
    src.write_text(MAP)
    cli("import", str(src), "--domain", "example.com")
    first = json.loads(cli("deploy", "example.com", "--json").stdout)[0]["deploy_id"]
    map_file = tmp_path / "data" / "maps" / "example.com"
    installed = map_file.read_bytes()

    out = cli("domain", "set", "example.com", "--max-aliases", "4", "--max-destinations", "2").stdout
    assert "example.com: limits set: aliases 4 (4 now), destinations per alias 2" in out
    more = tmp_path / "more.in"
    more.write_text("extra@example.com x@example.org\n")
    proc = cli("import", str(more), "--domain", "example.com", ok=False)
    assert proc.returncode != 0 and "example.com allows at most 4 aliases" in proc.stderr
    cli("domain", "set", "example.com", "--max-aliases", "none")

    changed = tmp_path / "changed.in"
    changed.write_text("info@example.com zoe@example.org\nnew@example.com nina@example.org\n")
    cli("import", str(changed), "--domain", "example.com", "--replace")
    cli("deploy", "example.com")
    assert map_file.read_bytes() != installed

    dry = cli("rollback", "example.com", "--to-deploy", str(first), "--dry-run").stdout
    assert "+info@example.com\tanna@example.org, ben@example.org" in dry
    assert "would make 3 restored, 1 removed, 1 changed, header and footer as then" in dry
    done = cli("rollback", "example.com", "--to-deploy", str(first)).stdout
    assert f"example.com: rolled back to deploy #{first} of" in done and "(the same text it installed)" in done
    cli("deploy", "example.com")
    assert map_file.read_bytes() == installed
    proc = cli("rollback", "example.com", "--to-deploy", "9999", ok=False)
    assert proc.returncode != 0 and proc.stderr.strip() == "CommandError: example.com has no deploy #9999"
