"""aliasdesk user add NAME --role ROLE [--domain D]... [--password-stdin]
aliasdesk user reset-2fa NAME    (a lost phone: removes the user's two-factor devices)
aliasdesk user unlock NAME       (lifts a sign-in lockout from every address)"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts import lockouts, twofactor
from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import AccountError, add_user


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Manage users: add, reset-2fa, unlock"

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a user")
        add.add_argument("name")
        add.add_argument("--role", required=True, choices=["admin", "auditor", "editor", "viewer"])
        add.add_argument("--domain", action="append", default=[], help="grant this domain (editor, viewer)")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        add.add_argument("--email", default="")
        reset = sub.add_parser("reset-2fa", help="remove a user's two-factor devices (a lost phone)")
        reset.add_argument("name")
        unlock = sub.add_parser("unlock", help="lift a sign-in lockout of a user, from every address")
        unlock.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] in ("reset-2fa", "unlock"):
            user = User.objects.filter(username=options["name"]).first()
            if user is None:
                raise CommandError(f"no user called {options['name']}")
            if options["action"] == "reset-2fa":
                done = twofactor.reset_devices(user, by=None)
                self.stdout.write(f"two-factor login of {user.username} reset" if done
                                  else f"{user.username} had no two-factor login")
            else:
                removed = lockouts.unlock(user, by=None)
                self.stdout.write(f"{user.username} unlocked" if removed else f"{user.username} was not locked")
            return
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
