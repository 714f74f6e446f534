"""aliasdesk's commands speak the user's language, read from the environment as gettext reads
it (LC_ALL, LC_MESSAGES, LANG); C, POSIX, unset or a language aliasdesk lacks: English.
What scripts read (--json, the lines of `user list`) is the same in every language.

The German here comes from a small catalogue made for the test (LOCALE_PATHS), so the tests
do not depend on the project's catalogue being compiled."""

from __future__ import annotations

import gettext
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from aliasdesk import cli
from tests.web.conftest import example  # noqa: F401 - the fixture

GERMAN = {
    "Deploying to Postfix": "Übernahme nach Postfix",
    "unchanged": "unverändert",
    "%(domain)s: no changes": "%(domain)s: keine Änderungen",
}


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "de_DE.UTF-8"}, "de"),
        ({"LANG": "de_AT.utf8"}, "de"),
        ({"LANG": "de"}, "de"),
        ({"LANG": "de_DE@euro"}, "de"),
        ({"LC_MESSAGES": "de_CH.UTF-8", "LANG": "C.UTF-8"}, "de"),
        ({"LC_ALL": "C.UTF-8", "LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "de_DE.UTF-8"}, "de"),
        ({"LC_ALL": "de_DE.UTF-8", "LANG": "C"}, "de"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_language_comes_from_the_environment_as_gettext_reads_it(environ, language):
    assert cli.language_from_environment(environ) == language


@pytest.fixture
def german(tmp_path: Path, settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A German catalogue of a few of aliasdesk's texts, compiled, as LOCALE_PATHS."""
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt is not installed (Debian package gettext)")
    folder = tmp_path / "locale" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    entries = "".join(f'\nmsgid "{k}"\nmsgstr "{v}"\n' for k, v in GERMAN.items())
    entries += '\nmsgid "example:"\nmsgid_plural "examples:"\nmsgstr[0] "Beispiel:"\nmsgstr[1] "Beispiele:"\n'
    po = folder / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n' + entries,
        encoding="utf-8",
    )
    subprocess.run(["msgfmt", "-o", str(folder / "django.mo"), str(po)], check=True)
    settings.LOCALE_PATHS = [tmp_path / "locale"]  # clears Django's translation caches
    yield


def test_help_speaks_german_under_a_german_locale(german, monkeypatch, capsys):
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    before = translation.get_language()
    assert cli.main(["help"]) == 0
    out = capsys.readouterr().out
    assert "Übernahme nach Postfix:" in out and "Deploying to Postfix" not in out
    assert translation.get_language() == before  # the process's language is left as it was


def test_help_speaks_english_under_the_c_locale(german, monkeypatch, capsys):
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert cli.main(["help"]) == 0
    assert "Deploying to Postfix:" in capsys.readouterr().out


def test_a_commands_help_ends_with_german_examples(german, monkeypatch, capsys):
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    with pytest.raises(SystemExit):
        cli.main(["deploy", "--help"])
    assert "Beispiele:\n  aliasdesk deploy example.com --dry-run\n" in capsys.readouterr().out


@pytest.mark.django_db
def test_deploy_speaks_german_but_its_json_stays_english(german, example, capsys):  # noqa: F811 - the fixture
    call_command("deploy", "example.com", stdout=io.StringIO())
    with translation.override("de"):
        out = io.StringIO()
        call_command("deploy", "example.com", "--dry-run", stdout=out)
        assert "# example.com: keine Änderungen" in out.getvalue()
        out = io.StringIO()
        call_command("deploy", "example.com", "--json", stdout=out)
        assert [r["message"] for r in json.loads(out.getvalue())] == ["unchanged"]
        out = io.StringIO()
        call_command("deploy", "example.com", stdout=out)
        assert "example.com: unverändert" in out.getvalue()


def _aliasdesk_help(tmp_path: Path, **locale: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    env.update(ALIASDESK_DATA_DIR=str(tmp_path / "data"), **locale)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-m", "aliasdesk", "help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_command_speaks_english_under_lang_c(tmp_path):
    assert "Deploying to Postfix:" in _aliasdesk_help(tmp_path, LANG="C")


def test_the_command_speaks_german_under_a_german_lang(tmp_path):
    """With the project's compiled catalogue (make install compiles it)."""
    mo = Path(cli.__file__).parent / "locale" / "de" / "LC_MESSAGES" / "django.mo"
    if not mo.exists():
        pytest.skip(f"{mo} is not compiled (make install)")
    german = gettext.GNUTranslations(mo.open("rb")).gettext("Deploying to Postfix")
    if german == "Deploying to Postfix":
        pytest.skip("the catalogue does not translate the help yet")
    assert f"{german}:" in _aliasdesk_help(tmp_path, LANG="de_DE.UTF-8")
