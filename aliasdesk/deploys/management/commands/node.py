"""aliasdesk node list; aliasdesk node forget NAME"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from aliasdesk.deploys.nodes import forget_node, node_states


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop("The mail hosts whose agents apply deploys (agent mode): list them, forget one that is gone")

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help=_("each node: alive or down, queued deploys, last report"))
        forget = sub.add_parser("forget", help=_("a host that is gone for good: drop it and what waits for it"))
        forget.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for state in node_states():  # tab-separated, as a script reads them: English in every language
                seen = f"{state.node.last_seen:%Y-%m-%d %H:%M:%S}" if state.node.last_seen else "never reported"
                alive = "alive" if state.alive else "down"
                self.stdout.write(f"{state.node.name}\t{alive}\t{state.queued} queued\t{seen}\t{state.node.agent}")
            return
        try:
            dropped = forget_node(options["name"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(ngettext(
            "forgot %(name)s: %(count)s queued deploy dropped",
            "forgot %(name)s: %(count)s queued deploys dropped",
            dropped,
        ) % {"name": options["name"], "count": dropped})
