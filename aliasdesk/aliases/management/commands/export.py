"""aliasdesk export DOMAIN: prints exactly the file a deploy would write."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.render import render_map


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Print the map file a deploy of DOMAIN would write"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = Domain.objects.filter(name=options["domain"].lower(), deleted_at__isnull=True).first()
        if domain is None:
            raise CommandError(f"no such domain: {options['domain']}")
        sys.stdout.buffer.write(render_map(domain).data)
        sys.stdout.flush()
