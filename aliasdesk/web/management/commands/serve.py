"""aliasdesk serve [--bind HOST:PORT] [--workers N]: the web service under gunicorn."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


def exec_gunicorn(bind: str, workers: int) -> None:
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
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ]
    sys.stdout.flush()
    os.execv(sys.executable, args)


class Command(BaseCommand):
    help = "Serve the web application with gunicorn"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        exec_gunicorn(options["bind"], options["workers"])
