"""The new subcommands as scripts run them: exit status, one line on stderr, JSON on stdout;
on SQLite, PostgreSQL and MariaDB (the ``cli`` fixture of tests/test_cli.py)."""

from __future__ import annotations

import json

from tests.test_cli import CLI, cli  # noqa: F401 - the fixture


def test_a_script_edits_aliases_and_reads_refusals(cli: CLI) -> None:  # noqa: F811 - the fixture
    cli("domain", "add", "example.com")
    cli("domain", "add", "other.org")
    cli("user", "add", "bob", "--role", "editor", "--domain", "example.com")
    cli("user", "add", "dave", "--role", "viewer", "--domain", "example.com")
    added = json.loads(cli("alias", "add", "example.com", "Info@Example.com", "a@example.org", "--json").stdout)
    changed = json.loads(
        cli("alias", "set", "example.com", "info@example.com", "--add-destination", "b@example.org",
            "--version", str(added["version"]), "--as", "bob", "--json").stdout
    )
    assert (changed["id"], changed["destinations"], changed["version"]) == (
        added["id"], ["a@example.org", "b@example.org"], 2
    )
    for args, reason in (
        (("alias", "set", "example.com", "info@example.com", "--comment", "x", "--version", "1"), "now version 2"),
        (("alias", "disable", "example.com", f"#{added['id']}", "--as", "dave"), "you may not change the aliases"),
        (("alias", "add", "other.org", "x@other.org", "a@example.org", "--as", "bob"), "no domain other.org"),
        (("alias", "add", "example.com", "x@example.com\nroot", "a@example.org"), "control character"),
        (("domain", "set", "example.com", "--node", "mx1", "--as", "bob"), "only administrators may"),
        (("user", "grant", "bob", "other.org", "--as", "bob"), "only administrators may"),
    ):
        proc = cli(*args, ok=False)
        assert proc.returncode != 0 and proc.stdout == "", args
        assert len(proc.stderr.strip().splitlines()) == 1 and reason in proc.stderr, (args, proc.stderr)
    listed = json.loads(cli("alias", "list", "example.com", "--json").stdout)
    assert [(a["key"], a["version"], a["comment"]) for a in listed] == [("Info@Example.com", 2, "")]
    assert cli("user", "list").stdout.splitlines()[0] == "bob\teditor\tactive\tlocal\texample.com (editor)"
