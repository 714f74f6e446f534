"""Benchmark ``aliasdesk logstats`` against pflogsumm on a big log made from the real ones.

The log is built under a temporary directory from ../shared/realdata/logs: the
real logs one after another, again and again, each copy's timestamps moved on
so the days keep advancing (the run crosses a New Year) and each copy's queue
ids made unique (a real million-line log does not repeat every queue id every
44,000 lines, and unique ids make the bounded per-message memory do its work).

Both tools run on a prefix of half the lines and on the whole log, alternately,
best of ``--repeat`` runs: wall time, lines per second, CPU time, the largest
process's peak RSS (GNU time) and the peak PSS summed over all processes
(sampled from /proc). aliasdesk runs three ways: as it chooses (one process per
idle CPU), with ``--jobs 2`` and with ``--jobs 1``. The wall times depend on
what else the machine is doing, hence the load averages in the output and the
CPU column. It then checks that the Grand Totals agree, exactly, on both logs,
and prints a Markdown section. Nothing is written into the repository.

    .venv/bin/python bench/bench_logstats.py [--lines 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata" / "logs"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
STAMP = re.compile(rb"(\w{3}) ( ?\d{1,2}) (\d\d:\d\d:\d\d) ")
QUEUE_ID = re.compile(rb"(\]: [0-9A-F]{6,})(?=: )")
# pflogsumm with its k/m display thresholds pinned out of reach: exact byte totals.
EXACT_PFLOGSUMM = r"""
package Pin; sub TIESCALAR { my $v = $_[1]; return bless \$v } sub FETCH { return ${$_[0]} } sub STORE {}
package main;
tie $main::divByOneKAt, "Pin", 9e18; tie $main::divByOneMegAt, "Pin", 9e18;
my $program = shift @ARGV; $0 = $program; do $program; die $@ if $@;
"""
LABELS = {
    "received": "received", "delivered": "delivered", "forwarded": "forwarded", "deferred": "deferred",
    "bounced": "bounced", "rejected": "rejected", "reject warnings": "reject_warnings", "held": "held",
    "discarded": "discarded", "bytes received": "bytes_received", "bytes delivered": "bytes_delivered",
    "senders": "senders", "sending hosts/domains": "sending_hosts", "recipients": "recipients",
    "recipient hosts/domains": "recipient_hosts",
}


def source_days(path: Path) -> tuple[list[tuple[int, bytes, bytes]], int]:
    """Each line as (day offset from the log's first day, time of day, rest), and the log's span in days."""
    lines: list[tuple[int, bytes, bytes]] = []
    year, last_month, first = 2001, 0, None
    for raw in path.read_bytes().split(b"\n")[:-1]:
        m = STAMP.match(raw)
        month = MONTHS.index(m.group(1).decode()) + 1 if m and m.group(1).decode() in MONTHS else 0
        if not month:
            lines.append((-10**6, b"", raw))  # no classic stamp: copied as it is
            continue
        if last_month and month < last_month - 6:
            year += 1
        last_month = max(last_month, month) if month >= last_month - 6 else month
        ordinal = dt.date(year, month, int(m.group(2))).toordinal()  # type: ignore[union-attr]
        first = ordinal if first is None else first
        lines.append((ordinal - first, m.group(3), raw[m.end() :]))  # type: ignore[union-attr]
    span = max((day for day, _, _ in lines), default=0)
    return lines, span + 1


def build_log(path: Path, sources: list[Path], wanted: int) -> int:
    """Write copies of the sources until at least ``wanted`` lines; return the line count."""
    logs = [source_days(source) for source in sources]
    start = dt.date(2025, 6, 1)
    day, copy, written = 0, 0, 0
    with path.open("wb") as out:
        while written < wanted:
            suffix = b"%03X" % copy
            for lines, span in logs:
                stamps: dict[int, bytes] = {}
                chunk: list[bytes] = []
                for offset, clock, rest in lines:
                    if offset < -1000:
                        chunk.append(rest)
                        continue
                    stamp = stamps.get(offset)
                    if stamp is None:
                        date = start + dt.timedelta(days=day + offset)
                        stamp = stamps[offset] = f"{MONTHS[date.month - 1]} {date.day:2d} ".encode()
                    chunk.append(stamp + clock + b" " + QUEUE_ID.sub(rb"\g<1>" + suffix, rest))
                out.write(b"\n".join(chunk) + b"\n")
                written += len(chunk)
                day += span
            copy += 1
    return written


def head(path: Path, target: Path, lines: int) -> None:
    with path.open("rb") as source, target.open("wb") as out:
        for _ in range(lines):
            out.write(source.readline())


def _tree(pid: int) -> Iterator[int]:
    yield pid
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            for child in children:
                yield from _tree(int(child))
    except OSError:
        return


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(command: list[str], output: Path) -> dict[str, float]:
    """Run once: wall seconds, CPU seconds, largest-process peak RSS and peak total PSS in MB.

    The RSS comes from GNU time (``/usr/bin/time``), started as a small process:
    Linux carries a process's high-water mark across exec, so a child forked from
    this (bigger) Python process would report at least this process's size.
    """
    peak = [0]
    timing = output.with_suffix(".time")
    gnu_time = Path("/usr/bin/time")
    prefix = [str(gnu_time), "-o", str(timing), "-f", "%M %U %S"] if gnu_time.exists() else []
    with output.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen([*prefix, *command], stdout=out, stderr=subprocess.PIPE,
                                   env={**os.environ, "LC_ALL": "C"})
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                pids = set(_tree(process.pid)) - ({process.pid} if prefix else set())
                peak[0] = max(peak[0], sum(_pss_kb(pid) for pid in pids))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        err = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"{command[0]} failed ({process.returncode}): {err.strip()}")
    if prefix:
        rss_kb, user, system = timing.read_text().split()[-3:]
        rss, cpu = int(rss_kb) / 1024, float(user) + float(system)
    else:
        rss, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "rss": rss, "pss": peak[0] / 1024}


def grand_totals(report: str) -> dict[str, int]:
    totals = {"deferrals": 0}
    section = report.split("Grand Totals", 1)[1].split("Per-", 1)[0]
    for line in section.splitlines():
        m = re.match(r"\s*(\d+)\s{3}(\D+?)(?:\s+\((\d+)\s+deferrals\)|\s+\(\d+%\))?$", line)
        if m:
            totals[LABELS[m.group(2)]] = int(m.group(1))
            if m.group(3):
                totals["deferrals"] = int(m.group(3))
    return totals


def main() -> int:  # noqa: C901 - argument handling and the report, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="size of the big log (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and size; the best counts")
    parser.add_argument("--realdata", type=Path, default=REALDATA, help="folder of real mail logs")
    args = parser.parse_args()
    sources = sorted(args.realdata.glob("*.log"))
    if not sources:
        print(f"bench_logstats: no logs in {args.realdata}", file=sys.stderr)
        return 2
    pflogsumm = shutil.which("pflogsumm") or ("/usr/sbin/pflogsumm" if Path("/usr/sbin/pflogsumm").exists() else None)
    ours = [sys.executable, "-m", "aliasdesk", "logstats"]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-logstats-") as tmp:
        work = Path(tmp)
        big = work / "mail.log"
        total = build_log(big, sources, args.lines)
        half = work / "mail-half.log"
        head(big, half, total // 2)
        sizes = [(half, total // 2), (big, total)]
        tools: list[tuple[str, list[str]]] = [
            ("aliasdesk logstats (default)", ours),
            ("aliasdesk logstats --jobs 2", [*ours, "--jobs", "2"]),
            ("aliasdesk logstats --jobs 1", [*ours, "--jobs", "1"]),
        ]
        if pflogsumm:
            tools.insert(0, ("pflogsumm 1.1.5", [pflogsumm]))
        best: dict[tuple[str, int], dict[str, float]] = {}
        for _ in range(args.repeat):
            for path, lines in sizes:
                for name, command in tools:
                    result = measure([*command, str(path)], work / "out.txt")
                    key = (name, lines)
                    if key not in best or result["wall"] < best[key]["wall"]:
                        best[key] = {**result, "peak_rss": max(result["rss"], best.get(key, {}).get("peak_rss", 0)),
                                     "peak_pss": max(result["pss"], best.get(key, {}).get("peak_pss", 0))}
                    else:
                        best[key]["peak_rss"] = max(best[key]["peak_rss"], result["rss"])
                        best[key]["peak_pss"] = max(best[key]["peak_pss"], result["pss"])
        checks = []
        if pflogsumm:
            for path, lines in sizes:
                exact = subprocess.run(["perl", "-e", EXACT_PFLOGSUMM, pflogsumm, str(path)], capture_output=True,
                                       env={**os.environ, "LC_ALL": "C"}, check=True).stdout.decode("latin-1")
                mine = json.loads(subprocess.run([*ours, "--json", str(path)], capture_output=True, check=True).stdout)
                theirs = grand_totals(exact)
                differ = sorted(k for k in mine["totals"] if mine["totals"][k] != theirs.get(k))
                checks.append((lines, theirs, differ))
        size_mb = big.stat().st_size / 1e6
    load_after = os.getloadavg()[0]

    print("## aliasdesk logstats vs pflogsumm\n")
    print(f"Log: {total:,} lines ({size_mb:.0f} MB) built from {len(sources)} real logs in {args.realdata} "
          f"(copies with days moved on and queue ids made unique per copy), and its first {total // 2:,} lines. "
          f"Best of {args.repeat} runs per row, tools run alternately; {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before and {load_after:.1f} after (other work on the machine slows "
          f"every row).\n")
    print("| tool | lines | wall s | lines/s | CPU s | peak RSS MB (largest process) | peak PSS MB (all processes) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for _, lines in sizes:
        for name, _ in tools:
            r = best[(name, lines)]
            print(f"| {name} | {lines:,} | {r['wall']:.2f} | {lines / r['wall']:,.0f} | {r['cpu']:.2f} "
                  f"| {r['peak_rss']:.1f} | {r['peak_pss']:.1f} |")
    if pflogsumm:
        print()
        for _, lines in sizes:
            base = best[("pflogsumm 1.1.5", lines)]["wall"]
            ratios = ", ".join(f"{name}: {base / best[(name, lines)]['wall']:.2f}x" for name, _ in tools[1:])
            print(f"- {lines:,} lines, speed relative to pflogsumm: {ratios}")
        for name, _ in tools[1:]:
            small, large = best[(name, sizes[0][1])], best[(name, sizes[1][1])]
            print(f"- {name}: peak memory from {sizes[0][1]:,} to {sizes[1][1]:,} lines: RSS "
                  f"{small['peak_rss']:.1f} -> {large['peak_rss']:.1f} MB, PSS {small['peak_pss']:.1f} -> "
                  f"{large['peak_pss']:.1f} MB")
        for lines, theirs, differ in checks:
            verdict = "all 16 equal" if not differ else "DIFFERENT: " + ", ".join(differ)
            print(f"- Grand Totals on {lines:,} lines, exact (pflogsumm with units pinned) vs --json: {verdict} "
                  f"(received {theirs['received']:,}, delivered {theirs['delivered']:,}, "
                  f"bytes received {theirs['bytes_received']:,})")
    else:
        print("\npflogsumm is not installed: only aliasdesk was measured.")
    return 1 if any(differ for _, _, differ in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
