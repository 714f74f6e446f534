"""aliasdesk demo [--bind 127.0.0.1:8000]: demo data, then serve, printing the logins."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from aliasdesk.deploys.engine import deploy_all
from aliasdesk.web.demo import load_demo_data
from aliasdesk.web.management.commands.serve import exec_gunicorn


class Command(BaseCommand):
    help = "Load demo data (domains, aliases, a user of every role) and serve"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="load the data and stop")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        logins = load_demo_data()
        failed = [r for r in deploy_all() if not r.ok]
        for result in failed:
            self.stderr.write(f"demo deploy of {result.domain} failed: {result.message}")
        self.stdout.write(f"aliasdesk demo on http://{options['bind']}/ — logins:")
        for name, password, role in logins:
            self.stdout.write(f"  {name:<10} {password:<20} ({role})")
        if not options["no_serve"]:
            exec_gunicorn(options["bind"], 2)
