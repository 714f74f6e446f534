"""aliasdesk token create USER [--domain D]... [--read-only] [--expires DAYS] [--name TEXT]
aliasdesk token list [--user USER] [--json]
aliasdesk token revoke TOKEN     (its number, or the adk_… prefix that lists show)"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliasdesk.accounts.models import User
from aliasdesk.api import tokens
from aliasdesk.api.models import ApiToken


def describe(token: ApiToken) -> dict[str, Any]:
    """A token as lists show it: never its secret."""
    return {
        "id": token.pk,
        "prefix": token.prefix,
        "user": token.user.username,
        "name": token.name,
        "read_only": token.read_only,
        "domains": sorted(d.name for d in token.domains.all()),
        "created": token.created_at.isoformat(),
        "expires": token.expires_at.isoformat() if token.expires_at else None,
        "last_used": token.last_used_at.isoformat() if token.last_used_at else None,
        "last_used_from": token.last_used_from,
        "revoked": token.revoked_at.isoformat() if token.revoked_at else None,
    }


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a quick command; `aliasdesk check` runs them
    help = gettext_noop("API tokens: create (printed once), list, revoke")

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help=_("make a token for USER and print it (its last word)"))
        create.add_argument("user")
        create.add_argument("--domain", action="append", default=[], help=_("only this domain (repeat for several)"))
        create.add_argument("--read-only", action="store_true", help=_("reads only, never changes"))
        create.add_argument("--expires", type=int, metavar="DAYS", help=_("expires after DAYS days (default: never)"))
        create.add_argument("--name", default="", help=_("what the token is for, as lists show it"))
        listing = sub.add_parser("list", help=_("list tokens (never their secrets)"))
        listing.add_argument("--user", help=_("only this user's tokens"))
        listing.add_argument("--json", action="store_true")
        revoke = sub.add_parser("revoke", help=_("revoke a token at once"))
        revoke.add_argument("token", help=_("its number or its adk_… prefix"))

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(_("no user called %(name)s") % {"name": options["user"]})
            try:
                made = tokens.create_token(
                    user,
                    by=None,
                    name=options["name"],
                    domains=options["domain"],
                    read_only=options["read_only"],
                    expires_days=options["expires"],
                )
            except tokens.TokenError as exc:
                raise CommandError(str(exc)) from exc
            self.stderr.write(
                _("token %(token)s for %(user)s; it is shown only now:")
                % {"token": made.token.prefix, "user": user.username}
            )
            self.stdout.write(made.secret)
        elif action == "list":
            found = ApiToken.objects.select_related("user").prefetch_related("domains").order_by("pk")
            if options["user"]:
                found = found.filter(user__username=options["user"])
            rows = [describe(token) for token in found]
            if options["json"]:
                self.stdout.write(json.dumps(rows, indent=2))
                return
            for row in rows:  # tab-separated, as a script reads them: English in every language
                state = "revoked" if row["revoked"] else "read-only" if row["read_only"] else "read-write"
                where = ",".join(row["domains"]) or "all domains"
                self.stdout.write(
                    f"{row['id']}\t{row['prefix']}\t{row['user']}\t{state}\t{where}\t"
                    f"expires {row['expires'] or 'never'}\tlast used {row['last_used'] or 'never'}\t{row['name']}"
                )
        else:
            token = tokens.find_token(options["token"])
            if token is None:
                raise CommandError(_("no token %(token)s") % {"token": options["token"]})
            done = tokens.revoke_token(token, by=None)
            if done:
                self.stdout.write(_("%(token)s revoked") % {"token": token.prefix})
            else:
                self.stdout.write(_("%(token)s was revoked already") % {"token": token.prefix})
