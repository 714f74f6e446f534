"""aliasdesk logingest FILE... [--follow]: count new mail-log lines into the traffic counters."""

from __future__ import annotations

import signal
import sys
import time
from argparse import ArgumentParser
from contextlib import ExitStack
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.maillog.ingest import (
    IngestBusy,
    IngestConflict,
    NotALiveLog,
    check_live_log,
    ingest_log,
    prune_counters,
    reader_lock,
)
from aliasdesk.postfix.maillog.lines import LogReadError


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # runs every minute from a timer; `aliasdesk check` runs them
    help = gettext_noop(
        "Read what was added to mail logs since the last run (rotation-aware) into the traffic counters"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help=_("a mail log, e.g. /var/log/mail.log"))
        parser.add_argument(
            "--node", default="", help=_("name of the machine whose logs these are (default: this host)")
        )
        parser.add_argument("--start-at-end", action="store_true",
                            help=_("on the first run of a file, skip what it already holds"))
        parser.add_argument(
            "--follow", action="store_true", help=_("keep running: read again every --interval seconds")
        )
        parser.add_argument("--interval", type=float, default=30.0, help=_("seconds between reads with --follow"))
        parser.add_argument("--quiet", action="store_true", help=_("print nothing when all went well"))
        parser.add_argument("--piece-size", type=int, default=8 << 20, metavar="BYTES",
                            help=_("log bytes counted and stored per transaction (default 8 MiB)"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] <= 0:
            raise CommandError(_("--interval must be more than 0 seconds"))
        if options["piece_size"] < 4096:
            raise CommandError(_("--piece-size must be at least 4096 bytes"))
        try:
            for path in options["files"]:
                check_live_log(path)
        except NotALiveLog as e:
            raise CommandError(str(e)) from None
        if not options["follow"]:
            failures = self._round(options)
            if failures:
                raise CommandError("; ".join(failures))
            return
        self._follow(options)

    def _follow(self, options: dict[str, Any]) -> None:
        """Read every file again and again, holding their reader locks, until SIGTERM or SIGINT."""
        stop: list[int] = []

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.append(signum)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        with ExitStack() as held:  # following a file means being its only reader until stopped
            for path in options["files"]:
                try:
                    held.enter_context(reader_lock(options["node"] or None, path))
                except IngestBusy as e:
                    raise CommandError(str(e)) from None
            while not stop:
                for failure in self._round(options, locked=True):
                    sys.stderr.write(failure + "\n")
                close_old_connections()
                slept = 0.0
                while not stop and slept < options["interval"]:
                    time.sleep(0.2)
                    slept += 0.2

    def _round(self, options: dict[str, Any], *, locked: bool = False) -> list[str]:
        """Read every file once; return the failures as one line each."""
        failures = []
        for path in options["files"]:
            try:
                report = ingest_log(path, node=options["node"] or None, start_at_end=options["start_at_end"],
                                    max_bytes=options["piece_size"], locked=locked)
            except IngestBusy as e:  # not a failure: the run in progress reads these lines
                sys.stderr.write(f"{e}\n")
                continue
            except (IngestConflict, LogReadError) as e:
                failures.append(str(e))
                continue
            if not options["quiet"] or report.notes:
                self.stdout.write(str(report))
        prune_counters()
        return failures
