"""Deploy and import benchmarks, measured against bare postmap in the same run.

Prints a Markdown section. Targets (issue 3):
- deploy of a 500,000-alias domain, whole command: at most 2x `postmap hash:` on the same file;
- no-op redeploy of that domain: at most 0.5 s for the whole command;
- import of a 500,000-line map: at most 20 s on SQLite, peak memory at most 500 MB;
- 1,000 domains of 100 aliases, one alias changed, `deploy --all`: at most 2 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AD = [sys.executable, "-m", "aliasdesk"]
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"


def run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, float, str]:
    """Run a command; return wall seconds, peak RSS in MB of the child, and its output."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=REPO,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = proc.communicate(stdin.encode() if stdin is not None else None)
    wall = time.perf_counter() - start
    # communicate() reaped the child: its rusage went to RUSAGE_CHILDREN; read the max via wait4 is gone,
    # so each measured command runs under a fresh "python -c" wrapper when memory matters (see peak()).
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.decode(errors='replace')[-3000:]}")
    return wall, 0.0, out.decode(errors="replace")


def peak(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured with wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def best(times: list[float]) -> float:
    return min(times)


def make_map(path: Path, count: int) -> None:
    """A realistic big map: many domains' keys, two destinations each, a few comments."""
    with open(path, "w") as fh:
        fh.write("# generated for the aliasdesk benchmark\n\n")
        for i in range(count):
            if i % 5000 == 0:
                fh.write(f"# block {i // 5000}: ticket OPS-{i}\n")
            fh.write(
                f"user{i}@d{i % 97}.example.com\tfirst.last{i}@mail.example.org, archive{i % 13}@backup.example.net\n"
            )


def postmap_time(src: Path, map_type: str, conf: Path, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        copy = src.with_name(src.name + f".pm-{map_type}")
        shutil.copyfile(src, copy)
        start = time.perf_counter()
        subprocess.run([POSTMAP, "-c", str(conf), f"{map_type}:{copy}"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        for suffix in ("", ".db", ".lmdb", ".cdb"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return best(times)


def env_for(data: Path, conf: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ALIASDESK_DATA_DIR=str(data),
        ALIASDESK_MAP_DIRS=str(data),  # the map is written as data/virtual
        ALIASDESK_POSTFIX_CONFIG_DIR=str(conf),
        ALIASDESK_POSTMAP=POSTMAP,
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    )
    env.pop("ALIASDESK_DATABASE_URL", None)
    return env


CHANGE = "a = Alias.objects.get(key='{key}'); update_alias(a, version=a.version, destinations='{dest}')"


def bench_big(work: Path, conf: Path, count: int) -> list[tuple[str, str, str, str]]:
    data = work / "big"
    data.mkdir()
    env = env_for(data, conf)
    src = work / "big.virtual"
    make_map(src, count)
    run([*AD, "migrate", "--verbosity", "0"], env)
    t_import, rss_import = peak(
        [*AD, "import", str(src), "--domain", "big.example", "--map-file", str(data / "virtual")], env
    )
    t_first, _, _ = run([*AD, "deploy", "big.example"], env)
    rendered = data / "virtual"
    t_pm = postmap_time(rendered, "hash", conf)
    change = "from aliasdesk.aliases.models import Alias; from aliasdesk.aliases.services import update_alias; "
    redeploys = []
    for n in range(3):
        key = f"user{1000 + n}@d{(1000 + n) % 97}.example.com"
        code = change + CHANGE.format(key=key, dest=f"changed{n}@example.org")
        run([*AD, "shell", "-c", code], env)
        t, _, _ = run([*AD, "deploy", "big.example"], env)
        redeploys.append(t)
    t_change = best(redeploys)
    noops = [run([*AD, "deploy", "big.example"], env)[0] for _ in range(5)]
    t_noop = best(noops)
    t_start = best([run([*AD, "help"], env)[0] for _ in range(3)])
    return [
        (
            f"import of a {count:,}-line map (SQLite)",
            f"{t_import:.1f} s, peak {rss_import:.0f} MB",
            "≤ 20 s, ≤ 500 MB",
            "ok" if t_import <= 20 and rss_import <= 500 else "MISSED",
        ),
        (f"`postmap hash:` on the {count:,}-alias file (reference)", f"{t_pm:.2f} s", "", ""),
        (
            f"first `aliasdesk deploy` of the {count:,}-alias domain",
            f"{t_first:.2f} s = {t_first / t_pm:.2f}× postmap",
            "≤ 2×",
            "ok" if t_first <= 2 * t_pm else "MISSED",
        ),
        (
            "`aliasdesk deploy` after one alias changed (best of 3)",
            f"{t_change:.2f} s = {t_change / t_pm:.2f}× postmap",
            "≤ 2×",
            "ok" if t_change <= 2 * t_pm else "MISSED",
        ),
        (
            "no-op redeploy, whole command (best of 5)",
            f"{t_noop:.2f} s",
            "≤ 0.5 s",
            "ok" if t_noop <= 0.5 else "MISSED",
        ),
        ("`aliasdesk help` (interpreter + Django start, for scale)", f"{t_start:.2f} s", "", ""),
    ]


SETUP_MANY = """
import sys
from pathlib import Path
from aliasdesk.aliases.importer import import_map
work = Path(sys.argv[1])
for i in range({domains}):
    name = f"dom{{i}}.example"
    src = work / f"{{name}}.src"
    src.write_text("".join(f"a{{j}}@{{name}}\\tp{{j}}@mail.example.org\\n" for j in range({per})))
    import_map(src, name)
"""


def bench_many(work: Path, conf: Path, domains: int, per: int) -> list[tuple[str, str, str, str]]:
    data = work / "many"
    data.mkdir()
    env = env_for(data, conf)
    run([*AD, "migrate", "--verbosity", "0"], env)
    srcs = work / "many-src"
    srcs.mkdir()
    script = work / "setup_many.py"
    script.write_text(SETUP_MANY.format(domains=domains, per=per))
    env_dj = dict(env, DJANGO_SETTINGS_MODULE="aliasdesk.settings")
    run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); import runpy, sys; sys.argv=['x', '{srcs}']; runpy.run_path('{script}')",
        ],
        env_dj,
    )
    t_all_first, _, _ = run([*AD, "deploy", "--all"], env)
    times = []
    for n in range(3):
        code = (
            "from aliasdesk.aliases.models import Alias; from aliasdesk.aliases.services import update_alias; "
            + CHANGE.format(key=f"a7@dom{domains // 2 + n}.example", dest=f"x{n}@example.org")
        )
        run([*AD, "shell", "-c", code], env)
        t, _, _out = run([*AD, "deploy", "--all"], env)
        times.append(t)
    t_noop_all = best([run([*AD, "deploy", "--all"], env)[0] for _ in range(3)])
    t = best(times)
    return [
        (f"first `deploy --all` of {domains:,} domains × {per} aliases", f"{t_all_first:.1f} s", "", ""),
        (
            f"`deploy --all`, {domains:,} domains, one alias changed (best of 3)",
            f"{t:.2f} s",
            "≤ 2 s",
            "ok" if t <= 2 else "MISSED",
        ),
        (f"`deploy --all`, {domains:,} domains, nothing changed", f"{t_noop_all:.2f} s", "", ""),
    ]


def main() -> None:
    count = int(os.environ.get("BENCH_ALIASES", "500000"))
    domains = int(os.environ.get("BENCH_DOMAINS", "1000"))
    with postfix_work() as (work, conf):
        rows = bench_big(work, conf, count) + bench_many(work, conf, domains, 100)
    print_table("Deploy and import (issue 3)", rows)


def print_table(title: str, rows: list[tuple[str, ...]], intro: str = "", notes: Iterable[str] = ()) -> None:
    """A benchmark's Markdown section: the title, a few words, the table of measured against
    target, and notes under it."""
    print(f"## {title}\n")
    if intro:
        print(intro + "\n")
    print("| what | measured | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row + ("",) * (4 - len(row))) + " |")
    for note in notes:
        print(f"\n{note}")
    print()


@contextmanager
def postfix_work() -> Iterator[tuple[Path, Path]]:
    """A scratch directory Postfix's programs may read, with a minimal config dir in it."""
    with tempfile.TemporaryDirectory(prefix="aliasdesk-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        conf = work / "conf"
        conf.mkdir()
        (conf / "main.cf").write_text("compatibility_level = 3.6\n")
        yield work, conf


if __name__ == "__main__":
    main()
