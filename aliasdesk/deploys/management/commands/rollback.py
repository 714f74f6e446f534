"""aliasdesk rollback DOMAIN --to-deploy ID [--dry-run]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.accounts.channel import via
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Domain
from aliasdesk.deploys import rollback


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop("Make a domain's aliases (and header and footer) as they were at one of its deploys")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")
        parser.add_argument("--to-deploy", type=int, required=True, metavar="ID", help=_("the deploy (see its page)"))
        parser.add_argument("--dry-run", action="store_true", help=_("print the diff and the counts; change nothing"))

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["domain"].strip().rstrip(".").lower()
        domain = Domain.objects.filter(name=name, deleted_at__isnull=True).first()
        if domain is None:
            raise CommandError(_("no domain %(name)s") % {"name": options["domain"]})
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
        said = {"domain": domain.name, "point": plan.point.label, "summary": plan.summary()}
        if plan.empty:
            self.stdout.write(_("%(domain)s: already as of %(point)s; nothing to do") % said)
            return
        same = rollback.same_as_deployed(plan, deploy)
        if options["dry_run"] and same:
            text = _("%(domain)s: rolling back to %(point)s (the same text it installed) would make %(summary)s")
        elif options["dry_run"]:
            text = _("%(domain)s: rolling back to %(point)s would make %(summary)s")
        elif same:
            text = _(
                "%(domain)s: rolled back to %(point)s (the same text it installed): %(summary)s; deploy to install it"
            )
        else:
            text = _("%(domain)s: rolled back to %(point)s: %(summary)s; deploy to install it")
        self.stdout.write(text % said)
        for note in plan.notes:
            self.stderr.write(_("note: %(note)s") % {"note": note})
