"""The shape of ``aliasdesk.postfix``: no Django, and two libraries that never import each other
(both may use ``aliasdesk.postfix.text``, the translation hook for their messages).

Each check imports modules in a fresh interpreter, so what it finds in ``sys.modules`` is
exactly what those imports pulled in.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import aliasdesk.postfix

REPO = Path(__file__).resolve().parents[2]


def modules(package: str = "aliasdesk.postfix") -> list[str]:
    found = pkgutil.walk_packages(aliasdesk.postfix.__path__, "aliasdesk.postfix.")
    return sorted(m.name for m in found if m.name.startswith(package))


def loaded_after_import(names: list[str]) -> list[str]:
    """The names in ``sys.modules`` of a fresh interpreter after importing ``names``."""
    code = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, cwd=REPO, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_package_holds_the_two_libraries() -> None:
    names = modules()
    assert "aliasdesk.postfix.maps.virtual" in names
    assert "aliasdesk.postfix.maillog.summary" in names
    shared = {"aliasdesk.postfix.text"}
    libraries = [n for n in names if n not in shared]
    assert all(n in {"aliasdesk.postfix.maps", "aliasdesk.postfix.maillog"} or n.count(".") == 3 for n in libraries)
    assert {n.split(".")[2] for n in libraries} == {"maps", "maillog"}


def test_no_module_imports_django() -> None:
    loaded = loaded_after_import(modules())
    assert not [m for m in loaded if m == "django" or m.startswith("django.")]


@pytest.mark.parametrize(("library", "other"), [("maps", "maillog"), ("maillog", "maps")])
def test_the_libraries_do_not_import_each_other(library: str, other: str) -> None:
    loaded = loaded_after_import(modules(f"aliasdesk.postfix.{library}"))
    assert not [m for m in loaded if m.startswith(f"aliasdesk.postfix.{other}")]


def test_the_summary_does_not_know_its_presenter() -> None:
    loaded = loaded_after_import(["aliasdesk.postfix.maillog.summary", "aliasdesk.postfix.maillog.parallel"])
    assert "aliasdesk.postfix.maillog.summary" in loaded
    assert "aliasdesk.postfix.maillog.report" not in loaded
