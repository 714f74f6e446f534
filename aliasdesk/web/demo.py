"""Demo data: several domains, a few thousand aliases, a user of every role."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from aliasdesk.aliases.importer import bulk_insert_aliases
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_domain
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


@transaction.atomic
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
    logins = []
    for name, role, domains, password in DEMO_USERS:
        if not User.objects.filter(username=name).exists():
            add_user(name, role, domains=domains, password=password)
        logins.append(DemoLogin(name, password, role, domains))
    load_demo_traffic(settings.DATA_DIR)
    return logins, fresh
