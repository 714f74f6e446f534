"""aliasdesk domain set/list/add: header and footer files, input policy, nodes, deploy on save,
the version check, --json and --as; the same checks and history as the settings page."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from aliasdesk.aliases.models import Domain
from tests.cli.conftest import Run, unchanged

pytestmark = pytest.mark.usefixtures("everyone", "other")


def example() -> Domain:
    return Domain.objects.get(name="example.com")


def test_header_and_footer_from_files_and_stdin(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = tmp_path / "header"
    header.write_text("# managed by aliasdesk\npostmaster@example.com root@example.org\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"# the end\r\n\r\n")))
    out = run("domain", "set", "example.com", "--header-file", str(header), "--footer-file", "-")
    assert out.splitlines() == ["example.com: settings set: footer, header", "example.com: deploy to write the new map"]
    domain = example()
    assert (domain.header, domain.footer) == (header.read_text(), "# the end\n")
    assert "settings unchanged" in run("domain", "set", "example.com", "--header-file", str(header))


def test_input_policy_nodes_and_deploy_on_save(run: Run) -> None:
    document = json.loads(
        run(
            "domain", "set", "example.com", "--localpart-pattern", "[a-z.-]+",
            "--allowed-destination-domains", "example.org, Example.NET", "--extra-domains", "example.info",
            "--editors-role-addresses", "on", "--node", "mx1", "--node", "mx2", "--deploy-on-save", "on",
            "--max-aliases", "10", "--json",
        )
    )
    assert {k: document[k] for k in (
        "localpart_pattern", "allowed_destination_domains", "extra_domains", "editors_role_addresses", "nodes",
        "deploy_on_save", "max_aliases", "max_destinations", "changed",
    )} == {
        "localpart_pattern": "[a-z.-]+",
        "allowed_destination_domains": ["example.org", "example.net"],
        "extra_domains": ["example.info"],
        "editors_role_addresses": True,
        "nodes": ["mx1", "mx2"],
        "deploy_on_save": True,
        "max_aliases": 10,
        "max_destinations": None,
        "changed": True,
    }
    run("domain", "set", "example.com", "--every-node", "--localpart-pattern", "none", "--deploy-on-save", "off",
        "--allowed-destination-domains", "none")
    domain = example()
    assert (domain.nodes, domain.localpart_pattern, domain.deploy_on_save, domain.allowed_destination_domains) == (
        "", "", False, ""
    )
    assert domain.max_aliases == 10 and domain.extra_domains == "example.info"  # not given: kept


def test_the_policy_applies_to_the_alias_command(run: Run) -> None:
    run("domain", "set", "example.com", "--localpart-pattern", "[a-z]+", "--allowed-destination-domains", "example.org")
    with unchanged():
        assert "pattern for names" in run.refused("alias", "add", "example.com", "x1@example.com", "a@example.org")
        assert "may only forward to example.org" in run.refused(
            "alias", "add", "example.com", "x@example.com", "a@example.net"
        )
    run("alias", "add", "example.com", "x@example.com", "a@example.org")


def test_bad_settings_change_nothing(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "header"
    bad.write_text("# fine\nnovalue@example.com\n")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    with unchanged():
        assert "Header, line 2:" in run.refused("domain", "set", "example.com", "--header-file", str(bad))
        assert "not UTF-8" in run.refused("domain", "set", "example.com", "--footer-file", str(binary))
        assert "No such file" in run.refused("domain", "set", "example.com", "--footer-file", str(tmp_path / "no"))
        assert "one line only" in run.refused("domain", "set", "example.com", "--localpart-pattern", "a\nb")
        assert "not a valid regular expression" in run.refused(
            "domain", "set", "example.com", "--localpart-pattern", "(["
        )
        assert "not a node name" in run.refused("domain", "set", "example.com", "--node", "mx 1;rm")
        assert "not a domain name" in run.refused(
            "domain", "set", "example.com", "--allowed-destination-domains", "exa mple..org"
        )
        assert "mail domain of the map of other.org" in run.refused(
            "domain", "set", "example.com", "--extra-domains", "other.org"
        )
        assert "a whole number" in run.refused("domain", "set", "example.com", "--max-destinations", "0")
        assert "no domain nope.example" in run.refused("domain", "set", "nope.example", "--deploy-on-save", "on")


def test_a_stale_version_is_refused(run: Run) -> None:
    version = example().version
    run("domain", "set", "example.com", "--deploy-on-save", "on", "--version", str(version))
    with unchanged():
        message = run.refused("domain", "set", "example.com", "--deploy-on-save", "off", "--version", str(version))
    assert message == f"example.com: someone else changed the settings of example.com while you were editing " \
        f"(now version {version + 1})"


def test_history_says_via_cli_with_the_user_of_as(run: Run) -> None:
    run("domain", "set", "example.com", "--node", "mx1", "--as", "alice")
    record = example().history.latest("history_id")
    assert (record.history_user.username, record.history_change_reason) == ("alice", "settings · via CLI")
    run("domain", "set", "example.com", "--max-aliases", "5")
    record = example().history.latest("history_id")
    assert (record.history_user, record.history_change_reason) == (None, "limits · via CLI")


def test_only_administrators_change_or_add_domains(run: Run) -> None:
    with unchanged():
        for name in ("bob", "carol", "dave"):
            assert run.refused("domain", "set", "example.com", "--deploy-on-save", "on", "--as", name) == (
                f"{name} may not change the settings of example.com: only administrators may"
            )
            assert "only administrators" in run.refused("domain", "add", "new.example", "--as", name)
        assert run.refused("domain", "set", "other.org", "--node", "x", "--as", "bob") == "no domain other.org"
    run("domain", "add", "new.example", "--as", "alice")


def test_list_and_add_in_json_and_as_a_user(run: Run) -> None:
    added = json.loads(run("domain", "add", "new.example", "--node", "mx1", "--json"))
    assert (added["name"], added["map_type"], added["nodes"], added["deployed"]) == ("new.example", "hash", ["mx1"],
                                                                                     False)
    names = [d["name"] for d in json.loads(run("domain", "list", "--json"))]
    assert names == ["example.com", "new.example", "other.org"]
    assert [d["name"] for d in json.loads(run("domain", "list", "--json", "--as", "bob"))] == ["example.com"]
    assert run("domain", "list", "--as", "erin") == ""
    lines = run("domain", "list").splitlines()
    assert lines[1] == f"new.example\thash:{added['map_path']}\tchanges not deployed\tmx1"
