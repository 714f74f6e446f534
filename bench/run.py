"""Run the benchmarks and write bench/RESULTS.md with the machine and the date.

    .venv/bin/python bench/run.py              # all of them
    .venv/bin/python bench/run.py deploy logstats

Each bench_*.py prints a Markdown section measured against the real reference
(postmap, pflogsumm) in the same run. Run on an otherwise idle machine: the
numbers are ratios, but a loaded machine still skews them.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["deploy", "patch", "agent", "validate", "logstats", "logingest", "web", "api", "reports", "bulk", "across"]
# Run by name only: patch_faults is 20-30 minutes of kill -9 trials; before_after runs the
# benchmarks above of the code before issue 10 and of this tree (~15 minutes); dbmove moves
# a 500,000-alias database through the three engines (needs their servers).
BY_NAME = ["patch_faults", "before_after", "dbmove"]


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def machine() -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.node()}, {cpu}, {os.cpu_count()} cores, {mem} memory, {platform.platform()}",
        f"- load average before this benchmark: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Python {platform.python_version()}; Postfix {_version(['postconf', '-d', '-h', 'mail_version'])}; "
        f"pflogsumm {_version(['pflogsumm', '--version'])}",
    ]


def main(argv: list[str]) -> int:
    chosen = argv or BENCHES
    unknown = [b for b in chosen if b not in BENCHES + BY_NAME]
    if unknown:
        names = ", ".join(BENCHES + BY_NAME)
        print(f"unknown benchmark: {', '.join(unknown)} (choose from {names})", file=sys.stderr)
        return 2
    results = HERE / "RESULTS.md"
    old = results.read_text() if results.exists() else ""
    # Hand-written notes (<!-- note:NAME --> ... <!-- /note:NAME -->) are kept as they are.
    kept = _sections(old)
    failed = False
    for name in chosen:
        script = HERE / f"bench_{name}.py"
        start = time.monotonic()
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        header = machine()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        took = time.monotonic() - start
        if proc.returncode != 0:
            failed = True
            body = [f"## {name}: FAILED after {took:.0f} s", "", *header, "", "```", proc.stderr[-3000:], "```"]
        else:
            body = [f"## {name}", "", *header, "", proc.stdout.strip(), "", f"_({script.name} took {took:.0f} s)_"]
        kept[name] = "\n".join(body)
    sections = (f"<!-- bench:{n} -->\n{kept[n]}\n<!-- /bench:{n} -->\n" for n in BENCHES + BY_NAME if n in kept)
    notes = re.findall(r"<!-- note:[\w-]+ -->\n.*?\n<!-- /note:[\w-]+ -->\n", old, flags=re.S)
    text = "\n".join([INTRO, *sections, *notes])
    results.write_text(text)
    print(text)
    return 1 if failed else 0


INTRO = """# Benchmark results

Written by `make bench` (`bench/run.py [NAME...]`; a run of some benchmarks keeps the others'
sections). Every section is measured against the real reference (postmap, pflogsumm) in the same
run and says when and on what machine; ratios still move with the machine's load.
"""


def _sections(text: str) -> dict[str, str]:
    """The sections of an earlier RESULTS.md, by benchmark name."""
    found = {}
    for name in BENCHES + BY_NAME:
        start, end = f"<!-- bench:{name} -->\n", f"\n<!-- /bench:{name} -->"
        if start in text and end in text:
            found[name] = text.split(start, 1)[1].split(end, 1)[0]
    return found

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
