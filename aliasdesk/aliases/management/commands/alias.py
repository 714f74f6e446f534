"""aliasdesk alias list DOMAIN [--q TEXT] [--deleted]
aliasdesk alias add DOMAIN KEY DEST... [--comment T] [--disabled] [--valid-until DATE]
aliasdesk alias set DOMAIN ALIAS [--destinations D,...|--add-destination D|--remove-destination D]
                    [--comment T] [--key NEWKEY] [--valid-until DATE|none] [--version N]
aliasdesk alias enable|disable|delete|restore DOMAIN ALIAS...
ALIAS is a key (letter case aside) or #ID; every subcommand takes --as USER and --json."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from aliasdesk.accounts.command import ActingCommand
from aliasdesk.aliases import commandline as cl
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias
from aliasdesk.aliases.ownership import claims_message
from aliasdesk.aliases.services import create_alias


class Command(ActingCommand):
    help = "Find and change a domain's aliases, through the same services as the web"
    refusals = (*ActingCommand.refusals, AliasError)

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = self.subcommand(sub, "list", "the domain's aliases, or those a search finds")
        listing.add_argument("domain")
        listing.add_argument("--q", default="", metavar="TEXT", help="words to find in key, destinations or comment")
        listing.add_argument("--deleted", action="store_true", help="the aliases in the trash instead")
        add = self.subcommand(sub, "add", "add an alias")
        add.add_argument("domain")
        add.add_argument("key")
        add.add_argument("destinations", nargs="+", metavar="DEST")
        add.add_argument("--comment", default="")
        add.add_argument("--disabled", action="store_true", help="add it switched off")
        add.add_argument("--valid-until", metavar="DATE", help="switched off after this day (YYYY-MM-DD)")
        change = self.subcommand(sub, "set", "change an alias (with --version: refused if someone changed it since)")
        change.add_argument("domain")
        change.add_argument("alias", metavar="ALIAS", help="its key or #ID")
        change.add_argument("--destinations", metavar="D,...", help="the destinations, replacing the current ones")
        change.add_argument("--add-destination", action="append", default=[], metavar="D")
        change.add_argument("--remove-destination", action="append", default=[], metavar="D")
        change.add_argument("--comment")
        change.add_argument("--key", metavar="NEWKEY")
        change.add_argument("--valid-until", metavar="DATE|none")
        change.add_argument("--version", type=int, metavar="N", help="the version the change is made to")
        for action, verb in cl.SWITCHES.items():
            switch = self.subcommand(sub, action, f"{verb}: the aliases named (all or none)")
            switch.add_argument("domain")
            switch.add_argument("aliases", nargs="+", metavar="ALIAS", help="a key or #ID")

    def act(self, action: str, options: dict[str, Any]) -> None:
        domain = cl.find_domain(self.acting, options["domain"])
        if action == "list":
            rows = cl.list_aliases(domain, options["q"], deleted=options["deleted"])
            if self.as_json:
                self.emit([cl.alias_record(a) for a in rows])
            else:
                self.emit(None, (cl.alias_line(a) for a in rows))
            return
        if action in cl.SWITCHES:
            changed, aliases = cl.switch_aliases(domain, options["aliases"], action, user=self.acting)
            document = {"action": action, "changed": changed, "aliases": [cl.alias_record(a) for a in aliases]}
            self.emit(document, [f"{domain.name}: {cl.SWITCHES[action]}: {changed} of {len(aliases)}"])
            return
        if action == "add":
            valid_until = cl.parse_date(options["valid_until"]) if options["valid_until"] else None
            alias = create_alias(
                domain,
                options["key"],
                options["destinations"],
                user=self.acting,
                enabled=not options["disabled"],
                comment=options["comment"],
                valid_until=valid_until,
            )
            verb = "added"
        else:
            alias = cl.find_alias(domain, options["alias"])
            alias = cl.edit_alias(alias, self.changes(alias, options), user=self.acting, version=options["version"])
            verb = "changed"
        claimed = claims_message(domain, getattr(alias, "claimed", []))
        line = f"{domain.name}: {verb} {alias.key} (#{alias.pk}, version {alias.version})"
        self.emit(cl.alias_record(alias), [line, *([claimed] if claimed else [])])

    def changes(self, alias: Alias, options: dict[str, Any]) -> dict[str, object]:
        """The fields ``alias set`` was given, as ``update_alias`` takes them."""
        changes: dict[str, object] = {}
        add, remove = options["add_destination"], options["remove_destination"]
        if options["destinations"] is not None and (add or remove):
            raise AliasError("--destinations replaces them all: give it without --add-destination/--remove-destination")
        if options["destinations"] is not None:
            changes["destinations"] = options["destinations"]
        elif add or remove:
            changes["destinations"] = cl.edited_destinations(alias, add, remove)
        for name in ("comment", "key"):
            if options[name] is not None:
                changes[name] = options[name]
        if options["valid_until"] is not None:
            changes["valid_until"] = cl.parse_date(options["valid_until"])
        return changes
