"""Shared fixtures: named users, isolated map and Postfix config dirs, the realdata folder."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Every patch deploy in the tests, in this process and in the aliasdesk commands they run,
# is checked byte for byte against a full render of the same rows.
os.environ.setdefault("ALIASDESK_DEPLOY_PATCH_CHECK", "1")
# aliasdesk's commands speak the user's language (LC_ALL, LC_MESSAGES, LANG, as gettext reads
# them): the tests read their English, in this process and in the commands they run, whatever
# the machine's locale. The tests of the German set the variables themselves.
os.environ["LC_ALL"] = "C.UTF-8"
REALDATA = REPO.parent / "shared" / "realdata"


def realdata(*parts: str) -> Path:
    """A file of ../shared/realdata; the test skips with the reason when it is absent."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the real maps and logs live in ../shared/realdata")
    return path


def write_main_cf(conf: Path, text: str) -> Path:
    """A private main.cf (for postconf and postmap -c) holding ``text``."""
    conf.mkdir(parents=True, exist_ok=True)
    main_cf = conf / "main.cf"
    main_cf.write_text("compatibility_level = 3.6\n" + text)
    old = time.time() - 120  # Postfix waits for a main.cf younger than a second
    os.utime(main_cf, (old, old))
    return conf


def require_postmap() -> None:
    if shutil.which("postmap") is None and not Path("/usr/sbin/postmap").exists():
        pytest.skip("postmap is not installed (Debian package postfix)")


@pytest.fixture(scope="session")
def postfix_conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Postfix config dir for postmap -c: the machine may have no /etc/postfix/main.cf."""
    conf = tmp_path_factory.mktemp("postfix-conf")
    main_cf = conf / "main.cf"
    main_cf.write_text("compatibility_level = 3.6\n")
    # Postfix waits for a main.cf younger than a second to settle: make it old.
    old = time.time() - 120
    os.utime(main_cf, (old, old))
    return conf


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory, postfix_conf: Path) -> Iterator[object]:
    """A migrated database per engine, copied for each test (tests.test_cli.MigratedTemplates)."""
    from tests.test_cli import MigratedTemplates

    templates = MigratedTemplates(tmp_path_factory.mktemp("migrated"), postfix_conf)
    yield templates
    templates.close()


@pytest.fixture(autouse=True, scope="session")
def allow_test_map_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests keep their maps in pytest's temporary directories: these are map directories
    here too (settings.MAP_DIRS, and ALIASDESK_MAP_DIRS for the commands that tests run as
    subprocesses). The check itself is unchanged; its own tests set their own directories."""
    from django.conf import settings

    base = tmp_path_factory.getbasetemp()
    before = (settings.MAP_DIRS, os.environ.get("ALIASDESK_MAP_DIRS"))
    settings.MAP_DIRS = [base, *settings.MAP_DIRS]
    os.environ["ALIASDESK_MAP_DIRS"] = ":".join(str(d) for d in settings.MAP_DIRS)
    yield
    settings.MAP_DIRS = before[0]
    if before[1] is None:
        os.environ.pop("ALIASDESK_MAP_DIRS", None)
    else:
        os.environ["ALIASDESK_MAP_DIRS"] = before[1]


@pytest.fixture
def map_dir(tmp_path: Path) -> Path:
    path = tmp_path / "maps"
    path.mkdir()
    return path


@pytest.fixture
def aliasdesk_settings(settings, map_dir: Path, postfix_conf: Path, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    settings.MAP_DIR = map_dir
    settings.DATA_DIR = tmp_path
    settings.POSTFIX_CONFIG_DIR = str(postfix_conf)
    settings.POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
    settings.DEPLOY_PATCH_CHECK = True
    yield settings
