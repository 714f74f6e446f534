"""aliasdesk import FILE --domain NAME [--map-file PATH] [--replace]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts.channel import via
from aliasdesk.aliases.importer import ImportRefused, import_map
from aliasdesk.aliases.paths import MapPathError
from aliasdesk.aliases.services import AliasError


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Import a Postfix virtual map file into a domain (all of it, or nothing if it has errors)"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the map file, or - for standard input")
        parser.add_argument("--domain", required=True)
        parser.add_argument("--map-file", help="where the domain's map lives (for a new domain)")
        parser.add_argument(
            "--replace", action="store_true", help="make the domain hold exactly this file (updates and soft-deletes)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with via("CLI"):  # history says "via CLI"
                report = import_map(
                    options["file"], options["domain"], map_file=options["map_file"], replace=options["replace"]
                )
        except ImportRefused as exc:
            for problem in exc.problems:
                self.stderr.write(f"{options['file']}: {problem}")
            raise CommandError(
                str(exc).split(":", 2)[0] + f": {len(exc.problems)} problem(s), nothing imported"
            ) from exc
        except (AliasError, MapPathError) as exc:
            raise CommandError(str(exc)) from exc
        for problem in report.problems:
            self.stdout.write(f"{options['file']}: {problem.severity}: {problem}")
        parts = [f"{report.created} added"]
        if options["replace"]:
            parts += [f"{report.updated} changed", f"{report.removed} removed", f"{report.unchanged} unchanged"]
        parts.append(f"{report.disabled} switched off")
        self.stdout.write(f"imported into {report.domain.name}: " + ", ".join(parts))
