"""aliasdesk dbimport FILE: a file of dbexport into an empty, migrated database."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.dbmove.load import import_database
from aliasdesk.dbmove.tables import DbMoveError


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = gettext_noop("Load a file of 'aliasdesk dbexport' into this empty, migrated database")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = import_database(options["file"])
        except DbMoveError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(_("imported %(rows)s rows of %(tables)s tables from %(file)s") % {
            "rows": sum(counts.values()), "tables": len(counts), "file": options["file"]
        })
