"""aliasdesk user add NAME --role ROLE [--domain D]... [--password-stdin]
aliasdesk user list
aliasdesk user set NAME [--role ROLE] [--active on|off]
aliasdesk user disable NAME
aliasdesk user grant NAME DOMAIN... [--role editor|viewer]
aliasdesk user revoke NAME DOMAIN...
aliasdesk user convert NAME --to directory|local [--password-stdin]
aliasdesk user reset-2fa NAME    (a lost phone: removes the user's two-factor devices)
aliasdesk user unlock NAME       (lifts a sign-in lockout from every address)
Every subcommand takes --as USER (an administrator's name) and --json."""

from __future__ import annotations

import secrets
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.accounts import lockouts, twofactor
from aliasdesk.accounts.command import ActingCommand
from aliasdesk.accounts.domains import domain_grants
from aliasdesk.accounts.models import Grant, User
from aliasdesk.accounts.services import add_user, convert_user, update_user, user_record

ROLES = User.Role.values


def _stdin_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError(_("no password on standard input"))
    return password


def _user(name: str) -> User:
    user = User.objects.filter(username=name).first()
    if user is None:
        raise CommandError(_("no user called %(name)s") % {"name": name})
    return user


def _line(record: dict[str, Any]) -> str:
    """One user as tab-separated fields (as a script reads them: in English in every language)."""
    domains = ", ".join(f"{g['domain']} ({g['role']})" for g in record["domains"]) or "-"
    state = "active" if record["active"] else "deactivated"
    return f"{record['username']}\t{record['role']}\t{state}\t{record['source']}\t{domains}"


class Command(ActingCommand):
    help = gettext_noop("Manage users: add, list, set, disable, grant, revoke, convert, reset-2fa, unlock")

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = self.subcommand(sub, "add", _("create a user"))
        add.add_argument("name")
        add.add_argument("--role", required=True, choices=ROLES)
        add.add_argument(
            "--domain", action="append", default=[], help=_("grant this domain (editor, viewer)")
        )
        add.add_argument(
            "--password-stdin", action="store_true", help=_("read the password from standard input")
        )
        add.add_argument("--email", default="")
        self.subcommand(sub, "list", _("every user: role, state, sign-in, domains"))
        change = self.subcommand(sub, "set", _("change a user's role or whether they may sign in"))
        change.add_argument("name")
        change.add_argument("--role", choices=ROLES)
        change.add_argument("--active", choices=("on", "off"))
        disable = self.subcommand(
            sub, "disable", _("stop a user from signing in (the user stays, with their history)")
        )
        disable.add_argument("name")
        grant = self.subcommand(sub, "grant", _("let a domain editor or viewer have domains (all or none)"))
        grant.add_argument("name")
        grant.add_argument("domains", nargs="+", metavar="DOMAIN")
        grant.add_argument(
            "--role", choices=Grant.Role.values, help=_("default: editor, viewer for a domain viewer")
        )
        revoke = self.subcommand(sub, "revoke", _("take domains away from a user (all or none)"))
        revoke.add_argument("name")
        revoke.add_argument("domains", nargs="+", metavar="DOMAIN")
        convert = self.subcommand(sub, "convert", _("move an account between local and directory sign-in"))
        convert.add_argument("name")
        convert.add_argument("--to", required=True, choices=["directory", "local"])
        convert.add_argument(
            "--password-stdin",
            action="store_true",
            help=_("--to local: read the new password from standard input"),
        )
        reset = self.subcommand(sub, "reset-2fa", _("remove a user's two-factor devices (a lost phone)"))
        reset.add_argument("name")
        unlock = self.subcommand(sub, "unlock", _("lift a sign-in lockout of a user, from every address"))
        unlock.add_argument("name")

    def act(self, action: str, options: dict[str, Any]) -> None:
        self.require_admin(_("manage users"))
        if action == "list":
            records = [user_record(u) for u in User.objects.prefetch_related("grants__domain").order_by("username")]
            self.emit(records, map(_line, records))
        elif action == "add":
            self.add(options)
        elif action == "convert":
            self.convert(options)
        elif action in ("reset-2fa", "unlock"):
            self.reset(action, _user(options["name"]))
        else:
            self.change(action, _user(options["name"]), options)

    def change(self, action: str, user: User, options: dict[str, Any]) -> None:
        """set, disable, grant, revoke: through the services of the user's page, with its refusals."""
        if action == "grant":
            done = domain_grants().grant(user, options["domains"], options["role"], self.acting)
            text = _("%(user)s has now %(domains)s") % {"user": user.username, "domains": ", ".join(done)}
        elif action == "revoke":
            done = domain_grants().revoke(user, options["domains"], self.acting)
            if done:
                text = _("%(user)s no longer has %(domains)s") % {"user": user.username, "domains": ", ".join(done)}
            else:
                text = _("%(user)s had none of them") % {"user": user.username}
        else:
            active = options.get("active")
            user = update_user(
                user,
                role=options.get("role") or user.role,
                is_active=False if action == "disable" else user.is_active if active is None else active == "on",
                by=self.acting,
            )
            if user.is_active:
                text = _("%(user)s: %(role)s, active") % {"user": user.username, "role": user.role}
            else:
                text = _("%(user)s: %(role)s, deactivated") % {"user": user.username, "role": user.role}
        user.refresh_from_db()
        self.emit(user_record(user), [text])

    def add(self, options: dict[str, Any]) -> None:
        password = _stdin_password() if options["password_stdin"] else None
        user, generated = add_user(
            options["name"], options["role"], domains=options["domain"], password=password, email=options["email"]
        )
        grants = ", ".join(options["domain"])
        if grants:
            text = _("created %(user)s (%(role)s of %(domains)s)") % {
                "user": user.username, "role": user.role, "domains": grants
            }
        else:
            text = _("created %(user)s (%(role)s)") % {"user": user.username, "role": user.role}
        lines = [text]
        if generated:
            lines.append(f"password: {generated}")  # a script reads it: the same in every language
        self.emit({**user_record(user), "password": generated}, lines)

    def reset(self, action: str, user: User) -> None:
        if action == "reset-2fa":
            done = twofactor.reset_devices(user, by=self.acting)
            if done:
                text = _("two-factor login of %(user)s reset") % {"user": user.username}
            else:
                text = _("%(user)s had no two-factor login") % {"user": user.username}
        else:
            done = lockouts.unlock(user, by=self.acting) > 0
            if done:
                text = _("%(user)s unlocked") % {"user": user.username}
            else:
                text = _("%(user)s was not locked") % {"user": user.username}
        self.emit({"username": user.username, "action": action, "done": done}, [text])

    def convert(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["name"]).first()
        if user is None:
            raise CommandError(_("no such user: %(name)s") % {"name": options["name"]})
        to = options["to"]
        if options["password_stdin"] and to != "local":
            raise CommandError(_("--password-stdin goes with --to local: a directory user has no local password"))
        generated = None
        password = None
        if to == "local":
            password = _stdin_password() if options["password_stdin"] else None
            if password is None:
                password = generated = secrets.token_urlsafe(12)
        convert_user(user, to, by=self.acting, password=password)
        if to == "directory":
            lines = [
                _("%(user)s now signs in against the directory; role and grants follow its groups")
                % {"user": user.username}
            ]
        else:
            lines = [_("%(user)s is now a local account (%(role)s)") % {"user": user.username, "role": user.role}]
        if generated:
            lines.append(f"password: {generated}")  # a script reads it: the same in every language
        self.emit({**user_record(user), "password": generated}, lines)
