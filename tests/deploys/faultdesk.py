"""A throw-away aliasdesk installation driven through its CLI, for the fault-injection tests.

``desk_maker`` builds one (migrate, a domain ``example.com``, state A imported and
deployed); a ``Desk`` runs commands in it and reads what Postfix would see.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

REAL_POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
CLI = [sys.executable, "-m", "aliasdesk"]
TMP_MARK = ".aliasdesk-tmp-"
COMPILED_SUFFIX = {"hash": ".db", "lmdb": ".lmdb"}
BDB_TEMP = "__db."  # Berkeley DB creates X.db as __db.X.db, then renames it
TIMEOUT = 120.0
MAP_TYPES = ["hash", "lmdb"]


def _unavailable() -> str:
    if os.geteuid() != 0:
        return "fault-injection tests need root (they kill deploys mid-way and read /proc/locks)"
    if not os.access(REAL_POSTMAP, os.X_OK):
        return "postmap is not installed (Debian package postfix)"
    return ""


_REASON = _unavailable()
needs_root_and_postmap = pytest.mark.skipif(bool(_REASON), reason=_REASON or "root and postmap are here")


def require_map_type(map_type: str, conf: Path) -> None:
    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    out = subprocess.run([postconf, "-c", str(conf), "-m"], capture_output=True, text=True).stdout
    if map_type not in out.split():
        pytest.skip(f"this Postfix cannot build {map_type} maps (Debian package postfix-{map_type})")


# --------------------------------------------------------------------------- the two states


@dataclass(frozen=True)
class MapStates:
    """Two versions of one domain that differ in a spread of values and in their key sets."""

    files: dict[str, str]
    full: dict[str, dict[str, str]]
    sample: list[str]

    def answers(self, state: str) -> dict[str, str]:
        """What ``postmap -q -`` must print for the sample keys in ``state``."""
        return {k: self.full[state][k] for k in self.sample if k in self.full[state]}

    def which(self, found: dict[str, str], what: str = "sample") -> str | None:
        """'A' or 'B' when ``found`` is exactly that state, else None."""
        for state in ("A", "B"):
            if found == (self.answers(state) if what == "sample" else self.full[state]):
                return state
        return None


def make_states(n: int) -> MapStates:
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    for i in range(n):
        key = f"user{i:05d}@example.com"
        if i % 125 == 0:
            a[key] = f"old{i}@example.org"
            b[key] = f"new{i}@example.org, copy{i}@example.org"
        else:
            a[key] = b[key] = f"box{i}@example.org"
    # Keys only one state has go last, so a re-import renders the same bytes again.
    for j in range(50):
        a[f"retired{j}@example.com"] = f"gone{j}@example.org"
    for j in range(100):
        b[f"added{j}@example.com"] = f"list{j}@example.org"
    keys = list(dict.fromkeys(list(a) + list(b)))
    differing = [k for k in keys if a.get(k) != b.get(k)]
    common = [k for k in keys if a.get(k) == b.get(k)]
    sample = differing + common[::97] + [common[-1], "nobody@example.com"]
    files = {name: "".join(f"{k}\t{v}\n" for k, v in m.items()) for name, m in (("A", a), ("B", b))}
    return MapStates(files=files, full={"A": a, "B": b}, sample=sample)


def other(state: str) -> str:
    return "B" if state == "A" else "A"


# --------------------------------------------------------------------------- one aliasdesk installation


@dataclass
class DeployRow:
    id: int
    status: str
    error: str
    started_at: datetime | None
    finished_at: datetime | None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class Desk:
    """An aliasdesk data dir, a map dir and a domain ``example.com``, driven through the CLI."""

    root: Path
    conf: Path
    map_type: str
    states: MapStates
    sources: dict[str, Path] = field(default_factory=dict)
    logs: dict[int, Path] = field(default_factory=dict)

    @property
    def map_path(self) -> Path:
        return self.root / "maps" / "virtual"

    @property
    def compiled(self) -> Path:
        return Path(f"{self.map_path}{COMPILED_SUFFIX[self.map_type]}")

    @property
    def table(self) -> str:
        return f"{self.map_type}:{self.map_path}"

    def env(self, postmap: Path | str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALIASDESK_") and k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            ALIASDESK_DATA_DIR=str(self.root / "data"),
            ALIASDESK_POSTFIX_CONFIG_DIR=str(self.conf),
            ALIASDESK_POSTMAP=str(postmap or REAL_POSTMAP),
            ALIASDESK_MAP_DIRS=os.environ.get("ALIASDESK_MAP_DIRS", ""),  # tests/conftest.py: the temp dirs
        )
        return env

    def run(self, *args: str, postmap: Path | str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=self.env(postmap), capture_output=True, text=True, timeout=TIMEOUT, cwd=self.root
        )

    def ok(self, *args: str, postmap: Path | str | None = None) -> str:
        proc = self.run(*args, postmap=postmap)
        assert proc.returncode == 0, f"aliasdesk {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
        return proc.stdout

    def spawn(self, *args: str, postmap: Path | str | None = None) -> subprocess.Popen[str]:
        """Start a command as the leader of its own process group (which ``kill(proc, group=True)`` ends).

        Its output goes to a file, not a pipe: a child it leaves behind would hold a pipe open.
        """
        log = self.root / f"spawned-{len(self.logs)}.err"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [*CLI, *args], env=self.env(postmap), stdout=subprocess.DEVNULL, stderr=err,
                text=True, cwd=self.root, start_new_session=True,
            )
        self.logs[proc.pid] = log
        return proc

    def finish(self, proc: subprocess.Popen[str]) -> str:
        """Wait for a spawned command; what it wrote on stderr."""
        proc.wait(timeout=TIMEOUT)
        return self.logs[proc.pid].read_text()

    def set_state(self, state: str) -> None:
        self.ok("import", str(self.sources[state]), "--domain", "example.com", "--replace")

    # What Postfix sees.
    def postmap(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REAL_POSTMAP, "-c", str(self.conf), *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT
        )

    def query_sample(self) -> subprocess.CompletedProcess[str]:
        return self.postmap("-q", "-", self.table, stdin="".join(f"{k}\n" for k in self.states.sample))

    def dump(self) -> dict[str, str]:
        proc = self.postmap("-s", self.table)
        assert proc.returncode == 0 and not proc.stderr, f"postmap -s {self.table}: {proc.stderr}"
        return parse_answers(proc.stdout)

    def compiled_state(self) -> str:
        """'A' or 'B': the compiled map must be exactly one of them, sample and full dump alike."""
        proc = self.query_sample()
        assert not proc.stderr, f"postmap -q cannot read {self.table}: {proc.stderr}"
        by_sample = self.states.which(parse_answers(proc.stdout))
        full = self.dump()
        by_dump = self.states.which(full, "full")
        assert by_sample is not None and by_dump == by_sample, (
            f"the compiled map is neither complete state A nor complete state B: {len(full)} entries "
            f"(A has {len(self.states.full['A'])}, B has {len(self.states.full['B'])}); "
            f"sample says {by_sample}, dump says {by_dump}"
        )
        return by_sample

    def source_state(self) -> str | None:
        text = self.map_path.read_text()
        return next((s for s in ("A", "B") if text == self.states.files[s]), None)

    def leftovers(self, bdb: bool = True) -> list[str]:
        """Temporary files in the map dir; ``bdb=False`` leaves out Berkeley DB's ``__db.*`` ones."""
        names = sorted(p.name for p in self.map_path.parent.iterdir() if TMP_MARK in p.name)
        return names if bdb else [n for n in names if not n.startswith(BDB_TEMP)]

    def deploys(self) -> list[DeployRow]:
        with sqlite3.connect(self.root / "data" / "aliasdesk.sqlite3", timeout=30) as db:
            rows = db.execute("SELECT id, status, error, started_at, finished_at FROM deploys_deploy ORDER BY id")
            return [DeployRow(r[0], r[1], r[2], _when(r[3]), _when(r[4])) for r in rows]

    def orphans(self) -> list[int]:
        """Processes still working here: every command runs in the desk dir, and so do its children."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.readlink(entry / "cwd") == str(self.root):  # unreadable for zombies
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def wait_for_orphans(self, timeout: float = 15) -> list[int]:
        """Wait until nothing started here runs any more; what still runs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (live := self.orphans()) and time.monotonic() < deadline:
            time.sleep(0.01)
        return live

    def describe(self, pids: list[int]) -> str:
        return "; ".join(f"{pid}: {cmdline(pid)}" for pid in pids)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(gone)"


def parse_answers(out: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("\t")
        found[key] = value
    return found


def write_script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = 60, proc: subprocess.Popen[str] | None = None
) -> None:
    """Poll ``condition``; fail with ``what`` if it does not come true (or ``proc`` ends first)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the command ended (exit {proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def kill(proc: subprocess.Popen[str], group: bool) -> None:
    """SIGKILL a command started by ``Desk.spawn``, or its whole process group; nothing if it has ended."""
    if proc.poll() is not None:
        return  # reaped: its pid and group id may belong to someone else by now
    if group:
        os.killpg(proc.pid, signal.SIGKILL)  # still ours: a zombie leader keeps the group id
    else:
        proc.send_signal(signal.SIGKILL)



@contextmanager
def desk_maker(tmp_path: Path, postfix_conf: Path) -> Iterator[Callable[..., Desk]]:
    """Build desks: migrate, import state A of ``n`` aliases for example.com, deploy it."""
    desks: list[Desk] = []

    def make(map_type: str = "hash", n: int = 2000) -> Desk:
        require_map_type(map_type, postfix_conf)
        root = tmp_path / f"desk-{map_type}-{len(desks)}"
        (root / "maps").mkdir(parents=True)
        (root / "data").mkdir()
        desk = Desk(root=root, conf=postfix_conf, map_type=map_type, states=make_states(n))
        desks.append(desk)
        for state, text in desk.states.files.items():
            desk.sources[state] = root / f"state-{state}.virtual"
            desk.sources[state].write_text(text)
        desk.ok("migrate", "--verbosity", "0")
        desk.ok("domain", "add", "example.com", "--map-file", str(desk.map_path), "--map-type", map_type)
        desk.ok("import", str(desk.sources["A"]), "--domain", "example.com")
        desk.ok("deploy", "example.com")
        assert desk.compiled_state() == "A" and desk.source_state() == "A"
        return desk

    try:
        yield make
    finally:
        for desk in desks:  # after a failure: what the killed deploys left running
            for pid in desk.orphans():
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
