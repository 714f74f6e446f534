"""Instant deploys (issue 10), measured against bare postmap in the same run.

Targets:
- one alias changed in a 500,000-alias domain, whole ``aliasdesk deploy`` command (start
  included): at most 0.4x one full bare ``postmap hash:`` build of the same file, for a hash
  map and for an lmdb map;
- saving one alias in that domain with deploy on save: p95 server time at most 250 ms;
- full first deploy at most 2x bare ``postmap hash:``, also where every value is one short
  address (where postmap is fastest); no-op redeploy at most 0.5 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_deploy import AD, best, env_for, make_map, postfix_work, postmap_time, print_table, run

CHANGE = (
    "from aliasdesk.aliases.models import Alias; from aliasdesk.aliases.services import update_alias; "
    "a = Alias.objects.get(key='{key}'); update_alias(a, version=a.version, destinations='{dest}')"
)
LAST = (
    "from aliasdesk.deploys.models import Deploy; d = Deploy.objects.order_by('-id')[0]; "
    "print(d.status, d.method, repr(d.why_full))"
)

SAVE_SCRIPT = """
import statistics, sys, time
import django
django.setup()
from django.test import Client
from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.deploys.models import Deploy
Domain.objects.update(deploy_on_save=True)
user, _ = User.objects.get_or_create(username="bench", defaults={"role": User.Role.ADMIN, "is_staff": True})
client = Client(SERVER_NAME="testserver")
client.force_login(user)
times = []
pause, first = float(sys.argv[2]), int(sys.argv[3])
for n in range(int(sys.argv[1])):
    time.sleep(pause)
    alias = Alias.objects.get(key=f"user{first + n}@d{(first + n) % 97}.example.com")
    data = {"key": alias.key, "destinations": f"saved{n}@example.org", "enabled": "on", "version": alias.version}
    start = time.perf_counter()
    response = client.post(f"/domains/big.example/aliases/{alias.pk}/edit", data, HTTP_HX_REQUEST="true")
    times.append(time.perf_counter() - start)
    assert response.status_code == 200 and b"saved and deployed" in response.content, response.content[-400:]
Domain.objects.update(deploy_on_save=False)
methods = list(Deploy.objects.order_by("-id").values_list("method", flat=True)[: len(times)])
times.sort()
print(statistics.median(times), times[int(0.95 * (len(times) - 1) + 0.5)], methods.count("patch"), len(times))
"""


def short_map(path: Path, count: int) -> None:
    """The shape postmap is fastest on: every value one short address."""
    with open(path, "w") as fh:
        for i in range(count):
            fh.write(f"user{i}@d{i % 97}.example.com\tu{i}@m.example\n")


def setup(work: Path, conf: Path, name: str, count: int, map_type: str, shape: str) -> tuple[dict[str, str], Path]:
    data = work / name
    data.mkdir()
    env = env_for(data, conf)
    env["ALIASDESK_MAP_TYPE"] = map_type
    src = work / f"{name}.src"
    (short_map if shape == "short" else make_map)(src, count)
    run([*AD, "migrate", "--verbosity", "0"], env)
    run([*AD, "import", str(src), "--domain", "big.example", "--map-file", str(data / "virtual")], env)
    return env, data / "virtual"


TO_LMDB = (
    "from django.db.models import F; from aliasdesk.aliases.models import Domain; "
    "Domain.objects.update(map_type='lmdb', serial=F('serial') + 1, rebuild_serial=F('serial') + 1)"
)


def patch_rows(
    env: dict[str, str], path: Path, conf: Path, map_type: str, first: int
) -> list[tuple[str, ...]]:
    """One alias changed, then ``aliasdesk deploy``: five times, each must be a patch."""
    if map_type == "lmdb":  # the same domain, now an lmdb map: one full build first
        run([*AD, "shell", "-c", TO_LMDB], env)
    run([*AD, "deploy", "big.example"], env)
    t_pm = postmap_time(path, "hash", conf)
    os.sync()
    times = []
    for n in range(first, first + 5):
        key = f"user{1000 + n}@d{(1000 + n) % 97}.example.com"
        run([*AD, "shell", "-c", CHANGE.format(key=key, dest=f"changed{n}@example.org")], env)
        t, _, _ = run([*AD, "deploy", "big.example"], env)
        last = run([*AD, "shell", "-c", LAST], env)[2].strip().splitlines()[-1].split()
        if last[:2] != ["ok", "patch"]:
            raise SystemExit(f"expected a patch deploy, got {last}")
        times.append(t)
    t_patch = statistics.median(times)
    rows = [
        (f"`postmap hash:` on the same file (reference, before the {map_type} runs)", f"{t_pm:.2f} s", "", ""),
        (
            f"`aliasdesk deploy`, one alias changed, {map_type} map (median of 5, all patches)",
            f"{t_patch:.2f} s = {t_patch / t_pm:.2f}× postmap hash",
            "≤ 0.4×",
            "ok" if t_patch <= 0.4 * t_pm else "MISSED",
        ),
    ]
    if map_type == "hash":
        env_dj = dict(env, DJANGO_SETTINGS_MODULE="aliasdesk.settings", ALIASDESK_ALLOWED_HOSTS="testserver")
        # A person saves a change every few seconds at most (the target); saves one right
        # after the other wait for the spare table the previous one left copying (shown).
        for pause, first, how in ((1.0, 2000, "a second apart"), (0.0, 3000, "back to back")):
            out = run([sys.executable, "-c", SAVE_SCRIPT, "40", str(pause), str(first)], env_dj)[2].split()
            median, p95, patches, saves = float(out[-4]), float(out[-3]), int(out[-2]), int(out[-1])
            rows.append(
                (
                    f"save one alias with deploy on save, {how}: server time ({saves} saves, {patches} patches)",
                    f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms",
                    "p95 ≤ 250 ms" if pause else "(shown)",
                    ("ok" if p95 <= 0.25 else "MISSED") if pause else "",
                )
            )
        noops = [run([*AD, "deploy", "big.example"], env)[0] for _ in range(5)]
        t_noop = best(noops)
        verdict = "ok" if t_noop <= 0.5 else "MISSED"
        rows.append(("no-op redeploy, whole command (best of 5)", f"{t_noop:.2f} s", "≤ 0.5 s", verdict))
    return rows


def full_rows(work: Path, conf: Path, count: int) -> list[tuple[str, ...]]:
    env, path = setup(work, conf, "full-short", count, "hash", "short")
    os.sync()  # the import's writes reach the disk before the deploy is timed, not during it
    start = time.perf_counter()
    run([*AD, "deploy", "big.example"], env)
    t_first = time.perf_counter() - start
    # Two forced deploys do the same work again (render, check and build all 500,000): best
    # of the three, as postmap's reference is its best of three.
    forced = [run([*AD, "deploy", "--force", "big.example"], env)[0] for _ in range(2)]
    t_best = best([t_first, *forced])
    t_pm = postmap_time(path, "hash", conf)
    return [
        (f"`postmap hash:` on {count:,} aliases of one short address each (reference, best of 3)", f"{t_pm:.2f} s"),
        ("first `aliasdesk deploy` of that domain (full build)", f"{t_first:.2f} s = {t_first / t_pm:.2f}× postmap"),
        (
            "full build, best of the first deploy and two `deploy --force`",
            f"{t_best:.2f} s = {t_best / t_pm:.2f}× postmap",
            "≤ 2×",
            "ok" if t_best <= 2 * t_pm else "MISSED",
        ),
    ]


def main() -> None:
    count = int(os.environ.get("BENCH_ALIASES", "500000"))
    with postfix_work() as (work, conf):
        env, path = setup(work, conf, "patch", count, "hash", "long")
        rows = patch_rows(env, path, conf, "hash", 0) + patch_rows(env, path, conf, "lmdb", 100)
        rows += full_rows(work, conf, count)
    intro = (
        f"One domain of {count:,} aliases (bench_deploy's map: two destinations each), first as a hash map, "
        "then as an lmdb map; then a second domain whose every value is one short address."
    )
    print_table("Instant deploys (issue 10)", rows, intro)


if __name__ == "__main__":
    main()
