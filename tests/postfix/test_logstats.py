"""``aliasdesk logstats``: the command line, its JSON, its errors, and its inputs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aliasdesk.cli import main as cli_main
from aliasdesk.postfix.maillog import stats as logstats
from aliasdesk.postfix.maillog.summary import TOTALS

REPO = Path(__file__).resolve().parents[2]
REALDATA = REPO.parent / "shared" / "realdata"

LOG = b"""\
Nov  1 02:11:18 conch postfix/pickup[19328]: 30461242EB: uid=0 from=<root>
Nov  1 02:11:18 conch postfix/cleanup[19707]: 30461242EB: message-id=<20151101101118.30461242EB@conch.example>
Nov  1 02:11:18 conch postfix/qmgr[25409]: 30461242EB: from=<root@conch.example>, size=810, nrcpt=1 (queue active)
Nov  1 02:11:19 conch postfix/local[19709]: 30461242EB: to=<root@conch.example>, relay=local, delay=0.5, \
delays=0.1/0/0/0.4, dsn=2.0.0, status=sent (delivered to mailbox)
Nov  1 02:11:19 conch postfix/qmgr[25409]: 30461242EB: removed
Nov  2 09:00:00 conch postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 Service \
unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org; from=<a@spam.test> to=<b@conch.example> \
proto=ESMTP helo=<x>
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = logstats.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "mail.log"
    path.write_bytes(LOG)
    return path


def test_text_report_starts_with_grand_totals(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(log)], capsys)
    assert code == 0
    assert out.startswith("\nGrand Totals\n------------\nmessages\n\n      1   received\n      1   delivered\n")
    assert out.index("Per-Day Traffic Summary") < out.index("Per-Hour Traffic Daily Average")
    assert out.index("Per-Hour") < out.index("Senders by message count") < out.index("message reject detail")
    assert "    Nov  1 " in out and "blocked using zen.spamhaus.org (top 10) (total: 1)" in out


def test_json_holds_the_contract_fields(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(log), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert list(data["totals"]) == TOTALS
    assert all(type(value) is int for value in data["totals"].values())
    assert data["totals"]["received"] == 1 and data["totals"]["rejected"] == 1
    assert data["totals"]["bytes_received"] == data["totals"]["bytes_delivered"] == 810
    assert len(data["per_hour"]) == 24
    assert data["per_hour"][2] == {"hour": 2, "received": 1, "delivered": 1, "deferred": 0, "bounced": 0, "rejected": 0}
    assert [day["date"][5:] for day in data["per_day"]] == ["11-01", "11-02"]
    assert data["per_day"][1]["rejected"] == 1
    assert data["top_senders"] == [{"address": "root@conch.example", "messages": 1, "bytes": 810}]
    assert data["reject_reasons"][0]["reason"] == "blocked using zen.spamhaus.org"


def test_it_reads_gzip_and_several_files_as_one_log(log: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    packed = tmp_path / "mail.log.1.gz"
    packed.write_bytes(gzip.compress(LOG))
    code, out, _ = run([str(packed), str(log), "--json"], capsys)
    assert code == 0
    totals = json.loads(out)["totals"]
    assert (totals["received"], totals["rejected"], totals["bytes_received"]) == (2, 2, 810)  # the id is reused


def test_it_reads_standard_input(log: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aliasdesk", "logstats", "-", "--json"],
        input=gzip.compress(LOG), capture_output=True, cwd=REPO, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["delivered"] == 1


def test_it_runs_without_django(log: Path) -> None:
    code = (
        "import sys; from aliasdesk.cli import main; rc = main(['logstats', sys.argv[1]]); "
        "assert 'django' not in sys.modules, 'django imported'; raise SystemExit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_aliasdesk_command_dispatches_to_logstats(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["logstats", str(log), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["received"] == 1


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["/nonexistent/mail.log"], "/nonexistent/mail.log: no such file"),
        (["/"], "/: is a directory"),
        ([], "the following arguments are required: FILE"),
        (["--top", "many", "x"], "argument --top: invalid int value: 'many'"),
        (["-", "-"], "standard input (-) can be read only once"),
    ],
)
def test_failures_give_one_line_and_a_nonzero_exit(argv: list[str], reason: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code != 0
    assert (out, err) == ("", f"aliasdesk logstats: {reason}\n")


def test_it_reads_a_pipe_like_process_substitution(log: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", f'{sys.executable} -m aliasdesk logstats <(gzip -c "{log}") --json'],
        capture_output=True, cwd=REPO, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["received"] == 1


def test_it_stops_quietly_when_the_reader_goes_away(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    path.write_bytes(b"".join(
        b"Nov  1 02:11:19 conch postfix/local[9]: %X: to=<user%d@example.org>, relay=local, delay=1, "
        b"status=sent (ok)\n" % (n + 0x100000, n) for n in range(4000)
    ))  # a report far bigger than a pipe holds
    command = f'{sys.executable} -m aliasdesk logstats --top 0 "{path}" | head -c 9 >/dev/null; exit ${{PIPESTATUS[0]}}'
    done = subprocess.run(["bash", "-c", command], capture_output=True, cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0 and done.stderr == b""


def test_default_processes_stay_within_cpus() -> None:
    assert 1 <= logstats.default_jobs() <= max(1, min(4, os.cpu_count() or 1))


def test_a_corrupt_gzip_file_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mail.log.2.gz"
    packed = gzip.compress(b"".join(b"Nov  1 02:11:%02d x postfix/qmgr[1]: %X: removed\n" % (n % 60, n)
                                    for n in range(30000)))
    path.write_bytes(packed[: len(packed) // 2])
    code, _, err = run([str(path)], capsys)
    assert code == 1
    assert err.startswith(f"aliasdesk logstats: {path}: ") and err.count("\n") == 1


def test_big_files_are_scanned_in_parallel_with_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    logs = sorted((REALDATA / "logs").glob("*.log"))
    if not logs:
        pytest.skip(f"{REALDATA / 'logs'} is absent: the real logs live in ../shared/realdata")
    path = tmp_path / "all.log"
    path.write_bytes(b"".join(p.read_bytes() for p in logs))
    _, sequential, _ = run([str(path), "--json", "--jobs", "1"], capsys)
    monkeypatch.setattr(logstats, "PARALLEL_MIN_SIZE", 0)
    monkeypatch.setattr("aliasdesk.postfix.maillog.parallel.CHUNK_SIZE", 1 << 20)
    _, parallel, _ = run([str(path), "--json", "--jobs", "2"], capsys)
    assert json.loads(parallel) == json.loads(sequential)
