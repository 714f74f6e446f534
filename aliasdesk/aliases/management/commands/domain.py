"""aliasdesk domain add NAME [--map-file PATH] [--map-type TYPE] [--node NODE]...; aliasdesk domain list"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.aliases.models import Domain, MapType
from aliasdesk.aliases.paths import MapPathError
from aliasdesk.aliases.services import AliasError, create_domain


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Manage domains: add, list"

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a domain and its map file's place")
        add.add_argument("name")
        add.add_argument("--map-file", help="the map file (default: $ALIASDESK_MAP_DIR/NAME)")
        add.add_argument("--map-type", choices=MapType.values)
        add.add_argument(
            "--node",
            action="append",
            default=[],
            help="a mail host that carries the map (agent mode; repeat for several; none: every node)",
        )
        sub.add_parser("list", help="list domains")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for domain in Domain.objects.filter(deleted_at__isnull=True):
                state = "deployed" if domain.serial == domain.deployed_serial else "changes not deployed"
                carried = ",".join(domain.node_names) or "every node"
                self.stdout.write(f"{domain.name}\t{domain.map_type}:{domain.map_path}\t{state}\t{carried}")
            return
        try:
            domain = create_domain(
                options["name"], map_path=options["map_file"], map_type=options["map_type"], nodes=options["node"]
            )
        except (AliasError, MapPathError) as exc:
            raise CommandError(str(exc)) from exc
        carried = f" on {', '.join(domain.node_names)}" if domain.node_names else ""
        self.stdout.write(f"created {domain.name}: {domain.map_type}:{domain.map_path}{carried}")
