"""Kills at exact points of a deploy, and postmap killed mid-build, through the real CLI.

A kill -9 at a random moment (test_faults.py) rarely lands in a window microseconds wide;
crashpoint.py puts it there every time. Each of these tests once caught an engine bug.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploys.faultdesk import REAL_POSTMAP, TIMEOUT, Desk, desk_maker, needs_root_and_postmap, write_script

CRASHPOINT = Path(__file__).with_name("crashpoint.py")

pytestmark = needs_root_and_postmap


@pytest.fixture
def make_desk(tmp_path: Path, postfix_conf: Path) -> Iterator[Callable[..., Desk]]:
    with desk_maker(tmp_path, postfix_conf) as make:
        yield make


# --------------------------------------------------------------------------- postmap killed mid-build

KILLED_AT_RENAME_WRAPPER = """#!/bin/sh
# postmap killed (SIGKILL) at its first rename(2): Berkeley DB's new __db.X.db is not yet X.db.
case " $* " in *" -q "*|*" -s "*) exec {real} "$@";; esac
exec {strace} -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=KILL {real} "$@"
"""


def deploy_with_postmap_killed_mid_build(desk: Desk, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: it injects the kill into postmap")
    wrapper = write_script(
        tmp_path / "postmap-killed-at-rename", KILLED_AT_RENAME_WRAPPER.format(real=REAL_POSTMAP, strace=strace)
    )
    desk.set_state("B")
    return desk.run("deploy", "example.com", postmap=wrapper)


def test_postmap_killed_mid_build_fails_the_deploy_and_keeps_the_old_map(
    make_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    desk = make_desk("hash")
    before = desk.map_path.read_bytes(), desk.compiled.read_bytes()
    proc = deploy_with_postmap_killed_mid_build(desk, tmp_path)
    assert proc.returncode != 0
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        "CommandError: example.com: postmap failed (signal 9): no message"
    ]
    assert (desk.map_path.read_bytes(), desk.compiled.read_bytes()) == before
    assert desk.compiled_state() == "A"
    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == "B"


def test_the_next_deploy_removes_what_a_killed_postmap_left(make_desk: Callable[..., Desk], tmp_path: Path) -> None:
    desk = make_desk("hash")
    assert deploy_with_postmap_killed_mid_build(desk, tmp_path).returncode != 0
    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == "B"
    assert desk.leftovers() == []


# --------------------------------------------------------------------------- kill between the renames

RENAME_BUGS = {  # fixed; kept as the description of each case
    "compiled": "after a kill between the two renames (.db is new, source old) the next deploy "
    "of the old state is a silent no-op and Postfix keeps the new map",
    "source": "after a kill after both renames but before the Deploy is recorded, the next "
    "deploy of another state is refused as a hand edit (drift)",
}


@pytest.mark.parametrize("point", list(RENAME_BUGS))
def test_kill_right_after_a_rename_then_a_plain_deploy_installs_the_database_state(
    make_desk: Callable[..., Desk], point: str
) -> None:
    """A kill can land between any two steps; the next ordinary deploy must still do the right thing."""
    desk = make_desk("hash")
    desk.set_state("B")
    dest = desk.compiled if point == "compiled" else desk.map_path
    proc = subprocess.run(
        [sys.executable, str(CRASHPOINT), "after-replace", str(dest), "deploy", "example.com"],
        env=desk.env(), capture_output=True, text=True, timeout=TIMEOUT, cwd=desk.root,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert desk.compiled_state() == "B"  # what Postfix sees is whole either way

    desk.set_state("A")
    result = desk.run("deploy", "example.com")
    assert result.returncode == 0, result.stderr
    assert desk.compiled_state() == "A", f"aliasdesk said {result.stdout.strip()!r} but Postfix still sees B"
    assert desk.source_state() == "A"


# --------------------------------------------------------------------------- kill right after the fork


def test_a_kill_right_after_the_validation_fork_leaves_nothing_running(make_desk: Callable[..., Desk]) -> None:
    """kill -9 can land between fork() and anything the child does; the next deploy must not hang."""
    desk = make_desk("hash", n=5000)
    desk.set_state("B")
    # Output to a file: the child left behind would keep a pipe open.
    with open(desk.root / "crash.err", "w") as err:
        proc = subprocess.run(
            [sys.executable, str(CRASHPOINT), "after-fork", "deploy", "example.com"],
            env=desk.env(), stdout=subprocess.DEVNULL, stderr=err, timeout=TIMEOUT, cwd=desk.root,
        )
    if proc.returncode == 0:
        pytest.skip("the deploy forks no child any more: nothing to kill it after")
    assert proc.returncode == -signal.SIGKILL, (desk.root / "crash.err").read_text()
    assert desk.compiled_state() == "A"
    stuck = desk.wait_for_orphans(timeout=10)
    assert stuck == [], f"still running 10 s after the deploy was killed: {desk.describe(stuck)}"
    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == "B"
