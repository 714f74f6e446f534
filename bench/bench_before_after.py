"""The existing benchmarks before and after a change, alternately on one machine in one run.

Issue 10 moved code around (postfix/ split into maps/ and maillog/, the deploy engine
reshaped, rendering moved, apps layered) and must slow nothing down. This runs the
benchmarks of the code before it (BENCH_BEFORE, a commit: a temporary worktree of it) and of
this tree one after the other, the order turning from one benchmark to the next, so that
a machine getting busier or quieter favours neither. Each benchmark's own tables are
printed, labelled; they carry their ratios against postmap and pflogsumm of the same run.

    .venv/bin/python bench/run.py before_after          # BENCH_BEFORE=efce78f by default
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEFORE = os.environ.get("BENCH_BEFORE", "efce78f")  # bench/RESULTS.md after issue 9, before issue 10
BENCHES = os.environ.get("BENCH_BEFORE_AFTER", "deploy validate logstats logingest web").split()


def run_bench(tree: Path, name: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(tree / "bench" / f"bench_{name}.py")], cwd=tree, env=env, capture_output=True, text=True
    )
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench_{name}.py in {tree} failed:\n{proc.stderr[-3000:]}")
    return took, proc.stdout.strip()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="aliasdesk-before-") as tmp:
        before = Path(tmp) / "before"
        shared = REPO.parent / "shared"  # the real maps and logs, beside the repository
        if shared.is_dir():
            (Path(tmp) / "shared").symlink_to(shared)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(before), BEFORE], check=True)
        try:
            commit = subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
            print("## Before and after issue 10's moves\n")
            print(
                f"The benchmarks of {BEFORE} (before) and of {commit} (after) on this machine in one run, "
                "each benchmark once per tree, the order turning from one to the next; every table carries its own "
                "reference (postmap, pflogsumm) measured in the same run.\n"
            )
            for n, name in enumerate(BENCHES):
                pair = [("before", before), ("after", REPO)]
                for label, tree in pair if n % 2 == 0 else pair[::-1]:
                    took, out = run_bench(tree, name)
                    body = out.replace("\n## ", "\n#### ").replace("\n### ", "\n#### ")
                    body = body[3:] if body.startswith("## ") else body
                    print(f"### {name}, {label} ({took:.0f} s)\n\n{body}\n")
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)], check=False)


if __name__ == "__main__":
    main()
