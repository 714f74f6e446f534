"""dbexport / dbimport of a 500,000-alias database (plus its history) through every engine.

Prints a Markdown section: wall time and peak memory of each command on SQLite →
PostgreSQL → MariaDB → SQLite, and whether every export has the same bytes. Needs the
servers of scripts/test-db.sh (PostgreSQL 127.0.0.1:5432 as postgres, MariaDB
127.0.0.1:3306 as root); BENCH_DBMOVE_ALIASES sets the size.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_deploy import AD, REPO, make_map, peak

COUNT = int(os.environ.get("BENCH_DBMOVE_ALIASES", "500000"))


def _server(kind: str, name: str, drop: bool = False) -> str:
    if kind == "postgres":
        sql = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" if drop else f"CREATE DATABASE {name}"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True)
        return f"postgres://postgres@127.0.0.1:5432/{name}"
    sql = f"DROP DATABASE IF EXISTS {name}" if drop else f"CREATE DATABASE {name} CHARACTER SET utf8mb4"
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-uroot", "-e", sql], check=True)
    return f"mysql://root@127.0.0.1:3306/{name}"


def main() -> None:
    name = f"aliasdesk_bench_{uuid.uuid4().hex[:8]}"
    rows = ["| step | seconds | peak MB | file MB |", "|---|---:|---:|---:|"]
    digests = []
    with tempfile.TemporaryDirectory() as tmp:
        base = dict(os.environ, PYTHONPATH=str(REPO))
        base.pop("ALIASDESK_DATABASE_URL", None)
        envs = {}
        for engine in ("sqlite", "postgres", "mariadb", "sqlite2"):
            env = dict(base, ALIASDESK_DATA_DIR=f"{tmp}/{engine}")
            if engine in ("postgres", "mariadb"):
                env["ALIASDESK_DATABASE_URL"] = _server(engine, name)
            subprocess.run([*AD, "migrate", "--verbosity", "0"], env=env, cwd=REPO, check=True)
            envs[engine] = env
        try:
            src = Path(tmp) / "big.virtual"
            make_map(src, COUNT)
            seconds, _ = peak([*AD, "import", str(src), "--domain", "example.com"], envs["sqlite"])
            rows.append(f"| import of the {COUNT:,}-line map (SQLite, the data to move) | {seconds:.1f} | | |")
            previous = None
            for engine in ("sqlite", "postgres", "mariadb", "sqlite2"):
                if previous is not None:
                    seconds, mb = peak([*AD, "dbimport", str(previous)], envs[engine])
                    rows.append(f"| dbimport into {engine} | {seconds:.1f} | {mb:.0f} | |")
                out = Path(tmp) / f"{engine}.jsonl.gz"
                seconds, mb = peak([*AD, "dbexport", str(out)], envs[engine])
                size = out.stat().st_size / 2**20
                rows.append(f"| dbexport from {engine} (gzip) | {seconds:.1f} | {mb:.0f} | {size:.0f} |")
                digest = hashlib.sha256()  # streamed: a forked child starts with this process's peak memory
                with gzip.open(out, "rb") as unpacked:
                    while block := unpacked.read(1 << 20):
                        digest.update(block)
                digests.append(digest)
                previous = out
        finally:
            _server("postgres", name, drop=True)
            _server("mariadb", name, drop=True)
    same = len({d.hexdigest() for d in digests}) == 1
    print("## dbmove (issue 14)\n")
    print(f"{COUNT:,} aliases and their {COUNT:,} history rows, SQLite → PostgreSQL → MariaDB → SQLite:\n")
    print("\n".join(rows))
    print(f"\nEvery export the same bytes: {'yes' if same else 'NO'}.")


if __name__ == "__main__":
    main()
