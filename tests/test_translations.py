"""German is complete: `make messages` on today's code leaves nothing untranslated or fuzzy.

makemessages runs on a copy of the package (the checkout stays as it is), with the committed
catalogue beside it, exactly as `make messages` would merge it; then gettext's own tools say
what is untranslated or fuzzy, and msgfmt --check that every translation keeps its placeholders.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aliasdesk"
CATALOGUE = PACKAGE / "locale" / "de" / "LC_MESSAGES" / "django.po"

pytestmark = pytest.mark.skipif(shutil.which("msgattrib") is None, reason="GNU gettext is not installed")


def _entries(po_text: str) -> list[str]:
    """The msgids of a .po text, the header left out."""
    ids = []
    for block in po_text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        quoted = [line for line in lines if line.startswith(("msgid ", '"')) and '"' in line]
        text = "".join(line.split('"', 1)[1].rsplit('"', 1)[0] for line in quoted)
        joined = "\n".join(lines)
        if "msgid " in joined and not joined.startswith('msgid ""\nmsgstr ""'):
            ids.append(text[:120])
    return ids


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("messages") / "aliasdesk"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("vendor", "__pycache__", "*.mo"))
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    command = [sys.executable, "-m", "aliasdesk", "makemessages", "-l", "de", "--no-location", "--no-obsolete"]
    done = subprocess.run([*command, "--ignore", "static/*"], cwd=copy, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return copy / "locale" / "de" / "LC_MESSAGES" / "django.po"


def test_the_catalogue_is_committed() -> None:
    assert CATALOGUE.is_file(), "aliasdesk/locale/de/LC_MESSAGES/django.po is missing: run `make messages`"


def _gettext_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


def test_nothing_is_untranslated(regenerated: Path) -> None:
    found = _gettext_tool("msgattrib", "--untranslated", "--no-obsolete", str(regenerated))
    missing = _entries(found.stdout)
    assert not missing, f"{len(missing)} texts without German (run `make messages` and translate them): {missing[:20]}"


def test_nothing_is_fuzzy(regenerated: Path) -> None:
    found = _gettext_tool("msgattrib", "--only-fuzzy", "--no-obsolete", str(regenerated))
    fuzzy = _entries(found.stdout)
    assert not fuzzy, f"{len(fuzzy)} fuzzy translations to check and unmark: {fuzzy[:20]}"


def test_every_translation_keeps_its_placeholders(regenerated: Path) -> None:
    done = _gettext_tool("msgfmt", "--check", "-o", os.devnull, str(regenerated))
    assert done.returncode == 0, done.stderr


def test_the_committed_catalogue_is_up_to_date(regenerated: Path) -> None:
    """Strings removed from the code leave the catalogue too (`make messages` keeps it tidy)."""
    assert set(_entries(CATALOGUE.read_text())) == set(_entries(regenerated.read_text()))


def test_a_deploy_is_numbered_one_way_in_german() -> None:
    """German numbers a deploy one way, "Übernahme #2" (as "Webhook #1"), never "Übernahme 2"."""
    text = CATALOGUE.read_text()
    assert "Übernahme #%(pk)s" in text and "Übernahme #%(id)s" in text
    assert not re.findall(r"Übernahme %\((?:pk|id)\)s", text)
