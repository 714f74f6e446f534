"""Demo data: several domains, a few thousand aliases, a user of every role, and something
for every page: aliases without mail (unused), expiring soon and expired, deleted ones in
the trash, and (after the first deploy, see :func:`edit_a_map_by_hand`) a map edited
outside aliasdesk whose deploy was refused."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from aliasdesk.aliases.importer import bulk_insert_aliases
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_domain, soft_delete_alias, update_alias
from aliasdesk.deploys.engine import DeployResult, deploy_domain
from aliasdesk.maillog.demo import load_demo_traffic
from aliasdesk.postfix.maps.virtual import Entry

DEMO_USERS = [
    ("admin", "admin", [], "demo-admin-pass"),
    ("auditor", "auditor", [], "demo-auditor-pass"),
    ("editor", "editor", ["example.com", "example.org"], "demo-editor-pass"),
    ("viewer", "viewer", ["example.net"], "demo-viewer-pass"),
]

FIRST = ["anna", "ben", "carla", "dan", "eva", "farid", "greta", "hugo", "ines", "jonas", "kim", "lena", "mats", "nora"]
LAST = ["berg", "costa", "dahl", "eriksen", "fischer", "garcia", "holm", "ivanova", "jensen", "kowalski"]
ROLES = ["info", "sales", "support", "billing", "jobs", "press", "security", "abuse", "postmaster", "hostmaster"]


def _aliases(domain: str, count: int, rng: random.Random) -> list[Entry]:
    entries = [
        Entry(f"{role}@{domain}", f"{rng.choice(FIRST)}.{rng.choice(LAST)}@staff.example", True, "") for role in ROLES
    ]
    seen = {e.key for e in entries}
    while len(entries) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        key = f"{first}.{last}{rng.randint(1, 999)}@{domain}"
        if key in seen:
            continue
        seen.add(key)
        dests = [f"{first}.{last}@mailbox.example"]
        if rng.random() < 0.2:
            dests.append(f"{rng.choice(FIRST)}@team.example")
        comment = f"ticket OPS-{rng.randint(1000, 9999)}" if rng.random() < 0.1 else ""
        entries.append(Entry(key, ", ".join(dests), rng.random() > 0.05, comment))
    return entries


@dataclass(frozen=True)
class DemoLogin:
    name: str
    password: str
    role: str
    domains: list[str]  # granted ones; admins and auditors see every domain

    @property
    def covers(self) -> str:
        return gettext("every domain") if not self.domains else ", ".join(self.domains)


def load_demo_data() -> tuple[list[DemoLogin], bool]:
    """Create the demo domains and users (once); returns the logins to print and whether the
    domains were made just now (a second run leaves what is there as it is)."""
    rng = random.Random(7)
    sizes = {
        "example.com": 1200,
        "example.org": 800,
        "example.net": 400,
        "lists.example.net": 150,
        "bücher.example": 40,
    }
    fresh = not Domain.objects.exists()
    if fresh:
        for name, size in sizes.items():
            domain = create_domain(name)
            domain.header = (
                f"# {name}: virtual aliases, managed by aliasdesk\n# Edits by hand are overwritten: use the web.\n"
            )
            domain.footer = f"# Catch-all: keep it last\n@{name}\tpostmaster@{name}\n"
            domain.save()
            bulk_insert_aliases(domain, _aliases(name, size, rng), None, "demo data")
        _age_the_aliases()
        _expiring_expired_and_deleted(rng)
    logins = []
    for name, role, domains, password in DEMO_USERS:
        if not User.objects.filter(username=name).exists():
            add_user(name, role, domains=domains, password=password)
        logins.append(DemoLogin(name, password, role, domains))
    load_demo_traffic(settings.DATA_DIR)
    return logins, fresh


AGE = timedelta(days=400)  # the demo's aliases exist long before the month of mail log
EXPIRING_IN = (2, 5, 9, 13)  # days from today: "expiring" and the expiring report show them
EXPIRED_AGO = (3, 20)  # days before today: the first deploy switches them off, with history
DELETED = ("left the company", "ticket closed", "duplicate of another alias")
DRIFTED = "example.org"  # its map is edited outside aliasdesk after the first deploy
HAND_EDIT = "# added by hand on mx1 during an outage\nhelpdesk@{name}\tit-oncall@staff.example\n"


def _age_the_aliases() -> None:
    """The bulk-inserted aliases (and their "created" history) date from long ago, so that
    those without mail in the log count as unused (an alias must be older than the period)."""
    then = timezone.now() - AGE
    Alias.objects.update(created_at=then, updated_at=then)
    Alias.history.filter(history_type="+").update(history_date=then)


def _expiring_expired_and_deleted(rng: random.Random) -> None:
    """Through the services, as people would: valid-until dates soon and past, a few deletions."""
    today = timezone.localdate()
    for name in ("example.com", "example.org"):
        rows = list(
            Alias.objects.filter(domain__name=name, enabled=True, deleted_at__isnull=True)
            .exclude(key__startswith="@")
            .order_by("pk")[len(ROLES) :]
        )
        picked = rng.sample(rows, len(EXPIRING_IN) + len(EXPIRED_AGO) + len(DELETED))
        for alias, days in zip(picked, [*EXPIRING_IN, *(-d for d in EXPIRED_AGO)], strict=False):
            update_alias(alias, version=alias.version, valid_until=today + timedelta(days=days),
                         comment=alias.comment or "contractor", reason="demo: a temporary alias")
        for alias, why in zip(picked[len(EXPIRING_IN) + len(EXPIRED_AGO) :], DELETED, strict=True):
            soft_delete_alias(alias, version=alias.version, reason=f"demo: {why}")


def edit_a_map_by_hand() -> DeployResult | None:
    """After the first deploy: one map file is edited outside aliasdesk, and a deploy of it is
    refused for that (a failed deploy with its reason in the history; the drift banner shows)."""
    domain = Domain.objects.filter(name=DRIFTED, deleted_at__isnull=True).first()
    if domain is None or not domain.deployed_sha256:
        return None
    path = Path(domain.map_path)
    with path.open("a", encoding="utf-8") as edited:
        edited.write(HAND_EDIT.format(name=DRIFTED))
    return deploy_domain(domain)
