"""aliasdesk check [--deploy] [--fail-level LEVEL]: Django's checks and the ownership of keys.

Unlike Django's own command it asks the database by default, so the keys that break the
ownership rule are listed (see aliasdesk.aliases.checks).
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.check import Command as DjangoCheck


class Command(DjangoCheck):
    def handle(self, *app_labels: Any, **options: Any) -> None:
        if not options.get("databases"):
            options["databases"] = ["default"]
        super().handle(*app_labels, **options)
