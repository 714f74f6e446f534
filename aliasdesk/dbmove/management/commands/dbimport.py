"""aliasdesk dbimport FILE: a file of dbexport into an empty, migrated database."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.dbmove.load import import_database
from aliasdesk.dbmove.tables import DbMoveError


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Load a file of 'aliasdesk dbexport' into this empty, migrated database"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = import_database(options["file"])
        except DbMoveError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"imported {sum(counts.values())} rows of {len(counts)} tables from {options['file']}")
