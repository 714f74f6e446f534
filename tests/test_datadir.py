"""Importing settings writes nothing; the aliasdesk command makes the data dir and its secret key first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def _env(data: Path) -> dict[str, str]:
    env = {**os.environ, "ALIASDESK_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "aliasdesk.settings"}
    env.pop("ALIASDESK_SECRET_KEY", None)
    return env


def _run(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, *args], env=env, cwd=REPO, check=True, capture_output=True, text=True).stdout


def test_importing_settings_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, second = _run(_env(data), "-c", PRINT_KEY), _run(_env(data), "-c", PRINT_KEY)
    assert not data.exists()
    assert first.strip() and first != second  # no key kept yet: one per process


def test_the_command_keeps_one_key_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _run(_env(data), "-m", "aliasdesk", "help")
    key = (data / "secret_key").read_text().strip()
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    _run(_env(data), "-m", "aliasdesk", "help")
    assert (data / "secret_key").read_text().strip() == key
    assert _run(_env(data), "-c", PRINT_KEY).strip() == key
