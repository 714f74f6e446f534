"""aliasdesk demo [--bind 127.0.0.1:8000] [--no-serve]: demo data, then serve, printing the logins.

The first run makes the data and deploys it; a later run on the same database leaves the
data and its deploys as they are (changes made in the demo stay undeployed until someone
deploys them) and says so.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.engine import deploy_all
from aliasdesk.web.demo import edit_a_map_by_hand, load_demo_data
from aliasdesk.web.management.commands.serve import exec_gunicorn


class Command(BaseCommand):
    help = gettext_noop("Load demo data (domains, aliases, a user of every role) and serve")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help=_("load the data and stop"))

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        logins, fresh = load_demo_data()
        if fresh:
            for result in deploy_all():
                if not result.ok:
                    self.stderr.write(_("demo deploy of %(domain)s failed: %(message)s") % {
                        "domain": result.domain, "message": result.message
                    })
            edit_a_map_by_hand()  # refused on purpose: the demo shows a drifted map and a failed deploy
        else:
            pending = Domain.objects.filter(deleted_at__isnull=True).exclude(serial=F("deployed_serial")).count()
            if pending:
                self.stdout.write(ngettext(
                    "the demo data was there already: left as it is; %(count)s domain has changes not deployed "
                    "(its deploy page, or `aliasdesk deploy --all`)",
                    "the demo data was there already: left as it is; %(count)s domains have changes not deployed "
                    "(their deploy pages, or `aliasdesk deploy --all`)",
                    pending,
                ) % {"count": pending})
            else:
                self.stdout.write(_("the demo data was there already: left as it is"))
        if options["no_serve"]:
            self.stdout.write(_("demo data ready — logins:"))
        else:
            self.stdout.write(_("aliasdesk demo on %(url)s — logins:") % {"url": f"http://{options['bind']}/"})
        for login in logins:
            self.stdout.write(f"  {login.name:<10} {login.password:<20} {login.role:<8} {login.covers}")
        self.stdout.write(_("data and maps: %(data)s (maps in %(maps)s)") % {
            "data": settings.DATA_DIR, "maps": settings.MAP_DIR
        })
        if not options["no_serve"]:
            exec_gunicorn(options["bind"], 2)
