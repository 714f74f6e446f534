"""aliasdesk user add NAME --role ROLE [--domain D]... [--password-stdin]"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts.services import AccountError, add_user


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Manage users: add"

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a user")
        add.add_argument("name")
        add.add_argument("--role", required=True, choices=["admin", "auditor", "editor", "viewer"])
        add.add_argument("--domain", action="append", default=[], help="grant this domain (editor, viewer)")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        add.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("no password on standard input")
        try:
            user, generated = add_user(
                options["name"], options["role"], domains=options["domain"], password=password, email=options["email"]
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        grants = ", ".join(options["domain"])
        self.stdout.write(f"created {user.username} ({user.role}{' of ' + grants if grants else ''})")
        if generated:
            self.stdout.write(f"password: {generated}")
