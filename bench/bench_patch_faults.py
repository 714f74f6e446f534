"""kill -9 of patch deploys on a 500,000-alias map (issue 10 §2): what Postfix sees, and the repair.

The proofs of tests/deploys/test_patch_faults.py at full size: a map like bench_deploy's
(``make_map``) imported with ``aliasdesk import`` and deployed whole, then trials that each
change one alias through aliasdesk's services, start a plain ``aliasdesk deploy`` (a patch)
and SIGKILL it at a random moment of the whole command (the aliasdesk process alone or its
process group, in turn). After each: ``postmap -s`` of the real table and ``postmap -q`` of
a sample and the changed keys must be the whole old or the whole new map, the text the old
or the new one; an interrupted deploy must be repaired by the next one. A reader thread
queries the live table all along. After the trials a plain deploy must leave text, table
and database in agreement (``aliasdesk export``, ``postmap -s``), and the deploys after it
must be patches again. The hash and lmdb runs go side by side.

    .venv/bin/python bench/bench_patch_faults.py            # prints the Markdown section
    .venv/bin/python bench/bench_patch_faults.py --results  # and puts it in bench/RESULTS.md

BENCH_ALIASES (500000), BENCH_PATCH_TRIALS (50 per map type), ALIASDESK_FAULT_SEED.
Needs root (as the fault tests) and postmap with hash and lmdb support.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

from bench_deploy import make_map  # noqa: E402
from run import machine  # noqa: E402

from tests.deploys.faultdesk import PHASES, Desk, MapStates, PatchTrials  # noqa: E402

DOMAIN = "big.example"
NAME = "patch_faults"


@dataclass
class Outcome:
    map_type: str
    trials: int = 0
    setup: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    window: float = 0.0
    killed: int = 0
    remeasured: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    postfix: Counter[str] = field(default_factory=Counter)
    text: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    settled: bool = False
    failure: str = ""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def timed(desk: Desk, *args: str) -> float:
    """One aliasdesk command without the desk's 120 s limit (a 500,000-alias import takes a while)."""
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "aliasdesk", *args], env=desk.env(), capture_output=True, text=True, cwd=desk.root
    )
    if proc.returncode != 0:
        raise RuntimeError(f"aliasdesk {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return time.monotonic() - start


def bench(map_type: str, work: Path, conf: Path, src: Path, trials: int, seed: int) -> Outcome:
    out = Outcome(map_type, trials)
    root = work / map_type
    (root / "maps").mkdir(parents=True)
    (root / "data").mkdir()
    desk = Desk(root=root, conf=conf, map_type=map_type, states=MapStates({}, {}, []))
    run = None
    try:
        desk.ok("migrate", "--verbosity", "0")
        desk.ok("domain", "add", DOMAIN, "--map-file", str(desk.map_path), "--map-type", map_type)
        out.setup["import"] = timed(desk, "import", str(src), "--domain", DOMAIN)
        out.setup["first deploy (full)"] = timed(desk, "deploy", DOMAIN)
        log(f"{map_type}: imported and deployed ({out.setup})")
        rng = random.Random(f"{seed}-bench-{map_type}")
        run = PatchTrials(desk, DOMAIN, desk.dump(), rng, render_each=False)
        run.reader.start()
        timing = run.measure()
        out.wall, out.window = timing.wall, timing.window
        log(f"{map_type}: a patch deploy takes {timing.wall:.2f} s, {timing.window:.2f} s with temporary files")
        walls = [timing.wall]
        for trial in range(trials):
            if trial % 10 == 9:  # the machine's load moves: measure again, so the kills keep spanning the command
                walls.append(run.measure(runs=1).wall)
                out.remeasured += 1
            delay = rng.uniform(0, statistics.median(walls[-3:]))
            record = run.trial(trial, delay, after_tmp=False, group=trial % 2 == 1, label=f"{map_type}, ")
            out.killed += record.killed
            out.phases[record.phase] += 1
            out.postfix[record.postfix] += 1
            out.text[record.text] += 1
            if record.repaired_by:
                out.repaired[record.repaired_by] += 1
            log(f"{record.where}: {record.phase}; Postfix sees {record.postfix}, text {record.text}")
        run.settle()
        out.settled = True
    except Exception as exc:  # an assertion of the trials: what the section must report
        out.failure = f"{type(exc).__name__}: {exc}"
        log(traceback.format_exc())
    finally:
        if run is not None:
            run.close()
            out.reads, out.seen, out.bad = run.reader.reads, dict(run.reader.seen), list(run.reader.bad)
        for pid in desk.orphans():
            os.kill(pid, 9)
    return out


def section(count: int, outcomes: list[Outcome]) -> str:
    cols = " | ".join(o.map_type for o in outcomes)
    rows = [f"| | {cols} |", "|---|" + "---|" * len(outcomes)]

    def row(what: str, values: list[str]) -> None:
        rows.append(f"| {what} | " + " | ".join(values) + " |")

    row("`aliasdesk import` of the map", [f"{o.setup.get('import', 0):.0f} s" for o in outcomes])
    row("first deploy (full build)", [f"{o.setup.get('first deploy (full)', 0):.1f} s" for o in outcomes])
    row("patch deploy of one change, whole command (median of 3)", [f"{o.wall:.2f} s" for o in outcomes])
    row("… of it with temporary files (copy, postmap, verify, text, renames)", [f"{o.window:.2f} s" for o in outcomes])
    row("trials (one alias changed, plain `deploy`, SIGKILL at a random moment)", [str(o.trials) for o in outcomes])
    row("… between them, deploys not killed to measure the command again", [str(o.remeasured) for o in outcomes])
    row("kills landed (the others: the deploy had ended)", [str(o.killed) for o in outcomes])
    for phase in PHASES:
        label = "… during the table/text phase" if phase == "table and text" else f"… {phase}"
        row(label, [str(o.phases[phase]) for o in outcomes])
    row("Postfix after the trial: old map / new map", [f"{o.postfix['old']} / {o.postfix['new']}" for o in outcomes])
    row("map source after the trial: old / new", [f"{o.text['old']} / {o.text['new']}" for o in outcomes])
    row("reader: queries (old / new while a change was pending)",
        [f"{o.reads} ({o.seen.get('old', 0)} / {o.seen.get('new', 0)})" for o in outcomes])
    row("**reads that saw a broken map** (must be 0)", [f"**{len(o.bad)}**" for o in outcomes])
    row("interrupted deploys repaired by the next deploy (a full build)",
        [", ".join(f"{n} {m}" for m, n in o.repaired.items()) or "0" for o in outcomes])
    row("after the trials: plain deploy, text = `export`, `postmap -s` = text = database, next 2 deploys patches",
        ["yes" if o.settled else "**NO**" for o in outcomes])
    lines = [
        "## Patch deploys killed with kill -9 (issue 10 §2)",
        "",
        f"A {count:,}-alias map (bench_deploy's `make_map`), one domain, imported and deployed whole; then per map "
        "type each trial changes one alias through aliasdesk's services, starts a plain `aliasdesk deploy` "
        "(a patch: the deployed table copied, `postmap -d` / `postmap -r -i` on the copy, verified, renamed) "
        "and SIGKILLs it (the process, or its group, in turn) at a random moment of the whole command "
        "(0 to the median of the last 3 measured deploys; every 10th trial measures one again). "
        "Where a kill landed is judged by what it left (see tests/deploys/faultdesk.py, PHASES). "
        "The hash and lmdb runs went side by side.",
        "",
        *rows,
    ]
    for o in outcomes:
        if o.failure:
            lines += ["", f"**{o.map_type}: FAILED**: `{o.failure[:1500]}`"]
        if o.bad:
            lines += ["", f"{o.map_type}: broken reads: " + "; ".join(o.bad[:10])]
    return "\n".join(lines)


def write_results(body: str, header: list[str], took: float) -> None:
    """Put the section in bench/RESULTS.md between its markers, as bench/run.py would; the other sections stay."""
    results = HERE / "RESULTS.md"
    text = results.read_text()
    start, end = f"<!-- bench:{NAME} -->\n", f"\n<!-- /bench:{NAME} -->"
    block = "\n".join([f"## {NAME}", "", *header, "", body, "", f"_(bench_{NAME}.py took {took:.0f} s)_"])
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + start + block + end + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{start}{block}{end}\n"
    results.write_text(text)


def main(argv: list[str]) -> int:
    if os.geteuid() != 0:
        print("bench_patch_faults needs root, as the fault-injection tests", file=sys.stderr)
        return 2
    count = int(os.environ.get("BENCH_ALIASES", "500000"))
    trials = int(os.environ.get("BENCH_PATCH_TRIALS", "50"))
    seed = int(os.environ.get("ALIASDESK_FAULT_SEED", "20261203"))
    header = machine()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aliasdesk-bench-patch-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        os.environ["ALIASDESK_MAP_DIRS"] = str(work)
        conf = work / "conf"
        conf.mkdir()
        (conf / "main.cf").write_text("compatibility_level = 3.6\n")
        old = time.time() - 120  # postmap waits for a main.cf younger than a second to settle
        os.utime(conf / "main.cf", (old, old))
        src = work / "big.virtual"
        make_map(src, count)
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = [pool.submit(bench, t, work, conf, src, trials, seed) for t in ("hash", "lmdb")]
            outcomes = [job.result() for job in jobs]
    body = section(count, outcomes)
    print(body)
    if "--results" in argv:
        write_results(body, header, time.monotonic() - started)
    failed = any(o.failure or o.bad for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
