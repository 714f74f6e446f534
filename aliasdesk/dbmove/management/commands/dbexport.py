"""aliasdesk dbexport FILE: the whole database in one file, the same bytes from any engine."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.dbmove.dump import export_database
from aliasdesk.dbmove.tables import DbMoveError


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop("Write the whole database to FILE (JSON Lines; gzip when FILE ends in .gz; '-': stdout)")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = export_database(options["file"])
        except DbMoveError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(
                _("the database cannot be read (%(error)s); is it migrated? run 'aliasdesk migrate'") % {"error": exc}
            ) from exc
        except OSError as exc:
            raise CommandError(
                _("%(file)s: cannot write it (%(error)s)") % {"file": options["file"], "error": exc.strerror or exc}
            ) from exc
        if options["file"] != "-":
            self.stdout.write(_("exported %(rows)s rows of %(tables)s tables to %(file)s") % {
                "rows": sum(counts.values()), "tables": len(counts), "file": options["file"]
            })
        else:
            sys.stdout.flush()
