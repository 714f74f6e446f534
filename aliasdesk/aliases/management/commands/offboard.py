"""aliasdesk offboard OLD (--replace NEW | --remove) [--switch-off-empty] [--dry-run] [--as USER] [--json]"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts.channel import via
from aliasdesk.accounts.command import acting_user, one_line
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.offboard import Offboarding, OffboardRefused, offboard


class Command(BaseCommand):
    help = "Replace a destination by another, or remove it, in every alias (all of them or none)"
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("old", help="the destination to take out, e.g. bob@example.org")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--replace", metavar="NEW", help="put NEW in its place")
        what.add_argument("--remove", action="store_true", help="remove it")
        parser.add_argument(
            "--switch-off-empty", action="store_true", help="switch off aliases left without destinations"
        )
        parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        parser.add_argument("--as", dest="as_user", metavar="USER", help="act with exactly this user's rights")
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        user = acting_user(options["as_user"])
        try:
            with via("CLI"):
                done = offboard(
                    user,
                    options["old"],
                    options["replace"],
                    switch_off_empty=options["switch_off_empty"],
                    dry_run=options["dry_run"],
                )
        except OffboardRefused as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"detail": str(exc), "plan": exc.plan.to_dict()}, indent=2))
            else:
                self._print(exc.plan)
            raise CommandError(one_line(exc)) from exc
        except (AliasError, PermissionDenied) as exc:
            raise CommandError(one_line(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(done.to_dict(), ensure_ascii=False, indent=2))
            return
        self._print(done)

    def _print(self, plan: Offboarding) -> None:
        """One line per alias (domain, key, before → after or why not), then the summary."""
        for item in plan.items:
            before = ", ".join(item.before)
            if item.outcome == "change":
                self.stdout.write(f"{item.domain}\t{item.key}\t{before} → {', '.join(item.after)}")
            elif item.outcome == "switch off":
                self.stdout.write(f"{item.domain}\t{item.key}\t{before} → switched off")
            elif item.outcome == "skipped":
                self.stdout.write(f"{item.domain}\t{item.key}\tskipped: {item.reason}")
            else:
                self.stdout.write(f"{item.domain}\t{item.key}\trefused: no destination would be left")
        verb = "changed" if plan.applied else "would change"
        self.stdout.write(
            f"{plan.reason}: {verb} {len(plan.changes)} alias(es) in {len(plan.domains)} domain(s), "
            f"{len(plan.skipped)} skipped, {len(plan.refused)} refused"
        )
        for deploy in plan.deploys:
            note = "deployed on save" if deploy.deploy_on_save else f"deploy it: aliasdesk deploy {deploy.domain}"
            self.stdout.write(f"{deploy.domain}: {note}")
