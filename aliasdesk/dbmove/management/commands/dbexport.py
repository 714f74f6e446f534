"""aliasdesk dbexport FILE: the whole database in one file, the same bytes from any engine."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from aliasdesk.dbmove.dump import export_database
from aliasdesk.dbmove.tables import DbMoveError


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Write the whole database to FILE (JSON Lines; gzip when FILE ends in .gz; '-': stdout)"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = export_database(options["file"])
        except DbMoveError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(f"the database cannot be read ({exc}); is it migrated? run 'aliasdesk migrate'") from exc
        except OSError as exc:
            raise CommandError(f"{options['file']}: cannot write it ({exc.strerror or exc})") from exc
        if options["file"] != "-":
            self.stdout.write(f"exported {sum(counts.values())} rows of {len(counts)} tables to {options['file']}")
        else:
            sys.stdout.flush()
