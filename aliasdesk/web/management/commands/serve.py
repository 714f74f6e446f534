"""aliasdesk serve [--bind HOST:PORT] [--workers N] [--threads N]: the web service under gunicorn.

Workers are gthread workers: a worker's main thread keeps telling gunicorn it is alive while
its threads serve, so a long download (a 500,000-alias XLSX, a year of audit log) runs to its
end instead of being killed at the worker timeout, which a sync worker applies to each whole
request. The timeout still catches a worker that hangs.

Connections are not kept alive after a response (``--keep-alive 0``): a gthread worker keeps
a kept-alive connection to itself, so a few busy clients could pin their requests to one
worker while the other idles; closed after each response, every request goes to whichever
worker takes it first. Behind the proxy README describes (nginx talks HTTP/1.0 to its
upstream by default) nothing changes: the proxy opens a connection per request anyway.
"""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

THREADS = 4
TIMEOUT = 30


def exec_gunicorn(bind: str, workers: int, threads: int = THREADS) -> None:
    """Replace this process with gunicorn serving aliasdesk (static files through whitenoise)."""
    call_command("collectstatic", interactive=False, verbosity=0)
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "aliasdesk.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        str(TIMEOUT),
        "--keep-alive",
        "0",
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ]
    sys.stdout.flush()
    os.execv(sys.executable, args)


class Command(BaseCommand):
    help = gettext_noop("Serve the web application with gunicorn")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=THREADS, help=_("threads per worker (gthread)"))

    def handle(self, *args: Any, **options: Any) -> None:
        exec_gunicorn(options["bind"], options["workers"], options["threads"])
