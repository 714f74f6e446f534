"""Agent mode (issue 11): a saved change is live on every mail host within 2 s, at 500,000 aliases.

Two agents (nodes mx1 and mx2) share one PostgreSQL database; each sees its own map files at
the same map path (a mount namespace per agent, as two hosts would). The domain deploys on
save. For each save the time runs from just before the change is saved until ``postmap -q``
answers the new value on both hosts: saving, queueing, NOTIFY, the agents' patch deploys
(with their spares, as a long-running agent keeps them) and Postfix's own lookup. Needs root
(mount namespaces) and PostgreSQL on 127.0.0.1:5432 as postgres.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import AD, env_for, make_map, postfix_work, print_table, run

SAVES = 20

SAVE_SCRIPT = """
import statistics, subprocess, sys, time
import django
django.setup()
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import update_alias
Domain.objects.update(deploy_on_save=True)
paths, conf, count, pause = sys.argv[1].split(":"), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

def answer(path, key):
    out = subprocess.run(["postmap", "-c", conf, "-q", key, "hash:" + path], capture_output=True, text=True)
    return out.stdout.strip()

times = []
for n in range(count):
    time.sleep(pause)
    key = f"user{1000 + n}@d{(1000 + n) % 97}.example.com"
    value = f"agent{n}@example.org"
    alias = Alias.objects.get(key=key)
    start = time.perf_counter()
    update_alias(alias, version=alias.version, destinations=value)  # deploy on save: queued, NOTIFY
    waiting = set(paths)
    while waiting and time.perf_counter() - start < 30:
        waiting = {p for p in waiting if answer(p, key) != value}
    if waiting:
        raise SystemExit(f"not live after 30 s on {sorted(waiting)}")
    times.append(time.perf_counter() - start)
times.sort()
print(statistics.median(times), times[int(0.95 * (len(times) - 1) + 0.5)], times[-1], len(times))
"""


def postgres_db() -> tuple[str, list[str]]:
    name = f"aliasdesk_bench_{uuid.uuid4().hex[:8]}"
    base = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
    subprocess.run([*base, f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return f"postgres://postgres@127.0.0.1:5432/{name}", [*base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]


def start_agent(node: str, own: Path, shared: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    own.mkdir()
    command = f"mount --bind {own} {shared} && exec {' '.join(AD)} agent --node {node}"
    return subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(paths: list[Path], conf: Path, key: str, timeout: float = 600) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        answers = [
            subprocess.run(["postmap", "-c", str(conf), "-q", key, f"hash:{p}"], capture_output=True).returncode
            for p in paths
        ]
        if all(code == 0 for code in answers):
            return time.perf_counter() - start
        time.sleep(0.2)
    raise SystemExit(f"the first deploy did not reach {paths} in {timeout} s")


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench_agent needs root: each agent gets its own mount namespace")
    count = int(os.environ.get("BENCH_ALIASES", "500000"))
    url, drop = postgres_db()
    agents: list[subprocess.Popen[bytes]] = []
    try:
        with postfix_work() as (work, conf):
            shared = work / "maps"
            shared.mkdir()
            data = work / "data"
            data.mkdir()
            env = env_for(data, conf)
            env.update(
                ALIASDESK_DATABASE_URL=url,
                ALIASDESK_DEPLOY_MODE="agent",
                ALIASDESK_MAP_DIRS=str(shared),
            )
            src = work / "big.virtual"
            make_map(src, count)
            run([*AD, "migrate", "--verbosity", "0"], env)
            imported = [*AD, "import", str(src), "--domain", "big.example", "--map-file", str(shared / "virtual")]
            t_import, _, _ = run(imported, env)
            agents = [start_agent(n, work / n, shared, env) for n in ("mx1", "mx2")]
            run([*AD, "deploy", "big.example"], env)
            hosts = [work / "mx1" / "virtual", work / "mx2" / "virtual"]
            t_first = wait_for(hosts, conf, "user7@d7.example.com")
            time.sleep(5)  # the agents' spares of the new tables (deploys.standby)
            env_dj = dict(env, DJANGO_SETTINGS_MODULE="aliasdesk.settings")
            paths = ":".join(str(p) for p in hosts)
            out = run([sys.executable, "-c", SAVE_SCRIPT, paths, str(conf), str(SAVES), "1.5"], env_dj)[2].split()
            median, p95, worst, saves = (float(x) for x in out[-4:])
    finally:
        for agent in agents:
            agent.send_signal(signal.SIGTERM)
        for agent in agents:
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
        subprocess.run(drop, capture_output=True)
    rows = [
        (f"import of {count:,} aliases into PostgreSQL (setup)", f"{t_import:.1f} s"),
        ("first deploy, queued and built by both agents at once (full builds)", f"{t_first:.1f} s"),
        (
            f"save one alias with deploy on save until `postmap -q` answers it on both hosts ({int(saves)} saves)",
            f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, worst {worst * 1000:.0f} ms",
            "≤ 2 s",
            "ok" if worst <= 2 else "MISSED",
        ),
    ]
    intro = (
        f"One domain of {count:,} aliases (bench_deploy's map) on PostgreSQL, deploy on save, two agents "
        "(mx1, mx2), each in its own mount namespace so both write the same map path to their own files."
    )
    print_table("Agents: live on every mail host (issue 11)", rows, intro)


if __name__ == "__main__":
    main()
