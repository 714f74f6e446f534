"""aliasdesk webhooks [--once]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from aliasdesk.webhooks.worker import Worker, send_due


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop("Send the webhook deliveries that are due (with --once: those due now, then exit)")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help=_("send what is due now, then exit"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            sent = send_due()  # failed attempts are recorded for a retry; they do not fail the command
            if sent:
                self.stdout.write(ngettext("%(count)s attempt made", "%(count)s attempts made", sent) % {"count": sent})
            return
        Worker(report=lambda line: self.stdout.write(line)).run_forever()
