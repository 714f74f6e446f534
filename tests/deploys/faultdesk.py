"""A throw-away aliasdesk installation driven through its CLI, for the fault-injection tests.

``desk_maker`` builds one (migrate, a domain ``example.com``, state A imported and
deployed); a ``Desk`` runs commands in it and reads what Postfix would see.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import stat
import statistics
import subprocess
import sys
import threading
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


# --------------------------------------------------------------------------- patch deploys: one alias at a time
#
# A patch deploy is chosen when few aliases changed since the last good deploy, so these
# trials change one alias (through aliasdesk's services, in a long-lived ``Agent``), then
# run a plain ``deploy`` and kill it. ``PatchTrials`` keeps what the table must answer as
# last deployed and as the database says now, and judges every kill against the two.

AGENT = r'''
import json, sys
from pathlib import Path

import django

django.setup()
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.render import render_map
from aliasdesk.aliases.services import create_alias, soft_delete_alias, update_alias
from aliasdesk.deploys.engine import deploy_domain


def serve(req):
    domain = Domain.objects.get(name=req["domain"])
    op = req["op"]
    if op == "render":
        Path(req["path"]).write_bytes(render_map(domain).data)
        return {}
    if op == "deploy":
        r = deploy_domain(domain)
        return {"status": r.status, "method": r.method, "why_full": r.why_full, "message": r.message}
    if op == "create":
        alias = create_alias(domain, req["key"], req["value"])
    else:
        alias = Alias.objects.get(domain=domain, key=req["key"], deleted_at__isnull=True)
        if op == "value":
            alias = update_alias(alias, version=alias.version, destinations=req["value"])
        elif op in ("disable", "enable"):
            alias = update_alias(alias, version=alias.version, enabled=op == "enable")
        elif op == "delete":
            alias = soft_delete_alias(alias, version=alias.version)
        else:
            raise ValueError(f"unknown op {op}")
    alias = Alias.objects.get(pk=alias.pk)
    return {"key": alias.key, "value": alias.destinations, "enabled": alias.enabled, "live": alias.deleted_at is None}


for line in sys.stdin:
    try:
        answer = {"ok": True, **serve(json.loads(line))}
    except Exception as exc:
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
'''


class Agent:
    """A Python with Django set up in a desk, for changes without a start-up per change.

    It changes aliases through aliasdesk's services, renders the map as ``export`` does,
    and deploys with the engine in-process (as the web does). It runs in the data dir, so
    ``Desk.orphans`` (what runs in the desk dir) never counts it.
    """

    def __init__(self, desk: Desk, domain: str) -> None:
        self.domain = domain
        env = dict(desk.env(), DJANGO_SETTINGS_MODULE="aliasdesk.settings")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", AGENT], env=env, cwd=desk.root / "data",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def call(self, op: str, **args: str) -> dict[str, object]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, "domain": self.domain, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the agent died (exit {self.proc.poll()})"
        answer: dict[str, object] = json.loads(line)
        assert answer.pop("ok"), f"agent {op} {args}: {answer['error']}"
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def table_of(text: bytes) -> dict[str, str]:
    """What ``postmap -s`` of a table built from ``text`` must print: enabled entries, keys
    folded, the first of a key wins."""
    from aliasdesk.postfix.maps.virtual import parse_virtual

    found: dict[str, str] = {}
    for entry in parse_virtual(text.decode("utf-8")).entries:
        if entry.enabled:
            found.setdefault(entry.key.lower(), entry.value)
    return found


@dataclass(frozen=True)
class Expected:
    """What a read of ``keys`` may answer: the table as last deployed or as the database says."""

    keys: tuple[str, ...]
    old: dict[str, str]
    new: dict[str, str]

    def which(self, found: dict[str, str]) -> str | None:
        for name, answers in (("new", self.new), ("old", self.old)):
            if found == answers:
                return name
        return None

    def narrowed(self, keys: tuple[str, ...]) -> Expected:
        return Expected(keys, *({k: v for k, v in s.items() if k in keys} for s in (self.old, self.new)))


class PatchReader(threading.Thread):
    """Queries the live table over and over, as Postfix would; keeps every answer that is
    neither the whole old nor the whole new map (for the sample and the changed keys)."""

    def __init__(self, trials: PatchTrials, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.trials, self.pause = trials, pause
        self.halt = threading.Event()
        self.reads = 0
        self.seen: dict[str, int] = {"old": 0, "new": 0}
        self.bad: list[str] = []

    def run(self) -> None:
        desk = self.trials.desk
        while not self.halt.is_set():
            before = self.trials.expected
            proc = desk.postmap("-q", "-", desk.table, stdin="".join(f"{k}\n" for k in before.keys))
            after = self.trials.expected.narrowed(before.keys)
            self.reads += 1
            if proc.stderr or proc.returncode not in (0, 1):
                self.bad.append(f"read {self.reads}: exit {proc.returncode}: {proc.stderr.strip()}")
            else:
                found = parse_answers(proc.stdout)
                state = before.which(found) or after.which(found)
                if state is None:
                    self.bad.append(f"read {self.reads}: {len(found)} keys answered, neither the old nor the new map")
                elif before.old != before.new:
                    self.seen[state] += 1
            self.halt.wait(self.pause)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=TIMEOUT)


# Where a kill landed, judged by what it left: no Deploy record; a record but no temporary
# files yet; temporary files (the table copy being patched, the text being written, or the
# table renamed and the text not yet); both renamed but not recorded; recorded.
PHASES = ("start-up and plan", "before the copy", "table and text", "after the renames", "after the record")
INTERRUPTED_WHY = "a deploy was interrupted since the last good one"


@dataclass
class TrialRecord:
    trial: int
    where: str
    killed: bool
    phase: str  # one of PHASES, or "finished" when the deploy ended before the kill
    postfix: str  # "old" or "new": what the table answered right after
    text: str  # "old" or "new": the map source right after
    repaired_by: str = ""  # the method of the deploy that repaired an interrupted one


@dataclass
class PatchTiming:
    wall: float  # start of the command to its end
    window: float  # first temporary file seen to the last one gone (copy, patch, verify, write, renames)
    tail: float  # first temporary file seen to the end of the command


class PatchTrials:
    """Patch deploys of one desk's domain, each after one changed alias, killed or not.

    ``answers`` is what the deployed table answers now (folded key -> value); the map on
    disk must be what ``aliasdesk export`` prints.
    """

    def __init__(
        self, desk: Desk, domain: str, answers: dict[str, str], rng: random.Random, *, sample: int = 40,
        render_each: bool = True,
    ) -> None:
        self.desk, self.domain, self.rng = desk, domain, rng
        # Render the new map after every change (as export would) to compare the text with.
        # Without: the first new text seen for a database state is the one every later
        # deploy of that state must write too; the last one is compared with export.
        self.render_each = render_each
        self.db_text: bytes | None
        self.agent = Agent(desk, domain)
        self.deployed, self.db = dict(answers), dict(answers)
        self.disabled: dict[str, str] = {}
        self.deployed_text = self.db_text = self.render()
        assert desk.map_path.read_bytes() == self.db_text, "the map on disk is not what export prints"
        self.sample = [*rng.sample(sorted(answers), min(sample, len(answers))), f"nobody@{domain}"]
        self.touched: list[str] = []  # every key a change touched, for the reader too
        self.expected = self._expect()
        self.records: list[TrialRecord] = []
        self.reader = PatchReader(self)
        self.created = 0

    # -- the model ------------------------------------------------------------------------

    def _expect(self) -> Expected:
        keys = tuple(dict.fromkeys([*self.sample, *self.touched]))
        return Expected(keys, {k: self.deployed[k] for k in keys if k in self.deployed},
                        {k: self.db[k] for k in keys if k in self.db})

    def render(self) -> bytes:
        path = self.desk.root / "data" / "expected.virtual"
        self.agent.call("render", path=str(path))
        return path.read_bytes()

    def change(self, kind: str = "") -> str:
        """Change one alias the pending deploy does not touch yet (``kind``: value, disable,
        enable, create, delete; random when not given); returns what was done."""
        pending = {k for k in self.db.keys() | self.deployed.keys() if self.db.get(k) != self.deployed.get(k)}
        pending |= {k for k in self.disabled if k in self.deployed}
        n = len(self.touched)
        live = [k for k in self.sample[:-1] if k in self.db and k not in pending]
        if n % 3 or not live:  # one change in three is of a key the reader queries anyway
            live = [k for k in self.db if k not in pending]
        waking = sorted(k for k in self.disabled if k not in pending)
        kinds = ["value"] * 5 + ["disable", "create", "delete"] + ["enable"] * (2 if waking else 0)
        kind = kind or self.rng.choice(kinds)
        args: dict[str, str] = {}
        if kind == "create":
            self.created += 1
            domain = self.rng.choice(self.sample[:-1]).partition("@")[2]
            key, args = f"new{self.created}-{self.rng.randrange(10**6)}@{domain}", {"value": f"fresh{n}@example.net"}
        elif kind == "enable":
            key = self.rng.choice(waking)
        else:
            key = self.rng.choice(live)
            if kind == "value":
                args = {"value": f"changed{n}@example.net, copy{n}@example.org"}
        return self.apply(kind, key, **args)

    def apply(self, kind: str, key: str, **args: str) -> str:
        """Make one change through the agent and follow it in the model."""
        answer = self.agent.call(kind, key=key, **args)
        folded = str(answer["key"]).lower()
        self.db.pop(folded, None)
        self.disabled.pop(folded, None)
        if answer["live"]:
            (self.db if answer["enabled"] else self.disabled)[folded] = str(answer["value"])
        self.touched.append(folded)
        self.db_text = self.render() if self.render_each else None
        self.expected = self._expect()
        return f"{kind} {folded}"

    def deployed_now(self) -> None:
        if self.db_text is None:
            self.db_text = self.desk.map_path.read_bytes()
        self.deployed, self.deployed_text = dict(self.db), self.db_text
        self.expected = self._expect()

    # -- what Postfix sees ----------------------------------------------------------------

    def table_state(self, where: str) -> str:
        """'old' or 'new': the real table, read whole and by sample, is exactly one of them."""
        dump = self.desk.dump()
        by_dump = "new" if dump == self.db else "old" if dump == self.deployed else None
        expected = self.expected
        proc = self.desk.postmap("-q", "-", self.desk.table, stdin="".join(f"{k}\n" for k in expected.keys))
        assert not proc.stderr, f"{where}: postmap -q cannot read {self.desk.table}: {proc.stderr}"
        by_query = expected.which(parse_answers(proc.stdout))
        assert by_dump is not None and by_query == by_dump, (
            f"{where}: the table is neither the whole old nor the whole new map: {len(dump)} entries "
            f"(old {len(self.deployed)}, new {len(self.db)}); queries say {by_query}"
        )
        return by_dump

    def text_state(self, where: str) -> str:
        text = self.desk.map_path.read_bytes()
        if text == self.db_text:
            return "new"
        if text == self.deployed_text:
            return "old"
        if self.db_text is None:
            self.db_text = text
        assert text == self.db_text, f"{where}: the map source is neither the old nor the new text (half written?)"
        return "new"

    def rows(self, after: int) -> list[tuple[int, str, str, str, str]]:
        with sqlite3.connect(self.desk.root / "data" / "aliasdesk.sqlite3", timeout=30) as db:
            return db.execute(
                "SELECT id, status, method, why_full, error FROM deploys_deploy WHERE id > ? ORDER BY id", (after,)
            ).fetchall()

    def last_id(self) -> int:
        with sqlite3.connect(self.desk.root / "data" / "aliasdesk.sqlite3", timeout=30) as db:
            return int(db.execute("SELECT coalesce(max(id), 0) FROM deploys_deploy").fetchone()[0])

    def _tmp_paths(self, pid: int) -> tuple[Path, Path]:
        tmp = self.desk.map_path.parent / f".{self.desk.map_path.name}{TMP_MARK}{pid}"
        return tmp, Path(f"{tmp}{COMPILED_SUFFIX[self.desk.map_type]}")

    # -- deploys --------------------------------------------------------------------------

    def measure(self, runs: int = 3) -> PatchTiming:
        """Median timings of plain patch deploys of one change each (not killed)."""
        walls, windows, tails = [], [], []
        for run in range(runs):
            self.change()
            before = self.last_id()
            start = time.monotonic()
            proc = self.desk.spawn("deploy", self.domain)
            paths = self._tmp_paths(proc.pid)
            first = last = None
            while proc.poll() is None:
                if any(p.exists() for p in paths):
                    last = time.monotonic()
                    first = first or last
                time.sleep(0.001)
            end = time.monotonic()
            err = self.desk.finish(proc)
            assert proc.returncode == 0, f"measuring run {run}: the deploy failed:\n{err}"
            rows = self.rows(before)
            assert [r[1:3] for r in rows] == [("ok", "patch")], f"measuring run {run}: not one patch: {rows}"
            assert self.table_state(f"measuring run {run}") == "new" and self.text_state(f"run {run}") == "new"
            self.deployed_now()
            walls.append(end - start)
            if first is not None and last is not None:
                windows.append(last - first)
                tails.append(end - first)
        assert windows, "never saw a patch deploy's temporary files"
        return PatchTiming(statistics.median(walls), statistics.median(windows), statistics.median(tails))

    def trial(self, trial: int, delay: float, *, after_tmp: bool, group: bool, label: str = "") -> TrialRecord:
        """Change one alias, start a plain deploy, SIGKILL it ``delay`` s after its start (or
        after its first temporary file appeared), then judge what it left and repair."""
        what = self.change()
        where = (
            f"{label}trial {trial} ({what}): kill {'group' if group else 'pid'} "
            f"{delay:.3f} s after {'the temporary files appeared' if after_tmp else 'start'}"
        )
        before = self.last_id()
        proc = self.desk.spawn("deploy", self.domain)
        paths = self._tmp_paths(proc.pid)
        anchor: float | None = time.monotonic()
        if after_tmp:
            anchor = None
            while proc.poll() is None and anchor is None:
                if any(p.exists() for p in paths):
                    anchor = time.monotonic()
                time.sleep(0.0005)
        if anchor is not None:
            while proc.poll() is None and time.monotonic() < anchor + delay:
                time.sleep(0.0005)
            kill(proc, group)
        err = self.desk.finish(proc)
        killed = proc.returncode == -signal.SIGKILL
        assert killed or proc.returncode == 0, f"{where}: the deploy failed by itself:\n{err}"
        stuck = self.desk.wait_for_orphans(timeout=30)
        assert not stuck, f"{where}: still running 30 s after the kill: {self.desk.describe(stuck)}"

        postfix, text = self.table_state(where), self.text_state(where)
        assert not (postfix == "old" and text == "new"), f"{where}: the text names entries the table lacks"
        rows = self.rows(before)
        assert len(rows) <= 1, f"{where}: one deploy, several records: {rows}"
        leftovers = self.desk.leftovers()
        phase = "finished" if not killed else "start-up and plan"
        repaired_by = ""
        if rows:
            _id, status, method, why_full, _error = rows[0]
            assert (method, why_full) == ("patch", ""), f"{where}: not a patch: {rows[0]}"
            if status == "ok":
                assert (postfix, text) == ("new", "new"), f"{where}: recorded ok, Postfix sees {postfix}, text {text}"
                phase = "after the record" if killed else phase
                self.deployed_now()
            else:
                assert killed and status == "running", f"{where}: {rows[0]}"
                if leftovers:
                    phase = "table and text"
                else:
                    phase = "before the copy" if text == "old" else "after the renames"
                    assert postfix == text, f"{where}: no temporary files, but table {postfix} and text {text}"
                repaired_by = self.repair(where)
        else:
            assert killed and (postfix, text) == ("old", "old"), f"{where}: unrecorded, yet {postfix}/{text}"
            assert leftovers == [], f"{where}: killed before its record, yet left {leftovers}"
        record = TrialRecord(trial, where, killed, phase, postfix, text, repaired_by)
        self.records.append(record)
        return record

    def repair(self, where: str) -> str:
        """The deploy after an interrupted one builds the whole map and installs the database's."""
        result = self.agent.call("deploy")
        assert result["status"] == "ok", f"{where}: the repairing deploy failed: {result}"
        assert (result["method"], result["why_full"]) == ("full", INTERRUPTED_WHY), f"{where}: {result}"
        assert self.table_state(f"{where}, repaired") == "new" and self.text_state(f"{where}, repaired") == "new"
        assert self.desk.leftovers() == [], f"{where}: the repair left {self.desk.leftovers()}"
        self.deployed_now()
        return str(result["method"])

    def plain_deploy(self, where: str, method: str | None = "patch", postmap: Path | str | None = None) -> str:
        """``aliasdesk deploy DOMAIN`` through the CLI must succeed (with ``method`` when one is given)."""
        before = self.last_id()
        self.desk.ok("deploy", self.domain, postmap=postmap)
        rows = self.rows(before)
        assert [r[1] for r in rows] in (["ok"], ["noop"]), f"{where}: {rows}"
        if method is not None:
            assert rows[0][1:3] == ("ok", method), f"{where}: expected a {method} deploy: {rows}"
        assert self.table_state(where) == "new" and self.text_state(where) == "new"
        self.deployed_now()
        return str(rows[0][2])

    def settle(self) -> None:
        """After the trials: a plain deploy; text, table and database agree exactly; the
        deploys after it are patches again."""
        self.plain_deploy("the deploy after the trials", method=None)
        self.agree("after the trials")
        for n in range(2):
            self.change()
            self.plain_deploy(f"deploy {n + 1} after the trials")
            self.agree(f"deploy {n + 1} after the trials")

    def agree(self, where: str) -> None:
        desk = self.desk
        export = subprocess.run(
            [*CLI, "export", self.domain], env=desk.env(), capture_output=True, timeout=TIMEOUT, cwd=desk.root / "data"
        )
        assert export.returncode == 0, export.stderr
        text = desk.map_path.read_bytes()
        assert text == export.stdout, f"{where}: the map on disk is not what aliasdesk export prints"
        dump = desk.dump()
        assert dump == table_of(text), f"{where}: postmap -s of the table is not what the text says"
        assert dump == self.db, f"{where}: the table is not what the database says"
        assert desk.leftovers() == [], f"{where}: temporary files left: {desk.leftovers()}"
        stale = [r for r in self.rows(0) if r[1] == "running"]
        assert not stale, f"{where}: deploys still marked running: {stale}"

    def close(self) -> None:
        if self.reader.is_alive():
            self.reader.stop()
        self.agent.close()
