"""aliasdesk rollback DOMAIN --to-deploy ID [--dry-run]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts.channel import via
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Domain
from aliasdesk.deploys import rollback


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Make a domain's aliases (and header and footer) as they were at one of its deploys"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")
        parser.add_argument("--to-deploy", type=int, required=True, metavar="ID", help="the deploy (see its page)")
        parser.add_argument("--dry-run", action="store_true", help="print the diff and the counts; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["domain"].strip().rstrip(".").lower()
        domain = Domain.objects.filter(name=name, deleted_at__isnull=True).first()
        if domain is None:
            raise CommandError(f"no domain {options['domain']}")
        try:
            deploy = rollback.rollback_target(domain, options["to_deploy"])
            if options["dry_run"]:
                plan = rollback.preview_rollback(domain, deploy, None)
                self.stdout.write(rollback.rollback_diff(plan), ending="")
            else:
                with via("CLI"):
                    plan = rollback.apply_rollback(domain, deploy, None)
        except (AliasError, PermissionDenied) as exc:
            raise CommandError(str(exc)) from exc
        if plan.empty:
            self.stdout.write(f"{domain.name}: already as of {plan.point.label}; nothing to do")
            return
        same = " (the same text it installed)" if rollback.same_as_deployed(plan, deploy) else ""
        if options["dry_run"]:
            self.stdout.write(f"{domain.name}: rolling back to {plan.point.label}{same} would make {plan.summary()}")
        else:
            self.stdout.write(
                f"{domain.name}: rolled back to {plan.point.label}{same}: {plan.summary()}; deploy to install it"
            )
        for note in plan.notes:
            self.stderr.write(f"note: {note}")
