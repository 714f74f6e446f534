"""Fault injection for patch deploys: Postfix never sees a broken map, the next deploy repairs.

A deploy after few changed aliases patches the deployed table (a copy of it, ``postmap -d``
and ``postmap -r -i`` on the copy, queries to verify, then renames) instead of building it
again. These tests do to patch deploys what test_faults.py does to full ones, through the
real CLI and the real postmap: kill -9 at random moments, a failing or lying postmap, a
full disk. ``PatchTrials`` (faultdesk.py) changes one alias at a time through aliasdesk's
services and knows what the table must answer as last deployed ("old") and as the
database says now ("new").

The random kills use a fixed seed, printed with every failure; set ALIASDESK_FAULT_SEED
to try another one, ALIASDESK_FAULT_TRIALS to run more kills.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploys.faultdesk import (
    MAP_TYPES,
    REAL_POSTMAP,
    Desk,
    PatchTrials,
    desk_maker,
    needs_root_and_postmap,
    write_script,
)

SEED = int(os.environ.get("ALIASDESK_FAULT_SEED", "20261203"))
TRIALS = int(os.environ.get("ALIASDESK_FAULT_TRIALS", "0"))  # 0: 16 for hash, 12 for lmdb; more for a soak
DOMAIN = "example.com"

pytestmark = [needs_root_and_postmap, pytest.mark.slow]


@pytest.fixture
def make_desk(tmp_path: Path, postfix_conf: Path) -> Iterator[Callable[..., Desk]]:
    with desk_maker(tmp_path, postfix_conf) as make:
        yield make


def patch_trials(desk: Desk, seed: str) -> PatchTrials:
    return PatchTrials(desk, DOMAIN, desk.states.full["A"], random.Random(seed))


# --------------------------------------------------------------------------- 1. random kill -9


@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_kill_9_of_patch_deploys_never_breaks_the_map(make_desk: Callable[..., Desk], map_type: str) -> None:
    """One alias changed, a plain deploy (a patch) SIGKILLed at a random moment, again and again.

    Odd trials kill at a random moment of the whole command (most land in Python's start-up
    or the plan, before anything is written); even trials at a random moment after the
    patch's temporary files appeared (copy, postmap, verify, text, renames, record), 1.5
    times as long as that took when measured. Half the kills hit the aliasdesk process
    alone, half its process group, postmap too. After each: the table is the whole old or
    the whole new map (postmap -s, and postmap -q of a sample and the changed key), the
    text is the old or the new one, never newer than the table; an interrupted deploy is
    repaired by the next one (a full build), and the deploys after that patch again.
    """
    trials = TRIALS or (16 if map_type == "hash" else 12)
    label = f"seed {SEED}, {map_type}, "
    print(f"fault-injection seed {SEED} (ALIASDESK_FAULT_SEED), map type {map_type}")
    desk = make_desk(map_type, n=3000)
    run = patch_trials(desk, f"{SEED}-patch-{map_type}")
    rng = random.Random(f"{SEED}-patch-kills-{map_type}")
    try:
        run.reader.start()
        timing = run.measure()
        print(f"a patch deploy takes {timing.wall:.2f} s, {timing.window:.3f} s of it with temporary files")
        for trial in range(trials):
            after_tmp, group = trial % 2 == 0, trial % 4 >= 2
            delay = rng.uniform(0, 1.5 * timing.window if after_tmp else timing.wall)
            record = run.trial(trial, delay, after_tmp=after_tmp, group=group, label=label)
            print(f"{record.where}: {record.phase}; Postfix sees {record.postfix}, text {record.text}"
                  + (f"; repaired by a {record.repaired_by} build" if record.repaired_by else ""))
        run.settle()
        run.reader.stop()
    finally:
        run.close()

    reader = run.reader
    assert reader.bad == [], f"{label}a reader saw a broken map:\n" + "\n".join(reader.bad[:20])
    assert reader.reads >= trials, reader.reads
    phases = Counter(r.phase for r in run.records)
    killed = sum(r.killed for r in run.records)
    print(f"{killed} of {trials} deploys killed; where: {dict(phases)}; reader: {reader.seen}")
    assert killed >= trials // 3, f"only {killed} of {trials} deploys were killed: the delays are too long"
    assert phases["table and text"] >= trials // 6, f"too few kills while the patch was written: {dict(phases)}"
    assert any(r.repaired_by for r in run.records), "no kill left an interrupted deploy to repair"


# --------------------------------------------------------------------------- 2. kill right after a rename

CRASHPOINT = Path(__file__).with_name("crashpoint.py")


def test_kill_right_after_a_patch_rename_then_a_plain_deploy_installs_the_database_state(
    make_desk: Callable[..., Desk],
) -> None:
    """The windows between the two renames and between the renames and the record are too
    narrow for random kills to hit; crashpoint.py kills there every time. After the kill
    between the renames the change is taken back: the database is the old state again, and
    the table the kill left is the new one."""
    desk = make_desk("hash")
    run = patch_trials(desk, f"{SEED}-rename")
    try:
        for point, undo in (("compiled", True), ("source", False)):
            run.change("value")
            key = run.touched[-1]
            dest = desk.compiled if point == "compiled" else desk.map_path
            before = run.last_id()
            proc = subprocess.run(
                [sys.executable, str(CRASHPOINT), "after-replace", str(dest), "deploy", DOMAIN],
                env=desk.env(), capture_output=True, text=True, timeout=120, cwd=desk.root,
            )
            assert proc.returncode == -signal.SIGKILL, proc.stderr
            assert [r[1:3] for r in run.rows(before)] == [("running", "patch")]
            assert run.table_state(point) == "new"
            assert run.text_state(point) == ("old" if point == "compiled" else "new")
            if undo:
                old = run.deployed[key]
                run.deployed = dict(run.db)  # what the table holds now
                run.apply("value", key, value=old)
            before = run.last_id()
            run.plain_deploy(f"after a kill after the {point} rename", method="full")
            assert run.rows(before)[0][3] == "a deploy was interrupted since the last good one"
            run.change()
            run.plain_deploy(f"the deploy after the repair ({point})", method="patch")
            run.agree(point)
    finally:
        run.close()


FSYNC_FAILS = """
import errno, sys
import django
django.setup()
import aliasdesk.deploys.install as install
def fsync_dir(path):
    raise OSError(errno.EIO, "Input/output error")
install._fsync_dir = fsync_dir
from aliasdesk.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_directory_sync_failing_after_the_renames_is_a_warning(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk("hash")
    run = patch_trials(desk, f"{SEED}-fsync")
    try:
        run.change("value")
        proc = subprocess.run(
            [sys.executable, "-c", FSYNC_FAILS, "deploy", DOMAIN],
            env=dict(desk.env(), DJANGO_SETTINGS_MODULE="aliasdesk.settings"),
            capture_output=True, text=True, timeout=120, cwd=desk.root,
        )
        # The renames happened: the new map is live, the deploy says so and warns.
        assert proc.returncode == 0, proc.stderr
        run.table_state("after the failed fsync")
        run.change("value")
        run.plain_deploy("the deploy after the failed one", method=None)
        run.agree("after the failed fsync")
    finally:
        run.close()


# --------------------------------------------------------------------------- 3. postmap fails or lies

FAILING_PATCH = """#!/bin/sh
# postmap that fails when asked to patch a table (-d, -r -i); builds and queries work.
case " $* " in *" -d "*|*" -r "*) echo 'postmap: fatal: simulated failure: table on fire' >&2; exit 1;; esac
exec {real} "$@"
"""

LYING_PATCH = """#!/bin/sh
# postmap that patches wrongly without a word: every line it reads loses its last word.
case " $* " in *" -d "*|*" -r "*) sed 's/[^ ]*$/wrong@example.invalid/' | {real} "$@"; exit $?;; esac
exec {real} "$@"
"""


@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_a_failing_or_lying_postmap_during_a_patch_keeps_the_old_map(
    make_desk: Callable[..., Desk], tmp_path: Path, map_type: str
) -> None:
    desk = make_desk(map_type)
    run = patch_trials(desk, f"{SEED}-postmap-{map_type}")
    try:
        for name, text, said in (("fails", FAILING_PATCH, "simulated failure"), ("lies", LYING_PATCH, "verification")):
            wrapper = write_script(tmp_path / f"postmap-{name}", text.format(real=REAL_POSTMAP))
            for kind in ("value", "delete"):  # postmap -r -i, then -d too (the value change is still pending)
                where = f"{map_type}, postmap {name}, {run.change(kind)}"
                before = desk.map_path.read_bytes(), desk.compiled.read_bytes()
                last = run.last_id()
                proc = desk.run("deploy", DOMAIN, postmap=wrapper)
                assert proc.returncode != 0, f"{where}: the deploy succeeded"
                lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
                assert len(lines) == 1 and said in lines[0], f"{where}: expected one line on stderr:\n{proc.stderr}"
                assert (desk.map_path.read_bytes(), desk.compiled.read_bytes()) == before, f"{where}: files changed"
                assert run.table_state(where) == "old" and run.text_state(where) == "old"
                assert desk.leftovers() == [], f"{where}: left {desk.leftovers()}"
                rows = run.rows(last)
                assert [r[1:3] for r in rows] == [("failed", "patch")] and said in rows[0][4], f"{where}: {rows}"
        # A failed deploy is no interrupted one: the next deploy patches the same table.
        run.plain_deploy(f"{map_type}: the deploy after the failures", method="patch")
        run.agree(f"{map_type}: after the failures")
    finally:
        run.close()


# --------------------------------------------------------------------------- 4. a full disk


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def fill(path: Path, leave: int) -> int:
    """Write ``path`` until the file system has only ``leave`` bytes free; the bytes written."""
    st = os.statvfs(path.parent)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with open(path, "wb") as fh:
        for start in range(0, size, 1 << 20):
            fh.write(b"\0" * min(1 << 20, size - start))
    return size


@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_a_full_disk_during_a_patch_keeps_the_old_map(make_desk: Callable[..., Desk], map_type: str) -> None:
    """The map dir on a small tmpfs, filled up to leave less and less room than a patch needs
    (a copy of the table, postmap's growth, the new text): every deploy either installs the
    whole new map or fails with one line and leaves the old files; with room, the next one
    patches."""
    desk = make_desk(map_type)
    maps = desk.map_path.parent
    saved = desk.root / "maps-before-tmpfs"
    shutil.copytree(maps, saved)
    if not _mount("-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(maps)):
        pytest.skip("cannot mount a tmpfs here")
    run = None
    try:
        for path in saved.iterdir():
            shutil.copy2(path, maps / path.name)
        run = patch_trials(desk, f"{SEED}-disk-{map_type}")
        run.change()
        run.plain_deploy(f"{map_type}: the copied table is another file", method="full")
        table, text = desk.compiled.stat().st_size, desk.map_path.stat().st_size
        ballast = maps / "ballast"
        outcomes = []
        for leave in (0, table // 2, table + text // 2, table + text + 65536, 2 * (table + text)):
            where = f"{map_type}, {leave} bytes free, {run.change()}"
            before = desk.map_path.read_bytes(), desk.compiled.read_bytes()
            last = run.last_id()
            fill(ballast, leave)
            try:
                proc = desk.run("deploy", DOMAIN)
            finally:
                ballast.unlink()
            rows = run.rows(last)
            outcomes.append(proc.returncode == 0)
            if proc.returncode == 0:
                assert [r[1:3] for r in rows] == [("ok", "patch")], f"{where}: {rows}"
                assert run.table_state(where) == "new" and run.text_state(where) == "new"
                run.deployed_now()
                continue
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1, f"{where}: expected one line on stderr:\n{proc.stderr}"
            assert (desk.map_path.read_bytes(), desk.compiled.read_bytes()) == before, f"{where}: files changed"
            assert run.table_state(where) == "old" and run.text_state(where) == "old"
            assert desk.leftovers() == [], f"{where}: left {desk.leftovers()}"
            assert [r[1:3] for r in rows] == [("failed", "patch")], f"{where}: {rows}"
        print(f"{map_type}: table {table} bytes, text {text} bytes; deploys that succeeded: {outcomes}")
        assert not outcomes[0] and outcomes[-1], outcomes
        run.change()
        run.plain_deploy(f"{map_type}: the deploy with room again", method="patch")
        run.agree(f"{map_type}: with room again")
    finally:
        if run is not None:
            run.close()
        for pid in desk.orphans():
            os.kill(pid, 9)
        if subprocess.run(["umount", str(maps)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(maps)], check=False)
