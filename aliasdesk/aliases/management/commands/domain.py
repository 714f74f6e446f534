"""aliasdesk domain add NAME [--map-file PATH] [--map-type TYPE] [--node NODE]... [--alias-of TARGET
[--alias-mode MODE]]; aliasdesk domain list;
aliasdesk domain set NAME [--max-aliases N|none] [--max-destinations N|none]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.aliasdomains import set_alias_of
from aliasdesk.aliases.limits import alias_count, warnings_for
from aliasdesk.aliases.models import AliasMode, Domain, MapType
from aliasdesk.aliases.paths import MapPathError
from aliasdesk.aliases.services import AliasError, create_domain, normalize_domain_name


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Manage domains: add, list, set limits"

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
        add.add_argument("--alias-of", metavar="TARGET", help="an alias domain: every address forwards to TARGET")
        add.add_argument(
            "--alias-mode",
            choices=AliasMode.values,
            help="expand (default): one line per address of TARGET; catchall: @NAME @TARGET (accepts every address)",
        )
        sub.add_parser("list", help="list domains")
        limits = sub.add_parser("set", help="set a domain's limits (administrators' settings)")
        limits.add_argument("name")
        limits.add_argument("--max-aliases", metavar="N|none", help="most aliases the map may hold; none: no limit")
        limits.add_argument(
            "--max-destinations", metavar="N|none", help="most destinations per alias; none: no limit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for domain in Domain.objects.filter(deleted_at__isnull=True).select_related("alias_of"):
                state = "deployed" if domain.serial == domain.deployed_serial else "changes not deployed"
                carried = ",".join(domain.node_names) or "every node"
                alias = f"\talias of {domain.alias_of} ({domain.alias_mode})" if domain.alias_of_id else ""
                self.stdout.write(f"{domain.name}\t{domain.map_type}:{domain.map_path}\t{state}\t{carried}{alias}")
            return
        if options["action"] == "set":
            self.set_limits(options)
            return
        if options["alias_mode"] and not options["alias_of"]:
            raise CommandError("--alias-mode needs --alias-of TARGET")
        try:
            with transaction.atomic():  # an alias domain that cannot be one is not created at all
                domain = create_domain(
                    options["name"], map_path=options["map_file"], map_type=options["map_type"], nodes=options["node"]
                )
                if options["alias_of"]:
                    domain = self._make_alias(domain, options["alias_of"], options["alias_mode"] or AliasMode.EXPAND)
        except (AliasError, MapPathError) as exc:
            raise CommandError(str(exc)) from exc
        carried = f" on {', '.join(domain.node_names)}" if domain.node_names else ""
        alias = f", alias domain of {domain.alias_of} ({domain.alias_mode})" if domain.alias_of_id else ""
        self.stdout.write(f"created {domain.name}: {domain.map_type}:{domain.map_path}{carried}{alias}")

    def _make_alias(self, domain: Domain, target_name: str, mode: str) -> Domain:
        target = Domain.objects.filter(name=normalize_domain_name(target_name), deleted_at__isnull=True).first()
        if target is None:
            raise AliasError(f"no domain {target_name}: create the target domain first")
        return set_alias_of(domain, target, mode)

    def set_limits(self, options: dict[str, Any]) -> None:
        """Through the same service as the settings page (as an administrator): checked, in history."""
        name = options["name"].strip().rstrip(".").lower()
        domain = Domain.objects.filter(name=name, deleted_at__isnull=True).first()
        if domain is None:
            raise CommandError(f"no domain {options['name']}")
        wanted = ds.DomainSettings.of(domain)
        for name in ds.LIMIT_FIELDS:
            if options[name] is not None:
                setattr(wanted, name, "" if options[name].strip().lower() == "none" else options[name])
        try:
            domain, changed = ds.update_domain_settings(domain, wanted, version=domain.version, reason="limits")
        except (ds.SettingsRefused, ds.StaleSettings) as exc:
            raise CommandError(f"{domain.name}: {exc}") from exc
        most = domain.max_aliases if domain.max_aliases is not None else "no limit"
        dests = domain.max_destinations if domain.max_destinations is not None else "no limit"
        verb = "set" if changed else "unchanged"
        self.stdout.write(
            f"{domain.name}: limits {verb}: aliases {most} ({alias_count(domain)} now), destinations per alias {dests}"
        )
        for warning in warnings_for(domain):
            self.stderr.write(f"warning: {warning}")
