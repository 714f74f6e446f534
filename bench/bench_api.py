"""API benchmarks over HTTP against `aliasdesk serve --workers 2` (SQLite), one client.

Builds one domain of 500,000 aliases (`aliasdesk import`), makes an admin token
(`aliasdesk token create`), then measures in the same run:
- list/search: p50 and p95 of GET /api/v1/domains/{name}/aliases?q=… (words taken from keys
  and destinations, some without hits, some short, some pages past the first), the whole
  round trip as the client sees it;
- creations: POST /api/v1/domains/{name}/aliases one after the other, aliases per second,
  then the history of a sample checked (one "created" record each, by the token's user,
  "via API");
- bulk: POST …/aliases/bulk-create of 10,000 aliases into a new domain, against
  `aliasdesk import` of the same 10,000 lines into another one.

Prints a Markdown section. Targets (issue 12): list/search p95 at most 100 ms on the
500,000-alias domain; at least 50 creations per second; the bulk request at most 3x the
command-line import.

    .venv/bin/python bench/bench_api.py     # BENCH_ALIASES (500000), BENCH_QUERIES (300),
                                            # BENCH_CREATES (500), BENCH_BULK (10000)
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench_web import AD, BIG, big_map_lines, env_for, run, served

BULK_DOMAIN, IMPORT_DOMAIN = "bulk.example", "import.example"


def call(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/api/v1/{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def queries_from(lines: list[str], n: int, seed: int = 12) -> list[tuple[str, int]]:
    """(q, page): words of keys and destinations, like the web benchmark's, and a few pages on."""
    rng = random.Random(seed)
    entries = [line.split(None, 1) for line in lines if line.strip() and not line.startswith("#")]
    found: list[tuple[str, int]] = []
    while len(found) < n:
        key, dests = rng.choice(entries)
        local = key.partition("@")[0]
        first, _, rest = local.partition(".")
        dest = dests.split(",")[0].strip()
        kind = rng.random()
        if kind < 0.08:
            q = rng.choice(["zq" + str(rng.randint(100, 999)) + "nohit", "nobody@nowhere.invalid"])
        elif kind < 0.12:
            q = rng.choice(["an", "ko", "13", ""])
        else:
            pool = [key, local, first, rest.rstrip("0123456789"), dest, dest.partition("@")[2]]
            q = " ".join(rng.choice([w for w in pool if w]) for _ in range(rng.choice([1, 1, 2])))
        found.append((q, rng.choice([1, 1, 1, 2, 5])))
    return found


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(0.95 * len(values)) - 1)]


def ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def main() -> None:
    n_aliases = int(os.environ.get("BENCH_ALIASES", "500000"))
    n_queries = int(os.environ.get("BENCH_QUERIES", "300"))
    n_creates = int(os.environ.get("BENCH_CREATES", "500"))
    n_bulk = int(os.environ.get("BENCH_BULK", "10000"))
    with tempfile.TemporaryDirectory(prefix="aliasdesk-bench-api-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        env = env_for(work / "data", None)
        env["ALIASDESK_MAP_DIR"] = str(work / "maps")
        (work / "maps").mkdir()
        lines = big_map_lines(n_aliases)
        big_map = work / "big.map"
        big_map.write_text("".join(lines))
        run([*AD, "migrate", "--verbosity", "0"], env)
        run([*AD, "import", str(big_map), "--domain", BIG], env)
        run([*AD, "user", "add", "bench", "--role", "admin", "--password-stdin"], env, stdin="bench-password-1234\n")
        token = run([*AD, "token", "create", "bench"], env).split()[-1]
        for name in (BULK_DOMAIN, IMPORT_DOMAIN):
            run([*AD, "domain", "add", name], env)

        with served(env) as (base, _server):
            result = measure(base, token, lines, n_queries, n_creates, n_bulk, env, work)
    report(result, n_aliases)


def measure(
    base: str, token: str, lines: list[str], n_queries: int, n_creates: int, n_bulk: int,
    env: dict[str, str], work: Path,
) -> dict[str, Any]:
    queries = queries_from(lines, n_queries)
    for q, page in queries[:20]:  # warm both workers
        call(base, token, "GET", f"domains/{BIG}/aliases?" + urllib.parse.urlencode({"q": q, "page": page}))
    times, hits = [], []
    for q, page in queries:
        start = time.perf_counter()
        path = f"domains/{BIG}/aliases?" + urllib.parse.urlencode({"q": q, "page": page})
        status, body = call(base, token, "GET", path)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, (status, body)
        hits.append(len(body["results"]))

    start = time.perf_counter()
    created = []
    for n in range(n_creates):
        status, body = call(base, token, "POST", f"domains/{BIG}/aliases",
                            {"key": f"api-new-{n}@{BIG}", "destinations": [f"someone{n}@mail.corp.example"],
                             "comment": f"API-{n}"})
        assert status == 201, (status, body)
        created.append(body["id"])
    creates_s = time.perf_counter() - start
    history_ok = True
    for alias_id in random.Random(3).sample(created, min(20, len(created))):
        status, history = call(base, token, "GET", f"domains/{BIG}/aliases/{alias_id}/history")
        history_ok &= status == 200 and len(history) == 1 and history[0]["type"] == "+"
        history_ok &= history[0]["user"] == "bench" and "via API" in history[0]["reason"]

    bulk_lines = [
        f"bulk{n}@{{d}}\tperson{n}@mail.corp.example, team{n % 50}@lists.example.org\n" for n in range(n_bulk)
    ]
    items = [{"key": f"bulk{n}@{BULK_DOMAIN}",
              "destinations": [f"person{n}@mail.corp.example", f"team{n % 50}@lists.example.org"]}
             for n in range(n_bulk)]
    start = time.perf_counter()
    status, body = call(base, token, "POST", f"domains/{BULK_DOMAIN}/aliases/bulk-create", {"aliases": items})
    bulk_s = time.perf_counter() - start
    assert status == 201 and body["added"] == n_bulk, (status, str(body)[:500])
    import_file = work / "bulk.map"
    import_file.write_text("".join(line.replace("{d}", IMPORT_DOMAIN) for line in bulk_lines))
    start = time.perf_counter()
    run([*AD, "import", str(import_file), "--domain", IMPORT_DOMAIN], env)
    import_s = time.perf_counter() - start
    return {
        "n": len(times), "p50": statistics.median(times), "p95": p95(times), "max": max(times),
        "no_hits": sum(1 for h in hits if h == 0),
        "creates": n_creates, "creates_per_s": n_creates / creates_s, "history_ok": history_ok,
        "bulk": n_bulk, "bulk_s": bulk_s, "import_s": import_s,
    }


def report(r: dict[str, Any], n_aliases: int) -> None:
    ratio = r["bulk_s"] / r["import_s"]
    print(f"One client over HTTP against `aliasdesk serve --workers 2` on SQLite; {n_aliases:,} aliases "
          "in the searched domain.")
    print()
    print("| measure | result | target | |")
    print("|---|---|---|---|")
    print(f"| list/search p95 ({r['n']} requests, {r['no_hits']} without hits) | {r['p95']:.0f} ms "
          f"(p50 {r['p50']:.0f} ms, max {r['max']:.0f} ms) | ≤ 100 ms | {ok(r['p95'] <= 100)} |")
    print(f"| creations, one after the other ({r['creates']}) | {r['creates_per_s']:.0f} /s, history "
          f"{'intact' if r['history_ok'] else '**missing**'} | ≥ 50 /s | "
          f"{ok(r['creates_per_s'] >= 50 and r['history_ok'])} |")
    print(f"| bulk-create of {r['bulk']:,} aliases | {r['bulk_s']:.2f} s vs `aliasdesk import` "
          f"{r['import_s']:.2f} s ({ratio:.2f}x) | ≤ 3x | {ok(ratio <= 3)} |")


if __name__ == "__main__":
    main()
