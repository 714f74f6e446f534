"""aliasdesk postfix-config sqlite|pgsql|mysql: the table file for Postfix to read the aliases
from aliasdesk's database directly (aliasdesk.aliases.virtual_table).

Printing it switches the lookup table on and brings it up to date; from then on every saved
change reaches it. ``--sync`` checks and repairs the table (for a timer, after a restore),
and runs the deploy's checks on the maps changed since (aliasdesk.deploys.live_checks):
without deploys nothing else would. It lives with the deploys for that reason.
``--role NAME --password-stdin`` prints the file for a read-only role instead, and with
``--grant-sql`` the SQL that creates that role.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.postfix_config import Role, check_role, check_table_type, grant_sql, table_file_text
from aliasdesk.aliases.virtual_table import sync_all
from aliasdesk.deploys.live_checks import check_live_maps
from aliasdesk.postfix.maps.sqltable import TABLE_TYPES


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop("Print a Postfix lookup-table file (virtual_alias_maps) that reads aliasdesk's database")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, "postfix-config", **kwargs)  # its name as documented

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("type", nargs="?", choices=TABLE_TYPES, help=_("Postfix table type: the database's engine"))
        parser.add_argument("--sync", action="store_true", help=_("bring the lookup table up to date and say how"))
        parser.add_argument("--role", metavar="NAME", help=_("connect as this read-only role instead"))
        parser.add_argument("--password-stdin", action="store_true", help=_("the role's password, on stdin"))
        parser.add_argument("--role-host", default="%", help=_("MariaDB: the host the role may connect from"))
        parser.add_argument("--grant-sql", action="store_true", help=_("print the SQL that creates the role"))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except AliasError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(
                _("the database cannot be read (%(error)s); is it migrated? run 'aliasdesk migrate'") % {"error": exc}
            ) from exc

    def _handle(self, options: dict[str, Any]) -> None:
        table_type = options["type"]
        if options["sync"]:
            if table_type:
                raise CommandError(_("--sync takes no table type"))
            report = sync_all(create=True)
            assert report is not None
            self.stdout.write(ngettext(
                "lookup table: %(domains)s domain checked, %(rebuilt)s rebuilt, "
                "%(changed)s brought up to date, %(removed)s removed",
                "lookup table: %(domains)s domains checked, %(rebuilt)s rebuilt, "
                "%(changed)s brought up to date, %(removed)s removed",
                report.domains,
            ) % {"domains": report.domains, "rebuilt": report.rebuilt, "changed": report.changed,
                 "removed": report.removed})
            for check in check_live_maps():
                errors, warnings = len(check.errors), len(check.warnings)
                if errors or warnings:
                    self.stdout.write(_("%(domain)s: %(errors)s error(s), %(warnings)s warning(s) in the live map") % {
                        "domain": check.domain.name, "errors": errors, "warnings": warnings
                    })
            return
        if not table_type:
            raise CommandError(_("give the table type: %(types)s (or --sync)") % {"types": " | ".join(TABLE_TYPES)})
        check_table_type(table_type)
        role = None
        if options["role"]:
            if not options["password_stdin"]:
                raise CommandError(_("give the role's password on stdin with --password-stdin (empty: none)"))
            role = Role(options["role"], sys.stdin.readline().rstrip("\r\n"), options["role_host"])
            check_role(role)
        elif options["grant_sql"] or options["password_stdin"]:
            raise CommandError(_("--grant-sql and --password-stdin go with --role NAME"))
        if options["grant_sql"]:
            assert role is not None
            self.stdout.write(grant_sql(table_type, role), ending="")
            return
        sync_all(create=True)
        self.stdout.write(table_file_text(table_type, role), ending="")
