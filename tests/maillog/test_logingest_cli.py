"""`aliasdesk logingest` as a command: every engine, restarts, kill -9 at random moments."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aliasdesk.postfix.maillog.summary import LogSummary
from tests.conftest import REALDATA, realdata
from tests.test_cli import CLI, REPO, cli  # noqa: F401  (the fixture)

FIELDS = ["received", "delivered", "forwarded", "deferrals", "bounced", "rejected", "reject_warnings", "held",
          "discarded"]
TOTALS = (
    "from django.db.models import Sum; import json; from aliasdesk.maillog.models import HostHour, LogSource; "
    f"print(json.dumps({{**HostHour.objects.aggregate(**{{f: Sum(f) for f in {FIELDS!r}}}), "
    "'lines': sum(s.lines for s in LogSource.objects.all())}))"
)


USAGE = (
    "import json; from aliasdesk.maillog.models import AliasUsage, AliasDay; from django.db.models import Sum; "
    "print(json.dumps({u.alias.key: [u.received, u.delivered, u.deferred, u.bounced, "
    "AliasDay.objects.filter(alias=u.alias).aggregate(n=Sum('delivered'))['n'], u.last_seen.strftime('%d %H:%M:%S')] "
    "for u in AliasUsage.objects.select_related('alias')}))"
)


def direct_counts(path: Path, keys: list[str]) -> dict[str, list[object]]:
    """What the log says for each address, counted naively: distinct queue ids and status lines."""
    found: dict[str, list[object]] = {}
    for key in keys:
        qids, sent, deferred, bounced, last = set(), 0, 0, 0, ""
        for line in path.read_text(errors="replace").splitlines():
            if f"to=<{key}>" not in line.lower() or " status=" not in line:
                continue
            if "orig_to=<" in line and f"orig_to=<{key}>" not in line.lower():
                continue
            qids.add(line.split(": ")[1])
            sent += " status=sent " in line
            deferred += " status=deferred " in line
            bounced += " status=bounced " in line
            last = f"{int(line[4:6]):02d} {line[7:15]}"
        if qids:
            found[key] = [len(qids), sent, deferred, bounced, sent, last]
    return found


def totals(run: CLI) -> dict[str, int]:
    return json.loads(run("shell", "--no-imports", "-c", TOTALS).stdout.strip().splitlines()[-1])


def expected(path: Path) -> dict[str, int]:
    summary = LogSummary()
    summary.add_file(path)
    return {f: summary.totals[f] for f in FIELDS}


def test_logingest_resumes_across_runs_and_rotation_on_every_engine(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    lines = realdata("logs", "kdent-mail3.log").read_bytes().splitlines(keepends=True)
    (tmp_path / "virtual").write_text("kdent@seaglass.com kdent@example.org\nriley@seaglass.com riley@example.org\n")
    cli("import", str(tmp_path / "virtual"), "--domain", "seaglass.com")
    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(lines[:1000]) + lines[1000][:20])  # ends in a partly written line
    first = cli("logingest", str(log))
    assert first.stdout.startswith(f"{log}: 1000 new lines")
    with log.open("ab") as f:
        f.write(lines[1000][20:] + b"".join(lines[1001:3000]))
    os.rename(log, tmp_path / "mail.log.1")
    log.write_bytes(b"".join(lines[3000:]))
    second = cli("logingest", str(log))
    assert "rotated" in second.stdout
    cli("logingest", str(log), "--quiet")
    got = totals(cli)
    assert got.pop("lines") == len(lines)
    assert got == expected(realdata("logs", "kdent-mail3.log"))
    usage = json.loads(cli("shell", "--no-imports", "-c", USAGE).stdout.strip().splitlines()[-1])
    assert usage == direct_counts(realdata("logs", "kdent-mail3.log"), ["kdent@seaglass.com", "riley@seaglass.com"])


def test_missing_file_is_one_line_and_exit_code(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    proc = cli("logingest", str(tmp_path / "nope.log"), ok=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0
    assert "nope.log" in proc.stderr and "No such file" in proc.stderr


@pytest.mark.skipif(not (REALDATA / "logs").exists(), reason="../shared/realdata is absent")
def test_kill_9_at_random_moments_never_counts_a_line_twice(tmp_path: Path) -> None:
    big = tmp_path / "mail.log"
    with big.open("wb") as out:
        for _ in range(12):  # ~530,000 lines: several seconds of work to interrupt
            for path in sorted((REALDATA / "logs").glob("*.log")):
                out.write(path.read_bytes())
    env = {**os.environ, "ALIASDESK_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALIASDESK_DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = CLI(env)
    run("migrate", "--verbosity", "0")
    command = [sys.executable, "-m", "aliasdesk", "logingest", str(big), "--piece-size", "65536", "--quiet"]
    rng = random.Random(5)
    kills = 0
    for _ in range(40):
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.5, 1.2))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    run("logingest", str(big), "--quiet")
    assert kills >= 3, "the log was read before any kill: make it bigger"
    got = totals(run)
    assert got.pop("lines") == big.read_bytes().count(b"\n")
    assert got == expected(big)


def test_follow_reads_new_lines_as_they_come_and_stops_on_sigterm(tmp_path: Path) -> None:
    lines = realdata("logs", "nole-mail.log").read_bytes().splitlines(keepends=True)
    env = {**os.environ, "ALIASDESK_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALIASDESK_DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = CLI(env)
    run("migrate", "--verbosity", "0")
    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(lines[:500]))
    follower = subprocess.Popen(
        [sys.executable, "-m", "aliasdesk", "logingest", str(log), "--follow", "--interval", "0.3", "--quiet"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while totals(run)["lines"] != 500 and time.monotonic() < deadline:
            time.sleep(0.3)
        busy = run("logingest", str(log))  # the follower holds the file: not a failure
        assert "another logingest is reading this file" in busy.stderr
        with log.open("ab") as f:
            f.write(b"".join(lines[500:]))
        while totals(run)["lines"] != len(lines) and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        follower.send_signal(signal.SIGTERM)
        _out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    got = totals(run)
    assert got.pop("lines") == len(lines)
    assert got == expected(realdata("logs", "nole-mail.log"))
