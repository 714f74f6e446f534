"""aliasdesk check [--deploy] [--fail-level LEVEL]: Django's checks, the ownership of keys and
how the managed maps fit Postfix's main.cf.

Unlike Django's own command it asks the database by default, when there is one to ask (a
migrated database): the keys that break the ownership rule are then listed too (see
aliasdesk.aliases.checks). A fresh installation without a database is checked as Django
checks it.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.management.commands.check import Command as DjangoCheck
from django.db import DatabaseError, connection

from aliasdesk.aliases.checks import check_key_ownership, check_postfix_fit
from aliasdesk.aliases.models import MailDomain


def _database_ready() -> bool:
    try:
        return MailDomain._meta.db_table in connection.introspection.table_names()
    except DatabaseError:
        return False


class Command(DjangoCheck):
    def handle(self, *app_labels: Any, **options: Any) -> None:
        checks.register(check_key_ownership, "aliasdesk", checks.Tags.database)
        checks.register(check_postfix_fit, "aliasdesk", checks.Tags.database)
        try:
            if not options.get("databases") and _database_ready():
                options["databases"] = ["default"]
            super().handle(*app_labels, **options)
        finally:
            checks.registry.registry.registered_checks.discard(check_key_ownership)
            checks.registry.registry.registered_checks.discard(check_postfix_fit)
