"""aliasdesk's own commands, grouped for `aliasdesk help`, each with an example for its `--help`.

Django's own commands stay runnable (migrate, check, shell, clearsessions, …) but
`aliasdesk help` lists only these and the few maintenance commands an administrator needs;
the developer's and the dangerous ones (flush, sqlflush, dbshell, loaddata, inspectdb,
createsuperuser, which would bypass `user add`) are not offered. Nothing here needs Django
set up: `help` must not need a configured database. The texts are marked for translation
(gettext_noop) and translated where they are printed (aliasdesk.cli).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop, ngettext

# (group, [(command as typed, example lines)])
CATALOGUE: list[tuple[str, list[tuple[str, list[str]]]]] = [
    (
        gettext_noop("Domains and aliases"),
        [
            ("domain", ["aliasdesk domain add example.com --map-file /etc/postfix/virtual.d/example.com",
                        "aliasdesk domain list --json",
                        "aliasdesk domain set example.com --deploy-on-save on"]),
            ("alias", ["aliasdesk alias add example.com info@example.com anna@example.org ben@example.org",
                       "aliasdesk alias list example.com --q anna",
                       "aliasdesk alias disable example.com info@example.com"]),
            ("import", ["aliasdesk import /etc/postfix/virtual --domain example.com"]),
            ("export", ["aliasdesk export example.com > /tmp/virtual"]),
            ("resolve", ["aliasdesk resolve info@example.com"]),
            ("offboard", ["aliasdesk offboard bob@example.org --replace carol@example.org --dry-run",
                          "aliasdesk offboard bob@example.org --remove --switch-off-empty"]),
        ],
    ),
    (
        gettext_noop("Deploying to Postfix"),
        [
            ("deploy", ["aliasdesk deploy example.com --dry-run", "aliasdesk deploy --all"]),
            ("rollback", ["aliasdesk rollback example.com --to-deploy 41 --dry-run"]),
            ("agent", ["aliasdesk agent --once --node mx1"]),
            ("node", ["aliasdesk node list"]),
            ("postfix-config", ["aliasdesk postfix-config sqlite > /etc/postfix/aliasdesk-virtual.cf"]),
        ],
    ),
    (
        gettext_noop("People and automation"),
        [
            ("user", ["aliasdesk user add anna --role editor --domain example.com",
                      "aliasdesk user list --json"]),
            ("token", ["aliasdesk token create anna --domain example.com --read-only --expires 90"]),
            ("webhooks", ["aliasdesk webhooks --once"]),
        ],
    ),
    (
        gettext_noop("Mail logs"),
        [
            ("logstats", ["aliasdesk logstats /var/log/mail.log --json"]),
            ("logingest", ["aliasdesk logingest /var/log/mail.log"]),
        ],
    ),
    (
        gettext_noop("Running and maintenance"),
        [
            ("serve", ["aliasdesk serve --bind 127.0.0.1:8000 --workers 2"]),
            ("demo", ["aliasdesk demo --bind 127.0.0.1:8000"]),
            ("migrate", ["aliasdesk migrate"]),
            ("check", ["aliasdesk check --deploy"]),
            ("dbexport", ["aliasdesk dbexport /var/backups/aliasdesk.jsonl.gz"]),
            ("dbimport", ["aliasdesk dbimport /var/backups/aliasdesk.jsonl.gz"]),
            ("clearsessions", ["aliasdesk clearsessions"]),
            ("shell", ["aliasdesk shell"]),
        ],
    ),
]

EXAMPLES = {name: lines for _, commands in CATALOGUE for name, lines in commands}

# What `aliasdesk help` says of Django's commands (their own texts speak to Django developers).
SUMMARIES = {
    "logstats": gettext_noop("Count a Postfix mail log as pflogsumm does (no database needed)"),
    "migrate": gettext_noop("Create or update the database tables (after installing and after every upgrade)"),
    "check": gettext_noop("Check the settings, the keys' ownership and how the maps fit Postfix's main.cf"),
    "clearsessions": gettext_noop("Remove expired web sessions (daily, from a timer)"),
    "shell": gettext_noop("A Python shell with aliasdesk loaded, for support work"),
}


def epilog(command: str) -> str | None:
    """The example block a command's --help ends with."""
    lines = EXAMPLES.get(command)
    if not lines:
        return None
    head = ngettext("example:", "examples:", len(lines))
    return head + "\n" + "\n".join(f"  {line}" for line in lines)
