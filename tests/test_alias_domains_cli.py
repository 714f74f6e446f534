"""Alias domains from the command line, on SQLite, PostgreSQL and MariaDB: domain add --alias-of,
deploy (postmap answers), resolve both ways, and the old `domain add` forms unchanged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.test_cli import CLI
from tests.test_cli import cli as cli  # the fixture: the command on each database engine


def _query(conf: Path, path: Path, key: str) -> str | None:
    proc = subprocess.run(["postmap", "-c", str(conf), "-q", key, f"hash:{path}"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_alias_domains_deploy_and_resolve(cli: CLI, tmp_path: Path, postfix_conf: Path) -> None:
    maps = tmp_path / "data" / "maps"
    cli("domain", "add", "target.example")
    src = tmp_path / "virtual.in"
    src.write_text(
        "info@target.example  anna@example.org, ben@example.org\nsales@target.example  info@target.example\n"
    )
    cli("import", str(src), "--domain", "target.example")
    out = cli("domain", "add", "alias.example", "--alias-of", "target.example").stdout
    assert "alias domain of target.example (expand)" in out
    out = cli("domain", "add", "wild.example", "--alias-of", "Target.Example", "--alias-mode", "catchall").stdout
    assert "(catchall)" in out
    listing = cli("domain", "list").stdout
    assert "alias.example\thash:" in listing and "alias of target.example (expand)" in listing

    deployed = json.loads(cli("deploy", "--all", "--json").stdout)
    assert {d["domain"]: d["status"] for d in deployed} == {
        "alias.example": "ok", "target.example": "ok", "wild.example": "ok"
    }
    wild = next(d for d in deployed if d["domain"] == "wild.example")
    assert [f["code"] for f in wild["findings"] if f["code"].startswith("alias-domain")] == ["alias-domain-backscatter"]
    assert _query(postfix_conf, maps / "alias.example", "sales@alias.example") == "sales@target.example"
    assert _query(postfix_conf, maps / "alias.example", "nobody@alias.example") is None
    assert _query(postfix_conf, maps / "wild.example", "@wild.example") == "@target.example"
    assert (maps / "alias.example").read_text() == cli("export", "alias.example").stdout

    resolved = json.loads(cli("resolve", "sales@alias.example", "--json").stdout)
    assert resolved["recipients"] == ["anna@example.org", "ben@example.org"]
    refused = cli("resolve", "nobody@alias.example", ok=False)
    assert refused.returncode != 0 and "User unknown in virtual alias table" in refused.stderr
    assert "not accepted" in refused.stdout
    anyone = json.loads(cli("resolve", "nobody@wild.example", "--json").stdout)
    assert anyone["recipients"] == ["nobody@target.example"] and not anyone["rejected"]

    # a change of the target: the next deploy --all rebuilds the alias domains too
    src.write_text("new@target.example  carla@example.org\n")
    cli("import", str(src), "--domain", "target.example")
    again = {d["domain"]: (d["status"], d["method"]) for d in json.loads(cli("deploy", "--all", "--json").stdout)}
    assert again["alias.example"] == ("ok", "full") and again["wild.example"][0] == "noop"
    assert _query(postfix_conf, maps / "alias.example", "new@alias.example") == "new@target.example"


def test_domain_add_refusals_create_nothing(cli: CLI, tmp_path: Path) -> None:
    cli("domain", "add", "plain.example", "--map-type", "hash")  # the contract's form, unchanged
    for args, reason in [
        (["--alias-of", "missing.example"], "no domain missing.example"),
        (["--alias-mode", "catchall"], "--alias-mode needs --alias-of"),
        (["--alias-of", "plain.example", "--alias-mode", "wild"], "invalid choice"),
    ]:
        proc = cli("domain", "add", "alias.example", *args, ok=False)
        assert proc.returncode != 0 and reason in proc.stderr, proc.stderr
    assert "alias.example" not in cli("domain", "list").stdout
    cli("domain", "add", "alias.example", "--alias-of", "plain.example")
    src = tmp_path / "virtual.in"
    src.write_text("x@alias.example  y@example.org\n")
    proc = cli("import", str(src), "--domain", "alias.example", ok=False)
    assert proc.returncode != 0 and "is an alias domain of plain.example" in proc.stderr
