"""aliasdesk deploy (DOMAIN... | --all) [--dry-run] [--force]"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.engine import DeployResult, deploy_all, deploy_domain


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = gettext_noop("Render, validate, compile and install domains' maps")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domains", nargs="*")
        parser.add_argument("--all", action="store_true", help=_("every domain (unchanged ones are skipped)"))
        parser.add_argument("--dry-run", action="store_true", help=_("print the diff and findings, change nothing"))
        parser.add_argument("--force", action="store_true", help=_("deploy even if unchanged, or edited by hand"))
        parser.add_argument("--json", action="store_true", help=_("print the results as JSON"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["json"]:  # the results' messages as a script reads them, whatever the user's language
            with translation.override("en"):
                return self.deploy(options)
        return self.deploy(options)

    def deploy(self, options: dict[str, Any]) -> None:
        names: list[str] = options["domains"]
        if options["all"] == bool(names):
            raise CommandError(_("name the domains to deploy, or give --all"))
        kwargs = {"dry_run": options["dry_run"], "force": options["force"]}
        if options["all"]:
            results = deploy_all(**kwargs)
        else:
            domains = {
                d.name: d for d in Domain.objects.filter(name__in=[n.lower() for n in names], deleted_at__isnull=True)
            }
            missing = [n for n in names if n.lower() not in domains]
            if missing:
                raise CommandError(_("no such domain: %(names)s") % {"names": ", ".join(missing)})
            results = [deploy_domain(domains[n.lower()], **kwargs) for n in names]
        if options["json"]:
            self.stdout.write(json.dumps([r.to_dict() for r in results], indent=2))
        else:
            for result in results:
                self._print(result, options["dry_run"], len(results) == 1 or result.status != "noop")
        failed = [r for r in results if not r.ok]
        if failed:
            raise CommandError("; ".join(f"{r.domain}: {r.message}" for r in failed))

    def _print(self, result: DeployResult, dry_run: bool, show: bool) -> None:
        if dry_run:
            no_changes = "# " + _("%(domain)s: no changes") % {"domain": result.domain}
            self.stdout.write(result.diff or no_changes, ending="" if result.diff else "\n")
        for finding in result.findings:
            where = f" ({finding.key})" if finding.key else ""
            self.stdout.write(f"{result.domain}: {finding.severity}: {finding.code}{where}: {finding.message}")
        if dry_run:
            if result.message:
                self.stdout.write(f"{result.domain}: {result.message}")
            return
        if show and result.ok:
            took = result.timings.get("total")
            if took:
                self.stdout.write(_("%(domain)s: %(message)s in %(seconds)s s") % {
                    "domain": result.domain, "message": result.message, "seconds": f"{took:.2f}"
                })
            else:
                self.stdout.write(f"{result.domain}: {result.message}")
        elif not result.ok and result.diff:
            self.stderr.write(result.diff)
