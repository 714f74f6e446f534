"""Benchmark ``aliasdesk logingest`` against pflogsumm on the same million-line log.

The log is the one bench_logstats.py builds from ../shared/realdata/logs. A fresh
SQLite database gets a domain whose aliases are the log's most frequent
recipients, so per-alias counting does real work. Measured, whole commands:

* pflogsumm on the log (the reference reader of the same lines);
* a first ``logingest`` of the whole log, in 8 MiB transactions;
* ``logingest`` of 1,000 new lines appended, and of nothing new (what the
  one-minute timer costs);
* the same log arriving in 20 slices with a rotation after the 10th.

It checks that the stored per-host counts equal pflogsumm-compatible totals
(``aliasdesk.postfix.maillog.summary``) and prints a Markdown section.

    .venv/bin/python bench/bench_logingest.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_deploy import AD, REPO, peak
from bench_logstats import REALDATA, build_log

FIELDS = ["received", "delivered", "forwarded", "deferrals", "bounced", "rejected", "reject_warnings", "held",
          "discarded"]
TOTALS = (
    "from django.db.models import Sum; import json; from aliasdesk.maillog.models import HostHour, AliasUsage; "
    f"print(json.dumps({{**HostHour.objects.aggregate(**{{f: Sum(f) for f in {FIELDS!r}}}), "
    "'aliases_seen': AliasUsage.objects.count()}))"
)


def env_for(data: Path) -> dict[str, str]:
    env = {**os.environ, "ALIASDESK_DATA_DIR": str(data), "ALIASDESK_TIME_ZONE": "UTC"}
    env.pop("ALIASDESK_DATABASE_URL", None)
    return env


def command(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run([*AD, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"aliasdesk {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def top_recipients(log: Path, count: int) -> list[str]:
    seen: Counter[str] = Counter()
    with log.open("rb") as f:
        for line in f:
            at = line.find(b" to=<")
            if at > 0:
                orig = line.find(b"orig_to=<", at)
                start = orig + 9 if orig > 0 else at + 5
                address = line[start : line.find(b">", start)].decode(errors="replace").lower()
                if "@" in address and " " not in address:
                    seen[address] += 1
    return [a for a, _ in seen.most_common(count)]


def expected(log: Path) -> dict[str, int]:
    sys.path.insert(0, str(REPO))
    from aliasdesk.postfix.maillog.summary import LogSummary

    summary = LogSummary()
    summary.add_file(log)
    return {f: summary.totals[f] for f in FIELDS}


def fresh(work: Path, name: str, log: Path) -> dict[str, str]:
    env = env_for(work / name)
    command(["migrate", "--verbosity", "0"], env)
    keys = top_recipients(log, 2000)
    with (work / f"{name}.map").open("w") as f:
        f.writelines(f"{key}\tdest{i}@example.org\n" for i, key in enumerate(keys))
    command(["import", str(work / f"{name}.map"), "--domain", "bench.example"], env)
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    pflogsumm = shutil.which("pflogsumm")
    if not pflogsumm:
        raise SystemExit("pflogsumm is not installed")
    with tempfile.TemporaryDirectory(prefix="aliasdesk-bench-ingest-") as tmp:
        work = Path(tmp)
        log = work / "mail.log"
        lines = build_log(log, sorted(REALDATA.glob("*.log")), args.lines)
        size_mb = log.stat().st_size / 2**20
        ref_wall, ref_rss = peak([pflogsumm, str(log)], os.environ.copy())

        env = fresh(work, "first", log)
        wall, rss = peak([*AD, "logingest", str(log), "--quiet"], env)
        got = json.loads(command(["shell", "--no-imports", "-c", TOTALS], env).strip().splitlines()[-1])
        seen = got.pop("aliases_seen")
        if got != expected(log):
            raise SystemExit(f"totals differ from pflogsumm's: {got} != {expected(log)}")
        extra = b"".join(log.open("rb").readlines()[-1000:])
        with log.open("ab") as f:
            f.write(extra)
        small = min(peak([*AD, "logingest", str(log), "--quiet"], env)[0] for _ in range(1))
        idle = min(peak([*AD, "logingest", str(log), "--quiet"], env)[0] for _ in range(3))

        env = fresh(work, "sliced", log)
        data = log.read_bytes()
        live = work / "live.log"
        live.write_bytes(b"")
        step = len(data) // 20 + 1
        sliced = 0.0
        for i, start in enumerate(range(0, len(data), step)):
            if i == 10:
                os.rename(live, work / "live.log.1")
                live.write_bytes(b"")
            with live.open("ab") as f:
                f.write(data[start : start + step])
            sliced += peak([*AD, "logingest", str(live), "--quiet"], env)[0]
        got = json.loads(command(["shell", "--no-imports", "-c", TOTALS], env).strip().splitlines()[-1])
        got.pop("aliases_seen")
        if got != expected(log):
            raise SystemExit(f"sliced totals differ: {got} != {expected(log)}")

    print("### aliasdesk logingest vs pflogsumm (issue 5)")
    print()
    print(f"Log: {lines:,} lines, {size_mb:.0f} MB, built from ../shared/realdata/logs; "
          f"database: SQLite, a domain of 2,000 aliases (the log's most frequent recipients), {seen:,} of them seen.")
    print()
    print("| what | wall | lines/s | peak RSS | vs pflogsumm |")
    print("|---|---|---|---|---|")
    print(f"| pflogsumm (reference, report only) | {ref_wall:.1f} s | {lines / ref_wall:,.0f} | {ref_rss:.0f} MB "
          "| 1× |")
    print(f"| first `logingest` of the whole log (counts stored) | {wall:.1f} s | {lines / wall:,.0f} | {rss:.0f} MB "
          f"| {ref_wall / wall:.2f}× the speed |")
    print(f"| `logingest` of 1,000 new lines (whole command) | {small:.2f} s |  |  |  |")
    print(f"| `logingest` with nothing new (the timer's idle cost) | {idle:.2f} s |  |  |  |")
    print(f"| the log in 20 slices, rotated after the 10th (sum) | {sliced:.1f} s | {lines / sliced:,.0f} |  |  |")
    print()
    print("Stored per-host totals equal pflogsumm-compatible totals after the first run and after the sliced runs.")


if __name__ == "__main__":
    started = time.monotonic()
    main()
