"""aliasdesk domain add NAME [--map-file PATH] [--map-type TYPE] [--node NODE]... [--alias-of TARGET
[--alias-mode MODE]]; aliasdesk domain list;
aliasdesk domain set NAME [--max-aliases N|none] [--max-destinations N|none] [--header-file F|-]
[--footer-file F|-] [--localpart-pattern RE|none] [--allowed-destination-domains D,...|none]
[--extra-domains D,...|none] [--editors-role-addresses on|off] [--node N]... | [--every-node]
[--deploy-on-save on|off] [--version N]; every subcommand takes --as USER and --json."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.db import transaction

from aliasdesk.accounts.command import ActingCommand
from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.aliasdomains import set_alias_of
from aliasdesk.aliases.commandline import find_domain
from aliasdesk.aliases.domain_commandline import domain_line, domain_record, read_text, wanted_settings
from aliasdesk.aliases.limits import alias_count, warnings_for
from aliasdesk.aliases.models import AliasMode, Domain, MapType
from aliasdesk.aliases.paths import MapPathError
from aliasdesk.aliases.services import AliasError, create_domain, normalize_domain_name

ON_OFF = ("on", "off")


class Command(ActingCommand):
    help = "Manage domains: add, list, set limits, header, footer, input policy and nodes"
    refusals = (*ActingCommand.refusals, AliasError, MapPathError, ds.SettingsRefused, ds.StaleSettings)

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = self.subcommand(sub, "add", "create a domain and its map file's place")
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
        self.subcommand(sub, "list", "list domains")
        self.add_set(self.subcommand(sub, "set", "change a domain's settings (administrators' settings)"))

    def add_set(self, change: ArgumentParser) -> None:
        change.add_argument("name")
        change.add_argument("--max-aliases", metavar="N|none", help="most aliases the map may hold; none: no limit")
        change.add_argument(
            "--max-destinations", metavar="N|none", help="most destinations per alias; none: no limit"
        )
        change.add_argument("--header-file", metavar="F|-", help="the map's header text from file F (-: stdin)")
        change.add_argument("--footer-file", metavar="F|-", help="the map's footer text from file F (-: stdin)")
        change.add_argument("--localpart-pattern", metavar="RE|none", help="names (local parts) keys must match")
        change.add_argument(
            "--allowed-destination-domains", metavar="D,...|none", help="the only domains aliases may forward to"
        )
        change.add_argument(
            "--extra-domains", metavar="D,...|none", help="further mail domains whose keys this map holds"
        )
        change.add_argument("--editors-role-addresses", choices=ON_OFF, help="editors may change postmaster@, abuse@")
        nodes = change.add_mutually_exclusive_group()
        nodes.add_argument("--node", action="append", default=[], help="a mail host that carries the map (repeat)")
        nodes.add_argument("--every-node", action="store_true", help="every mail host carries the map")
        change.add_argument("--deploy-on-save", choices=ON_OFF, help="deploy right after each saved change")
        change.add_argument("--version", type=int, metavar="N", help="refused if the settings changed since version N")

    def act(self, action: str, options: dict[str, Any]) -> None:
        if action == "list":
            user = self.acting
            domains = Domain.objects.filter(deleted_at__isnull=True) if user is None else visible_domains(user)
            rows = list(domains.select_related("alias_of").order_by("name"))
            self.emit([domain_record(d) for d in rows], (domain_line(d) for d in rows))
        elif action == "set":
            self.set_settings(options)
        else:
            self.require_admin("add domains")
            self.add(options)

    def add(self, options: dict[str, Any]) -> None:
        if options["alias_mode"] and not options["alias_of"]:
            raise CommandError("--alias-mode needs --alias-of TARGET")
        with transaction.atomic():  # an alias domain that cannot be one is not created at all
            domain = create_domain(
                options["name"], map_path=options["map_file"], map_type=options["map_type"], nodes=options["node"],
                user=self.acting,
            )
            if options["alias_of"]:
                domain = self._make_alias(domain, options["alias_of"], options["alias_mode"] or AliasMode.EXPAND)
        carried = f" on {', '.join(domain.node_names)}" if domain.node_names else ""
        alias = f", alias domain of {domain.alias_of} ({domain.alias_mode})" if domain.alias_of_id else ""
        line = f"created {domain.name}: {domain.map_type}:{domain.map_path}{carried}{alias}"
        self.emit(domain_record(domain), [line])

    def _make_alias(self, domain: Domain, target_name: str, mode: str) -> Domain:
        target = Domain.objects.filter(name=normalize_domain_name(target_name), deleted_at__isnull=True).first()
        if target is None:
            raise AliasError(f"no domain {target_name}: create the target domain first")
        return set_alias_of(domain, target, mode, user=self.acting)

    def set_settings(self, options: dict[str, Any]) -> None:
        """Through the same service as the settings page: checked, version-checked, in history."""
        domain = find_domain(self.acting, options["name"])
        self.require_admin(f"change the settings of {domain.name}")
        for name in ("header", "footer"):
            path = options[f"{name}_file"]
            options[name] = read_text(path, f"--{name}-file") if path is not None else None
        if options["header_file"] == "-" and options["footer_file"] == "-":
            raise AliasError("only one of --header-file and --footer-file can read standard input")
        wanted, given = wanted_settings(domain, options)
        limits_only = all(name in ds.LIMIT_FIELDS for name in given)
        version = domain.version if options["version"] is None else options["version"]
        try:
            domain, changed = ds.update_domain_settings(
                domain, wanted, version=version, user=self.acting, reason="limits" if limits_only else "settings"
            )
        except (ds.SettingsRefused, ds.StaleSettings) as exc:
            raise CommandError(f"{domain.name}: {' '.join(str(exc).split())}") from exc
        verb = "set" if changed else "unchanged"
        lines = []
        if not limits_only:
            lines.append(f"{domain.name}: settings {verb}: {', '.join(n for n in given if n not in ds.LIMIT_FIELDS)}")
            if changed:
                lines.append(f"{domain.name}: deploy to write the new map")
        if limits_only or any(name in ds.LIMIT_FIELDS for name in given):
            most = domain.max_aliases if domain.max_aliases is not None else "no limit"
            dests = domain.max_destinations if domain.max_destinations is not None else "no limit"
            now = alias_count(domain)
            lines.append(f"{domain.name}: limits {verb}: aliases {most} ({now} now), destinations per alias {dests}")
        self.emit({**domain_record(domain), "changed": changed}, lines)
        for warning in warnings_for(domain):
            self.stderr.write(f"warning: {warning}")
