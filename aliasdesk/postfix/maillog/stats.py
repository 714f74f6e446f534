"""``aliasdesk logstats FILE... [--json]``: pflogsumm's summary of Postfix mail logs.

FILE may be ``-`` for standard input and may be gzip-compressed. Logs are read
in the order given, as one stream (oldest first, as with pflogsumm). A big
plain file is scanned by several processes (``--jobs``); the result does not
depend on it. Runs without Django.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import NoReturn

from aliasdesk.postfix.maillog.lines import LogReadError, is_gzip_file
from aliasdesk.postfix.maillog.queue import QUEUE_MEMORY
from aliasdesk.postfix.maillog.report import as_dict, render_text
from aliasdesk.postfix.maillog.summary import LogSummary

__all__ = ["main"]

PARALLEL_MIN_SIZE = 32 << 20


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"aliasdesk logstats: {message}\n")


def _arguments() -> argparse.ArgumentParser:
    parser = _Parser(prog="aliasdesk logstats", description="Summarise Postfix mail logs like pflogsumm.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="a log file, a .gz file, or - for standard input")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of the text report")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="entries per list (0: all; default 10)")
    parser.add_argument(
        "--syslog-name", default="postfix", metavar="NAME", help="also count lines of this Postfix instance"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="processes for a big plain file (default: idle CPUs, at most 4)",
    )
    parser.add_argument(
        "--queue-memory", type=int, default=QUEUE_MEMORY, metavar="N",
        help=f"messages remembered in flight and after removal (default {QUEUE_MEMORY})",
    )
    return parser


def default_jobs() -> int:
    """Processes worth starting for a big file: the CPUs idle right now, 1 to 4.

    Scanning in chunks costs about a quarter more CPU in all (results travel
    between processes), so it only pays when CPUs have nothing else to do; on
    a busy machine one process finishes first. "Idle right now" is read from
    /proc/stat over a tenth of a second (the load average lags by minutes);
    elsewhere the load average stands in.
    """
    cpus = os.cpu_count() or 1
    idle = _idle_cpus(cpus)
    if idle is None:
        try:
            idle = cpus - os.getloadavg()[0]
        except OSError:
            idle = float(cpus)
    return max(1, min(4, cpus, int(idle + 0.5)))


def _idle_cpus(cpus: int, interval: float = 0.1) -> float | None:
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait

    try:
        total1, idle1 = sample()
        time.sleep(interval)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total2 <= total1:
        return None
    return cpus * (idle2 - idle1) / (total2 - total1)


def summarize(files: list[str], *, syslog_name: str = "postfix", jobs: int | None = 1,
              queue_memory: int = QUEUE_MEMORY) -> LogSummary:
    """Read the logs in order into one summary; raises LogReadError for a file that cannot be read.

    ``jobs=None``: as many processes as CPUs are idle, decided when a file is big enough to split.
    """
    summary = LogSummary(syslog_name=syslog_name, queue_memory=queue_memory)
    for path in files:
        if path != "-" and not os.path.exists(path):
            raise LogReadError(f"{path}: no such file")
        if os.path.isdir(path):
            raise LogReadError(f"{path}: is a directory")
        big = os.path.isfile(path) and os.path.getsize(path) >= PARALLEL_MIN_SIZE and not is_gzip_file(path)
        if big and jobs is None:
            jobs = default_jobs()
        if big and jobs is not None and jobs > 1:
            from aliasdesk.postfix.maillog.parallel import add_file_parallel

            add_file_parallel(summary, path, jobs)
        else:
            summary.add_file(path)
    return summary


def main(argv: list[str]) -> int:
    try:
        args = _arguments().parse_args(argv)
    except SystemExit as e:  # argparse has printed the one-line reason (or the --help text)
        return e.code if isinstance(e.code, int) else 2
    if args.files.count("-") > 1:
        print("aliasdesk logstats: standard input (-) can be read only once", file=sys.stderr)
        return 2
    try:
        jobs = None if args.jobs is None else max(args.jobs, 1)
        summary = summarize(args.files, syslog_name=args.syslog_name, jobs=jobs, queue_memory=max(args.queue_memory, 1))
    except (LogReadError, OSError) as e:
        print(f"aliasdesk logstats: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        output = (json.dumps(as_dict(summary, args.top), indent=2) + "\n").encode()
    else:
        output = render_text(summary, args.top)
    try:
        sys.stdout.buffer.write(output)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
