"""The ``aliasdesk`` command.

``logstats`` runs without Django or a database; every other command is a Django
management command (one file per command, in the app it belongs to).
"""

from __future__ import annotations

import os
import sys

from aliasdesk import datadir

# Commands whose documented name has a dash: a Django command is a module name.
DASHED = {"postfix-config": "postfix_config"}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "logstats":
        from aliasdesk.postfix.maillog.stats import main as logstats_main

        return logstats_main(args[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aliasdesk.settings")
    datadir.prepare()
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    if args and args[0] in DASHED:
        args[0] = DASHED[args[0]]
    try:
        execute_from_command_line(["aliasdesk", *args])
    except KeyboardInterrupt:
        return 130
    except ImproperlyConfigured as exc:  # a bad ALIASDESK_* variable: say which, no traceback
        print(f"aliasdesk: {exc}", file=sys.stderr)
        return 2
    return 0
