"""aliasdesk import FILE --domain NAME [--map-file PATH] [--replace] [--format map|csv|xlsx] [--dry-run]"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts.channel import via
from aliasdesk.aliases.bulk_files import FORMATS
from aliasdesk.aliases.importer import KINDS, ImportRefused, ImportReport, import_map
from aliasdesk.aliases.paths import MapPathError
from aliasdesk.aliases.services import AliasError

SHOWN = 20  # aliases of each kind a dry run names


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = (
        "Import a Postfix virtual map file, the data CSV or an XLSX into a domain "
        "(all of it, or nothing if it has errors)"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the map file (or .csv, .xlsx), or - for standard input")
        parser.add_argument("--domain", required=True)
        parser.add_argument("--map-file", help="where the domain's map lives (for a new domain)")
        parser.add_argument(
            "--replace", action="store_true", help="make the domain hold exactly this file (updates and soft-deletes)"
        )
        parser.add_argument(
            "--format", choices=FORMATS, help="how FILE is written (default: by its extension; else a map)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be added, changed, switched off and deleted"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        try:
            with via("CLI"):  # history says "via CLI"
                report = import_map(
                    name,
                    options["domain"],
                    map_file=options["map_file"],
                    replace=options["replace"],
                    fmt=options["format"],
                    dry_run=options["dry_run"],
                )
        except ImportRefused as exc:
            for problem in exc.problems:
                self.stderr.write(f"{name}: {problem}")
            count = f": {len(exc.problems)} problem(s), nothing imported"
            raise CommandError(str(exc).split(":", 2)[0] + count) from exc
        except (AliasError, MapPathError) as exc:
            raise CommandError(str(exc)) from exc
        for problem in report.problems:
            self.stdout.write(f"{name}: {problem.severity}: {problem}")
        if options["dry_run"]:
            self._preview(report)
            return
        parts = [f"{report.created} added"]
        if options["replace"]:
            parts += [f"{report.updated} changed", f"{report.removed} removed", f"{report.unchanged} unchanged"]
        parts.append(f"{report.disabled} switched off")
        self.stdout.write(f"imported into {report.domain.name}: " + ", ".join(parts))

    def _preview(self, report: ImportReport) -> None:
        """What the import would do, kind by kind, the first SHOWN aliases of each named."""
        for kind in KINDS:
            for change in report.changes[kind][:SHOWN]:
                where = f"line {change.line}: " if change.line else ""
                both = change.before and change.after
                arrow = f"{change.before} -> {change.after}" if both else change.before or change.after
                self.stdout.write(f"{kind}: {where}{change.key}\t{arrow}")
            more = report.counts[kind] - min(SHOWN, len(report.changes[kind]))
            if more > 0:
                self.stdout.write(f"{kind}: … and {more} more")
        counts = ", ".join(f"{report.counts[kind]} {kind}" for kind in KINDS)
        self.stdout.write(
            f"dry run, nothing changed: {report.domain.name} would get {counts}, {report.unchanged} unchanged"
        )
