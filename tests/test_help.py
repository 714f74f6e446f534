"""`aliasdesk help` lists aliasdesk's commands by what they are for, hides Django's developer
and dangerous commands, and every command's --help ends with an example."""

from __future__ import annotations

import pytest
from django.core.management import get_commands

from aliasdesk import cli
from aliasdesk.commands import CATALOGUE, EXAMPLES

HIDDEN = ["flush", "sqlflush", "dbshell", "loaddata", "inspectdb", "createsuperuser", "startapp", "testserver"]


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(list(args)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("args", [(), ("help",), ("--help",), ("-h",)])
def test_help_lists_the_commands_by_purpose_and_hides_djangos_own(capsys, args):
    out = listed(capsys, *args)
    for group, commands in CATALOGUE:
        assert f"{group}:" in out
        for name, _ in commands:
            assert f"\n  {name} " in out, name
    words = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert not words & set(HIDDEN)


def test_every_command_of_aliasdesk_is_in_the_catalogue_and_exists():
    ours = {name for name, app in get_commands().items() if app.startswith("aliasdesk.")}
    typed = {cli.DASHED.get(name, name) for name in EXAMPLES}
    assert ours <= typed, f"add these to aliasdesk/commands.py: {sorted(ours - typed)}"
    assert typed - {"logstats"} <= set(get_commands())


def test_a_command_help_ends_with_its_example(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["deploy", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("aliasdesk deploy --all")
    assert "examples:\n  aliasdesk deploy example.com --dry-run\n" in out


@pytest.mark.django_db
def test_hidden_commands_still_run(capsys):
    assert cli.main(["showmigrations", "api"]) == 0
    assert "0001_tokens" in capsys.readouterr().out
