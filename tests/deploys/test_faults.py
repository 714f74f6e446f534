"""Fault injection through the real CLI and the real postmap: Postfix never sees a broken map.

Every test drives ``aliasdesk`` in subprocesses (its own data dir, a file SQLite database,
a Postfix config dir with only ``compatibility_level``) and judges the result with the real
``postmap -q`` / ``postmap -s``, the way Postfix reads the compiled map. Kills at exact
points (between two renames, right after a fork) are in test_crashpoints.py.

The random kills use a fixed seed, printed with every failure; set ALIASDESK_FAULT_SEED
to try another one, ALIASDESK_FAULT_TRIALS to run more kills.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploys.faultdesk import (
    COMPILED_SUFFIX,
    MAP_TYPES,
    REAL_POSTMAP,
    TIMEOUT,
    TMP_MARK,
    Desk,
    desk_maker,
    kill,
    needs_root_and_postmap,
    other,
    parse_answers,
    wait_for,
    write_script,
)

SEED = int(os.environ.get("ALIASDESK_FAULT_SEED", "20240607"))
TRIALS = int(os.environ.get("ALIASDESK_FAULT_TRIALS", "0"))  # 0: 50 for hash, 20 for lmdb; more for a soak

pytestmark = needs_root_and_postmap


@pytest.fixture
def make_desk(tmp_path: Path, postfix_conf: Path) -> Iterator[Callable[..., Desk]]:
    with desk_maker(tmp_path, postfix_conf) as make:
        yield make


# --------------------------------------------------------------------------- 1. random kill -9


class MapReader(threading.Thread):
    """Queries the live map over and over, as Postfix would, and keeps every wrong answer."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(daemon=True)
        self.desk = desk
        self.halt = threading.Event()
        self.reads = 0
        self.seen: dict[str, int] = {"A": 0, "B": 0}
        self.bad: list[str] = []

    def run(self) -> None:
        while not self.halt.is_set():
            proc = self.desk.query_sample()
            self.reads += 1
            if proc.stderr or proc.returncode not in (0, 1):
                self.bad.append(f"read {self.reads}: exit {proc.returncode}: {proc.stderr.strip()}")
                continue
            state = self.desk.states.which(parse_answers(proc.stdout))
            if state is None:
                found = parse_answers(proc.stdout)
                self.bad.append(f"read {self.reads}: {len(found)} sample keys answered, neither state A nor B")
            else:
                self.seen[state] += 1
            # Pace the reads (~15 a second) so the reader does not take a core from the deploys.
            self.halt.wait(0.05)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=TIMEOUT)


@dataclass
class DeployTiming:
    wall: float  # start of the command to its end
    writing: float  # its temporary map file appears to its end: write, compile, verify, rename, record


def temporary_file_seen(desk: Desk, proc: subprocess.Popen[str]) -> float | None:
    """When the deploy's temporary map file appeared (None: the deploy ended without our seeing it)."""
    tmp = desk.map_path.parent / f".{desk.map_path.name}{TMP_MARK}{proc.pid}"
    while proc.poll() is None:
        if tmp.exists():
            return time.monotonic()
        time.sleep(0.001)
    return None


def measure_deploy(desk: Desk, runs: int = 3) -> DeployTiming:
    """Median timings of forced deploys (a forced deploy goes through every step)."""
    walls, writing = [], []
    for _ in range(runs * 2):
        start = time.monotonic()
        proc = desk.spawn("deploy", "example.com", "--force")
        seen = temporary_file_seen(desk, proc)
        err = desk.finish(proc)
        end = time.monotonic()
        assert proc.returncode == 0, err
        walls.append(end - start)
        if seen is not None:
            writing.append(end - seen)
        if len(writing) >= runs:
            break
    assert writing, "never saw a deploy's temporary file"
    return DeployTiming(statistics.median(walls), statistics.median(writing))


@pytest.mark.slow
@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_kill_9_at_random_moments_never_breaks_the_map(make_desk: Callable[..., Desk], map_type: str) -> None:
    """Deploys between two states, each SIGKILLed at a random moment: Postfix sees A or B, whole.

    Odd trials kill at a random moment of the whole command (many land in Python's start-up);
    even trials at a random moment after the deploy's temporary file appeared, while it
    writes, compiles, verifies, renames and records. Half the kills hit only the aliasdesk
    process (``kill -9 PID``): what it started must not outlive it for long nor get in the
    next deploy's way. The other half hit its whole process group, postmap too, mid-build
    (systemd stopping the service, the OOM killer taking the cgroup).

    The deploys in the trials are ``--force``d: a kill right after the renames leaves a state
    the next plain deploy mishandles (see test_crashpoints.py), and these trials are
    about what Postfix reads, not about that bookkeeping. The final deploys are plain.
    """
    trials = TRIALS or (50 if map_type == "hash" else 20)
    rng = random.Random(f"{SEED}-{map_type}")
    print(f"fault-injection seed {SEED} (ALIASDESK_FAULT_SEED), map type {map_type}")
    desk = make_desk(map_type, n=20000)
    reader = MapReader(desk)
    reader.start()
    try:
        desk.set_state("B")
        desk.ok("deploy", "example.com")
        assert desk.compiled_state() == "B" and desk.source_state() == "B"
        timing = measure_deploy(desk)
        print(f"a deploy takes {timing.wall:.2f} s, the last {timing.writing:.2f} s with its temporary file")

        disk = db = "B"
        killed = 0
        for trial in range(trials):
            target = other(disk)
            if db != target:
                desk.set_state(target)
                db = target
            anywhere, group = trial % 2 == 1, trial % 4 >= 2
            # The measured writing time ends when the process has exited, interpreter teardown
            # included: aim at its first 60 %, where the deploy still writes, compiles and renames.
            delay = rng.uniform(0, timing.wall if anywhere else 0.6 * timing.writing)
            where = (
                f"seed {SEED}, {map_type}, trial {trial}: kill {'group' if group else 'pid'} "
                f"{delay:.3f} s after {'start' if anywhere else 'tmp file'}"
            )
            proc = desk.spawn("deploy", "example.com", "--force")
            anchor = time.monotonic() if anywhere else temporary_file_seen(desk, proc)
            if anchor is not None:
                time.sleep(max(0.0, anchor + delay - time.monotonic()))
                kill(proc, group)
            err = desk.finish(proc)
            if proc.returncode == -signal.SIGKILL:
                killed += 1
            else:
                assert proc.returncode == 0, f"{where}: the deploy failed by itself:\n{err}"
            stuck = desk.wait_for_orphans(timeout=10)
            assert not stuck, f"{where}: still running 10 s after the kill: {desk.describe(stuck)}"
            try:
                disk = desk.compiled_state()
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from None
            assert desk.source_state() is not None, f"{where}: the map source is neither A nor B (half written?)"
            if proc.returncode == 0:
                assert disk == target, f"{where}: the deploy succeeded but Postfix sees state {disk}"
            print(f"{where}: {'killed' if proc.returncode else 'ended'}, Postfix sees {disk}")
    finally:
        reader.stop()

    assert reader.bad == [], f"seed {SEED}: a reader saw a broken map:\n" + "\n".join(reader.bad[:20])
    assert reader.reads >= trials and min(reader.seen.values()) > 0, (reader.reads, reader.seen)
    assert killed >= trials // 3, f"only {killed} of {trials} deploys were killed: the delays are too long"

    # Afterwards, plain deploys work: first of whatever the database holds, then of a change.
    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == db and desk.source_state() == db
    assert desk.leftovers() == []
    desk.set_state(other(db))
    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == other(db) and desk.source_state() == other(db)
    assert desk.leftovers() == []
    rows = desk.deploys()
    assert not [r for r in rows if r.status == "running"]
    interrupted = sum(1 for r in rows if r.error == "interrupted")
    print(f"{killed} kills, {interrupted} of them after the deploy had started writing; reader: {reader.seen}")
    assert interrupted >= trials // 5, f"only {interrupted} kills landed while a deploy was writing"


# --------------------------------------------------------------------------- 2. concurrent deploys

SERIALIZE_WRAPPER = '''#!{python}
"""postmap that logs when it ran and, on the first build, waits until another deploy is blocked on our lock."""
import os, subprocess, sys, time

args = sys.argv[1:]
build = not ({{"-q", "-s"}} & set(args))
start = time.time()
contended = False
if build:
    try:
        os.close(os.open({gate!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        first = True
    except FileExistsError:
        first = False
    holder = os.getppid()
    deadline = time.monotonic() + 20
    while first and not contended and time.monotonic() < deadline:
        held, waiting = set(), []
        with open("/proc/locks") as fh:
            for line in fh:
                f = line.split()
                if len(f) > 6 and f[1] == "->":
                    waiting.append((f[5], f[6]))
                elif len(f) > 5 and f[4] == str(holder):
                    held.add(f[5])
        contended = any(inode in held and pid != str(holder) for pid, inode in waiting)
        if not contended:
            time.sleep(0.005)
rc = subprocess.call([{real!r}, *args])
with open({log!r}, "a") as fh:
    fh.write(f"{{os.getppid()}} {{'build' if build else 'query'}} {{start}} {{time.time()}} {{int(contended)}}\\n")
sys.exit(rc)
'''


@pytest.mark.slow
def test_two_concurrent_deploys_of_one_domain_serialize(make_desk: Callable[..., Desk], tmp_path: Path) -> None:
    desk = make_desk("hash", n=5000)
    log, gate = tmp_path / "postmap.log", tmp_path / "gate"
    wrapper = write_script(
        tmp_path / "postmap-serialize",
        SERIALIZE_WRAPPER.format(python=sys.executable, gate=str(gate), real=REAL_POSTMAP, log=str(log)),
    )
    for round_ in range(3):
        log.write_text("")
        gate.unlink(missing_ok=True)
        before = {r.id for r in desk.deploys()}
        procs = [desk.spawn("deploy", "example.com", "--force", postmap=wrapper) for _ in range(2)]
        for proc in procs:
            err = desk.finish(proc)
            assert proc.returncode == 0, f"round {round_}: a concurrent deploy failed:\n{err}"
        assert desk.compiled_state() == "A" and desk.source_state() == "A"
        assert desk.leftovers() == []

        calls = [line.split() for line in log.read_text().splitlines()]
        builds = [c for c in calls if c[1] == "build"]
        assert sorted(int(c[0]) for c in builds) == sorted(p.pid for p in procs), calls
        assert any(c[4] == "1" for c in builds), f"round {round_}: the second deploy never waited for the first"
        spans = {}
        for pid in {c[0] for c in calls}:
            mine = [c for c in calls if c[0] == pid]
            spans[pid] = (min(float(c[2]) for c in mine), max(float(c[3]) for c in mine))
        (_s1, e1), (s2, _e2) = sorted(spans.values())
        assert e1 <= s2, f"round {round_}: postmap runs of the two deploys overlap: {spans}"

        rows = [r for r in desk.deploys() if r.id not in before]
        assert [r.status for r in rows] == ["ok", "ok"], rows
        first, second = rows
        assert first.started_at and first.finished_at and second.started_at and second.finished_at
        assert first.finished_at <= second.started_at, f"round {round_}: Deploy records overlap: {rows}"


# --------------------------------------------------------------------------- 3. recovery after a kill

STOPPING_WRAPPER = """#!/bin/sh
# postmap that builds, says so, then stops itself: the deploy waits for it until it is killed.
case " $* " in *" -q "*|*" -s "*) exec {real} "$@";; esac
{real} "$@" || exit $?
echo $$ > {built}.part && mv {built}.part {built}
kill -STOP $$
"""


@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_interrupted_deploy_is_marked_and_next_deploy_recovers(
    make_desk: Callable[..., Desk], tmp_path: Path, map_type: str
) -> None:
    """kill -9 of the deploy's whole process group (systemd, the OOM killer) with its map half done."""
    desk = make_desk(map_type)
    built = tmp_path / "built"
    wrapper = write_script(tmp_path / "postmap-stops", STOPPING_WRAPPER.format(real=REAL_POSTMAP, built=built))
    desk.set_state("B")
    proc = desk.spawn("deploy", "example.com", postmap=wrapper)
    wait_for(built.exists, "postmap built the temporary map", proc=proc)
    kill(proc, group=True)
    desk.finish(proc)
    assert proc.returncode == -signal.SIGKILL
    assert desk.wait_for_orphans() == []

    running = [r for r in desk.deploys() if r.status == "running"]
    assert len(running) == 1, desk.deploys()
    tmp = f".virtual{TMP_MARK}{proc.pid}"
    assert desk.leftovers() == [tmp, tmp + COMPILED_SUFFIX[map_type]]
    assert desk.compiled_state() == "A" and desk.source_state() == "A"

    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == "B" and desk.source_state() == "B"
    assert desk.leftovers() == []
    rows = {r.id: r for r in desk.deploys()}
    assert rows[running[0].id].status == "failed"
    assert rows[running[0].id].error == "interrupted"
    assert rows[running[0].id].finished_at is not None
    assert max(rows.values(), key=lambda r: r.id).status == "ok"


# --------------------------------------------------------------------------- 4. postmap fails


@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_failing_postmap_exits_non_zero_with_one_line_and_keeps_the_old_map(
    make_desk: Callable[..., Desk], tmp_path: Path, map_type: str
) -> None:
    desk = make_desk(map_type)
    before = desk.map_path.read_bytes(), desk.compiled.read_bytes()
    failing = write_script(
        tmp_path / "postmap-fails", "#!/bin/sh\necho 'postmap: fatal: simulated failure: disk on fire' >&2\nexit 1\n"
    )
    desk.set_state("B")
    proc = desk.run("deploy", "example.com", postmap=failing)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    assert "simulated failure: disk on fire" in lines[0]
    assert (desk.map_path.read_bytes(), desk.compiled.read_bytes()) == before
    assert desk.compiled_state() == "A"
    assert desk.leftovers() == []
    last = desk.deploys()[-1]
    assert last.status == "failed" and "simulated failure" in last.error

    desk.ok("deploy", "example.com")
    assert desk.compiled_state() == "B"
