"""aliasdesk user add NAME --role ROLE [--domain D]... [--password-stdin]
aliasdesk user convert NAME --to directory|local [--password-stdin]
aliasdesk user reset-2fa NAME    (a lost phone: removes the user's two-factor devices)
aliasdesk user unlock NAME       (lifts a sign-in lockout from every address)"""

from __future__ import annotations

import secrets
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from aliasdesk.accounts import lockouts, twofactor
from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import AccountError, add_user, convert_user


def _stdin_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("no password on standard input")
    return password


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = "Manage users: add, convert, reset-2fa, unlock"

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a user")
        add.add_argument("name")
        add.add_argument("--role", required=True, choices=["admin", "auditor", "editor", "viewer"])
        add.add_argument("--domain", action="append", default=[], help="grant this domain (editor, viewer)")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        add.add_argument("--email", default="")
        convert = sub.add_parser("convert", help="move an account between local and directory sign-in")
        convert.add_argument("name")
        convert.add_argument("--to", required=True, choices=["directory", "local"])
        convert.add_argument(
            "--password-stdin", action="store_true", help="--to local: read the new password from standard input"
        )
        reset = sub.add_parser("reset-2fa", help="remove a user's two-factor devices (a lost phone)")
        reset.add_argument("name")
        unlock = sub.add_parser("unlock", help="lift a sign-in lockout of a user, from every address")
        unlock.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "convert":
            self.convert(options)
            return
        if action in ("reset-2fa", "unlock"):
            user = User.objects.filter(username=options["name"]).first()
            if user is None:
                raise CommandError(f"no user called {options['name']}")
            if action == "reset-2fa":
                done = twofactor.reset_devices(user, by=None)
                self.stdout.write(
                    f"two-factor login of {user.username} reset" if done else f"{user.username} had no two-factor login"
                )
            else:
                removed = lockouts.unlock(user, by=None)
                self.stdout.write(f"{user.username} unlocked" if removed else f"{user.username} was not locked")
            return
        password = _stdin_password() if options["password_stdin"] else None
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

    def convert(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["name"]).first()
        if user is None:
            raise CommandError(f"no such user: {options['name']}")
        to = options["to"]
        if options["password_stdin"] and to != "local":
            raise CommandError("--password-stdin goes with --to local: a directory user has no local password")
        generated = None
        password = None
        if to == "local":
            password = _stdin_password() if options["password_stdin"] else None
            if password is None:
                password = generated = secrets.token_urlsafe(12)
        try:
            convert_user(user, to, password=password)
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        if to == "directory":
            self.stdout.write(f"{user.username} now signs in against the directory; role and grants follow its groups")
        else:
            self.stdout.write(f"{user.username} is now a local account ({user.role})")
        if generated:
            self.stdout.write(f"password: {generated}")
