"""Download benchmarks: a 500,000-alias domain as aliases.csv, .xlsx and .ods over HTTP.

Builds one SQLite database with one big domain (the map of bench_web.py, imported with
`aliasdesk import`), then for each download starts a fresh `aliasdesk serve --workers 2`,
signs in through the form, downloads the file on loopback into a temporary file, and reads
the peak resident memory (VmHWM in /proc/<pid>/status) of every gunicorn worker. Each file
is checked: the CSV's lines, and the rows of the XLSX sheet and of the ODS content.xml,
counted by streaming their XML (no spreadsheet library would open 500,000 rows in memory).

Prints a Markdown section. Targets (issue 14): every download completes; the serving
process stays under 300 MB.

    .venv/bin/python bench/bench_reports.py      # BENCH_ALIASES (500000), BENCH_REPORTS (csv,report.csv,xlsx,ods)
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from bench_web import AD, BIG, PASSWORD, big_map_lines, env_for, login, run, served

LIMIT_MB = 300
PATHS = {
    "csv": "aliases.csv",
    "report.csv": "aliases-report.csv",
    "xlsx": "aliases.xlsx",
    "ods": "aliases.ods",
}


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and brackets: the fields after the last ")" are fixed
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def vm_hwm(pid: int) -> float:
    """Peak resident memory of a process, in MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def count_rows(kind: str, path: Path) -> int:
    """Data rows of the downloaded file (the header row not counted)."""
    if kind in ("csv", "report.csv"):
        import csv

        with open(path, newline="", encoding="utf-8-sig") as fh:
            return sum(1 for _ in csv.reader(fh)) - 1
    member = "xl/worksheets/sheet1.xml" if kind == "xlsx" else "content.xml"
    tag = "row" if kind == "xlsx" else "table-row"
    rows = 0
    with zipfile.ZipFile(path) as book, book.open(member) as xml:
        for _, element in ElementTree.iterparse(xml):
            if element.tag.rsplit("}", 1)[-1] == tag:
                rows += 1
                element.clear()
            elif element.tag.endswith("}sheetData") or element.tag.endswith("}table"):
                element.clear()
    return rows - 1


def download(env: dict[str, str], kind: str, work: Path) -> dict[str, float]:
    """One download from a fresh server: seconds to the first byte and to the end, size, peak RSS."""
    with served(env) as (base, server):
        cookie = login(base)
        workers = children(server.pid)
        before = max(vm_hwm(pid) for pid in workers)
        target = work / f"download.{kind.replace('.', '-')}"
        request = urllib.request.Request(f"{base}/domains/{BIG}/{PATHS[kind]}", headers={"Cookie": cookie})
        start = time.perf_counter()
        first = None
        size = 0
        with urllib.request.urlopen(request, timeout=1800) as response, open(target, "wb") as out:
            if response.status != 200:
                raise SystemExit(f"{PATHS[kind]}: HTTP {response.status}")
            while block := response.read(256 * 1024):
                first = first if first is not None else time.perf_counter() - start
                size += len(block)
                out.write(block)
        took = time.perf_counter() - start
        peak = max(vm_hwm(pid) for pid in children(server.pid))
        rows = count_rows(kind, target)
        target.unlink()
        return {"seconds": took, "first": first or took, "bytes": size, "peak": peak, "idle": before, "rows": rows}


def main() -> None:
    count = int(os.environ.get("BENCH_ALIASES", "500000"))
    kinds = [k for k in os.environ.get("BENCH_REPORTS", ",".join(PATHS)).split(",") if k]
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="aliasdesk-bench-reports-") as tmp:
        work = Path(tmp)
        big_map = work / "big.virtual"
        with open(big_map, "w") as fh:
            fh.writelines(big_map_lines(count))
        data = work / "data"
        data.mkdir()
        env = env_for(data, None)
        run([*AD, "migrate", "--verbosity", "0"], env)
        run([*AD, "import", str(big_map), "--domain", BIG], env)
        run([*AD, "user", "add", "bench", "--role", "admin", "--password-stdin"], env, stdin=PASSWORD + "\n")
        for kind in kinds:
            r = download(env, kind, work)
            complete = r["rows"] == count
            rows.append((
                f"`{PATHS[kind]}` of {count:,} aliases: time to first byte / whole download, size",
                f"{r['first']:.1f} / {r['seconds']:.1f} s, {r['bytes'] / 2**20:.1f} MiB, {int(r['rows']):,} rows",
                f"all {count:,} rows",
                "ok" if complete else "MISSED",
            ))
            rows.append((
                f"`{PATHS[kind]}`: peak RSS of the serving worker (VmHWM; {r['idle']:.0f} MB after sign-in)",
                f"{r['peak']:.0f} MB",
                f"< {LIMIT_MB} MB",
                "ok" if r["peak"] < LIMIT_MB else "MISSED",
            ))
    print(f"Downloads over HTTP from `aliasdesk serve --workers 2` (gthread, {os.cpu_count()} CPUs), SQLite, "
          "a fresh server per file, the client on loopback.\n")
    print("| measure | result | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
