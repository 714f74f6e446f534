"""aliasdesk resolve ADDRESS: where mail to ADDRESS ends up, step by step."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.aliases.lookup import alias_domain_names, managed_table
from aliasdesk.postfix.maps.resolve import explain, resolve


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Show where mail to ADDRESS ends up, through the managed maps in Postfix's lookup order"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("address")
        parser.add_argument("--json", action="store_true", help="print recipients and steps as JSON")
        parser.add_argument(
            "--local-domain",
            action="append",
            default=[],
            help="a domain in $mydestination (then bare user keys apply); repeatable",
        )
        parser.add_argument("--myorigin", default="", help="$myorigin, appended to bare names in results")
        parser.add_argument("--recipient-delimiter", default="+")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["address"].strip():
            raise CommandError("give an address")
        table, maps = managed_table()
        names = [d.name for d in maps]
        resolution = resolve(
            options["address"],
            table,
            local_domains=options["local_domain"],
            recipient_delimiter=options["recipient_delimiter"],
            myorigin=options["myorigin"],
            alias_domains=alias_domain_names(maps),
        )
        if options["json"]:
            data = resolution.to_dict()
            data["maps"] = names
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(explain(resolution).rstrip("\n"))
        if resolution.deferred:
            raise CommandError("Postfix would defer this mail: " + "; ".join(resolution.problems))
        if resolution.rejected:
            raise CommandError("Postfix would not accept this address: " + "; ".join(resolution.problems))
