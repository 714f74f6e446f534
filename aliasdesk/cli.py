"""The ``aliasdesk`` command.

``logstats`` runs without Django or a database; every other command is a Django
management command (one file per command, in the app it belongs to).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping
from typing import NoReturn

from aliasdesk import datadir

# Commands whose documented name has a dash: a Django command is a module name.
DASHED = {"postfix-config": "postfix_config"}


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language aliasdesk's commands speak: the user's locale as gettext reads it (the first
    of LC_ALL, LC_MESSAGES, LANG that is set; "de_DE.UTF-8" → "de"). A language of
    settings.LANGUAGES, else (C, POSIX, unset, one aliasdesk does not speak) English."""
    from django.conf import settings

    env = os.environ if environ is None else environ
    value = next((env[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(name)), "")
    code = value.split(".")[0].split("@")[0].split("_")[0].lower()
    return code if code in dict(settings.LANGUAGES) else "en"


def print_help() -> None:
    """aliasdesk's commands by group, each with its one-line purpose."""
    from django.core.management import get_commands, load_command_class
    from django.utils.translation import gettext

    from aliasdesk.commands import CATALOGUE, SUMMARIES

    known = get_commands()
    out = [gettext("Usage: aliasdesk COMMAND [options]   (aliasdesk COMMAND --help: its options and an example)"), ""]
    for group, commands in CATALOGUE:
        out.append(f"{gettext(group)}:")
        for name, _examples in commands:
            module = DASHED.get(name, name)
            if name in SUMMARIES:
                text = gettext(SUMMARIES[name])
            elif module in known:
                text = gettext(str(load_command_class(known[module], module).help)).split("\n")[0]
            else:
                continue
            out.append(f"  {name:<15} {text}")
        out.append("")
    out.append(gettext("Django's other commands still run (aliasdesk showmigrations, …) but are not listed here."))
    print("\n".join(out))


def _with_examples() -> None:
    """Every command's --help ends with an example (aliasdesk.commands) and says what the
    command does in the user's language."""
    from argparse import RawDescriptionHelpFormatter

    from django.core.management.base import BaseCommand, DjangoHelpFormatter
    from django.utils.translation import gettext

    from aliasdesk.commands import epilog

    class Formatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
        pass

    if getattr(BaseCommand.create_parser, "aliasdesk_examples", False):
        return  # once per process
    plain = BaseCommand.create_parser

    def create_parser(self: BaseCommand, prog_name: str, subcommand: str, **kwargs: object):  # type: ignore[no-untyped-def]
        name = {v: k for k, v in DASHED.items()}.get(subcommand, subcommand)
        if self.help:  # aliasdesk's commands mark theirs with gettext_noop
            self.help = gettext(str(self.help))
        text = epilog(name)
        if text:
            kwargs.setdefault("epilog", text)
            kwargs.setdefault("formatter_class", Formatter)
        return plain(self, prog_name, subcommand, **kwargs)

    create_parser.aliasdesk_examples = True  # type: ignore[attr-defined]
    BaseCommand.create_parser = create_parser  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "logstats":
        from aliasdesk.postfix.maillog.stats import main as logstats_main

        return logstats_main(args[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aliasdesk.settings")
    # `aliasdesk deploy` as a process of its own (not main() called within another program):
    # its start-up makes ~10^5 objects that live as long as it does; the garbage collector
    # need not pass over them while they are made, nor later (frozen).
    deploy_command = argv is None and args[:1] == ["deploy"]
    if deploy_command:
        gc.disable()
    datadir.prepare()
    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.utils import translation

    try:
        django.setup()
        if deploy_command:
            gc.freeze()
            gc.enable()
        # Every command speaks the user's language (Django's commands would speak LANGUAGE_CODE);
        # --json documents and the lines scripts read stay as they are in every language.
        with translation.override(language_from_environment()):
            if not args or args in (["help"], ["--help"], ["-h"]):
                print_help()
                return 0
            _with_examples()
            if args and args[0] in DASHED:
                args[0] = DASHED[args[0]]
            execute_from_command_line(["aliasdesk", *args])
    except KeyboardInterrupt:
        return 130
    except ImproperlyConfigured as exc:  # a bad ALIASDESK_* variable: say which, no traceback
        print(f"aliasdesk: {exc}", file=sys.stderr)
        return 2
    if deploy_command:
        _leave_now()
    return 0


def _leave_now() -> NoReturn:
    """End this process, the ``aliasdesk deploy`` command, as soon as it is done.

    A deploy of a big map leaves a million objects; Python's teardown would free them one
    by one, and tidy up Django's modules, for ~0.1 s that only make the command slower.
    What the process must finish is finished here: the database connections, the logs
    and the output. Only for the command itself (``main()`` without arguments), never
    where ``main`` is called in a longer-running process.
    """
    import logging

    from django.db import connections

    connections.close_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
