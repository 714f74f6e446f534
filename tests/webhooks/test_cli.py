"""``aliasdesk webhooks --once`` as run from a timer: two at once on one SQLite file, each
delivery sent exactly once, exit 0 whatever the receivers answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.test_cli import CLI

SETUP = """
from aliasdesk.webhooks.models import Hook
Hook.objects.create(url={url!r}, events=["alias.created"], secret="s3cret", allow_private=True)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ALIASDESK_DATA_DIR=str(tmp_path / "data"),
        ALIASDESK_MAP_DIRS=str(tmp_path / "maps"),
        ALIASDESK_MAP_DIR=str(tmp_path / "maps"),
        ALIASDESK_SECRET_KEY="test-webhooks-cli",
        PYTHONPATH=str(REPO),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("ALIASDESK_DATABASE_URL", None)
    return env


def test_two_workers_send_each_imported_alias_once(tmp_path, receiver):
    (tmp_path / "data").mkdir()
    (tmp_path / "maps").mkdir()
    env = _env(tmp_path)
    cli = CLI(env)
    cli("migrate", "-v", "0")
    cli("shell", "-c", SETUP.format(url=receiver.url))
    source = tmp_path / "virtual"
    source.write_text("".join(f"a{i}@example.com  anna@example.org\n" for i in range(40)))
    cli("import", str(source), "--domain", "example.com")
    workers = [
        subprocess.Popen([sys.executable, "-m", "aliasdesk", "webhooks", "--once"], env=env, cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outcomes
    keys = sorted(r.body.decode().split('"key": "')[1].split('"')[0] for r in receiver.received)
    assert keys == sorted(f"a{i}@example.com" for i in range(40))
    ids = [r.headers["x-aliasdesk-delivery"] for r in receiver.received]
    assert len(set(ids)) == 40
    assert {r.headers["x-aliasdesk-event"] for r in receiver.received} == {"alias.created"}
    receiver.status = 500  # a failing receiver does not fail the command
    cli("shell", "-c", "from aliasdesk.webhooks.models import Delivery; Delivery.objects.update(status='pending')")
    assert cli("webhooks", "--once").returncode == 0
