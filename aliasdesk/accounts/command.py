"""What every command that changes aliases, domains or users shares: ``--as``, ``--json``, "via CLI".

The command line acts as an administrator (``user`` None, as the system) unless ``--as USER``
names a user: then it has exactly that user's rights, checked by the same services as on
the web. Every change runs inside ``via("CLI")``, so history says so. A refusal (an
exception of ``refusals``) ends the command with a one-line reason on stderr and exit 1;
the services refuse before they write, inside one transaction, so nothing has changed.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser, _SubParsersAction
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from aliasdesk.accounts.access import can_administer
from aliasdesk.accounts.channel import via
from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import AccountError


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a stderr line a script can read)."""
    return " ".join(str(exc).split()) or exc.__class__.__name__


def acting_user(name: str | None) -> User | None:
    """The user ``--as NAME`` names (None without it: the command line acts as administrator)."""
    if name is None:
        return None
    user = User.objects.filter(username=name).first()
    if user is None:
        raise CommandError(_("--as %(name)s: no such user") % {"name": name})
    if not user.is_active:
        raise CommandError(_("--as %(name)s: the user is deactivated and may do nothing") % {"name": name})
    return user


class ActingCommand(BaseCommand):
    """A command with subcommands (``add``, ``list`` ...), each taking ``--as USER`` and ``--json``.

    Subclasses add their subcommands with :meth:`subcommand` and implement :meth:`act`;
    ``self.acting`` is the user it acts as (None: administrator), ``self.as_json`` whether
    to print one JSON document instead of lines.
    """

    requires_system_checks: list[str] = []  # quick commands; `aliasdesk check` runs the checks
    refusals: tuple[type[Exception], ...] = (PermissionDenied, AccountError)
    acting: User | None = None
    as_json = False

    def subcommand(self, sub: _SubParsersAction[Any], name: str, text: str) -> ArgumentParser:
        parser: ArgumentParser = sub.add_parser(name, help=text)
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USER",
            help=_("act with exactly this user's rights (default: administrator)"),
        )
        parser.add_argument("--json", action="store_true", help=_("print one JSON document on stdout"))
        return parser

    def handle(self, *args: Any, **options: Any) -> None:
        self.acting = acting_user(options.get("as_user"))
        self.as_json = bool(options.get("json"))
        try:
            with via("CLI"):
                self.act(options["action"], options)
        except self.refusals as exc:
            raise CommandError(one_line(exc)) from exc

    def act(self, action: str, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def require_admin(self, what: str) -> None:
        """Refuse ``--as`` a user who is no administrator (``what``, translated: "change users")."""
        if self.acting is not None and not can_administer(self.acting):
            raise PermissionDenied(
                _("%(user)s may not %(what)s: only administrators may") % {"user": self.acting.username, "what": what}
            )

    def emit(self, document: object, lines: Iterable[str] = ()) -> None:
        """``document`` as JSON with ``--json`` (its keys and values the same in every language),
        else the ``lines`` of text (in the user's language)."""
        if self.as_json:
            self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str))
            return
        for line in lines:
            self.stdout.write(line)
