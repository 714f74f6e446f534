"""Scan one big plain log file with several processes; same result as one sequential pass.

The file is cut into chunks at line boundaries (:func:`~aliasdesk.postfix.maillog.lines.read_chunk`).
Worker processes scan chunks into a :class:`~aliasdesk.postfix.maillog.scan.Tally`
plus the per-message events; this process replays the events and absorbs the
tallies strictly in file order, so every count -- including those that depend
on earlier lines of a message -- equals the sequential one. At most two chunks
per worker are in flight, which keeps memory flat however big the file is.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections import deque
from multiprocessing.pool import AsyncResult

from aliasdesk.postfix.maillog.lines import read_chunk
from aliasdesk.postfix.maillog.scan import Event, line_patterns, scan
from aliasdesk.postfix.maillog.summary import CONTINUE, LogSummary
from aliasdesk.postfix.maillog.tally import Tally

__all__ = ["CHUNK_SIZE", "add_file_parallel"]

CHUNK_SIZE = 2 << 20

_patterns: dict[str, tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {}


def _scan_chunk(path: str, start: int, end: int, syslog_name: str) -> tuple[Tally, list[Event]]:
    patterns = _patterns.get(syslog_name)
    if patterns is None:
        patterns = _patterns[syslog_name] = line_patterns(syslog_name)
    part = Tally()
    events: list[Event] = []
    scan(read_chunk(path, start, end), part, events, patterns)
    return part, events


def add_file_parallel(summary: LogSummary, path: str, jobs: int, chunk_size: int | None = None) -> None:
    """Add a plain (not compressed) log file to ``summary`` using ``jobs`` worker processes."""
    chunk_size = chunk_size or CHUNK_SIZE
    info = os.stat(path)
    ranges = [(start, min(start + chunk_size, info.st_size)) for start in range(0, info.st_size, chunk_size)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    todo = iter(ranges)
    pending: deque[AsyncResult[tuple[Tally, list[Event]]]] = deque()
    with context.Pool(jobs) as pool:

        def submit() -> None:
            for start, end in todo:
                pending.append(pool.apply_async(_scan_chunk, (path, start, end, summary.syslog_name)))
                return

        for _ in range(2 * jobs):
            submit()
        first = True
        while pending:
            part, events = pending.popleft().get()
            submit()
            summary.tracker.replay(events)
            summary.absorb(part, info.st_mtime if first else CONTINUE)
            first = False
    if not ranges:
        summary.absorb(Tally(), info.st_mtime)
