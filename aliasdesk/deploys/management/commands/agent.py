"""aliasdesk agent [--once] [--node NODE]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.deploys.agent import Agent


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop(
        "Apply the deploys queued for this mail host (agent mode); run it as the user that owns the maps"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help=_("apply what is queued now, then exit"))
        parser.add_argument("--node", default="", help=_("this host's node name (default: ALIASDESK_NODE)"))

    def handle(self, *args: Any, **options: Any) -> None:
        node = (options["node"] or settings.NODE).strip()
        if not node or any(ch.isspace() for ch in node):
            raise CommandError(_("a node name is one word, not %(node)s") % {"node": repr(node)})
        agent = Agent(node, report=lambda line: self.stdout.write(line))
        if options["once"]:
            agent.heartbeat(force=True)
            agent.last_expiry = 0.0
            agent.round()  # each outcome is recorded (and printed); failed deploys do not fail the command
            return
        agent.run_forever()
