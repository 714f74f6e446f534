"""Every URL of the project, walked with every role, for GET and for POST.

The routes come from the URL resolver, so a page added later is walked without touching
this file. ``RULES`` says what each page is for (who reads it, who changes through it);
a route missing from it fails ``test_every_route_has_a_rule`` with its name, and is still
walked meanwhile under the rules that hold for every page:

- anonymous visitors are sent to the login page (except /healthz, /favicon.ico, /login/ and /logout/);
- no page answers 500 or shows a traceback;
- a domain the user may not see answers 404 (405 for a method the URL never takes), and
  the refusal shows nothing of that domain;
- a POST by someone who may not change anything (auditor, viewer, user without grants,
  editor on another domain) changes nothing in the database or in the map directory;
- in the read-only demo every POST is refused for every role, and every page says so.

The people and domains are made once per module; every request runs in a savepoint that
is rolled back, so each one meets the same world.
"""

from __future__ import annotations

import re
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.deploys.models import Deploy

pytestmark = [
    pytest.mark.django_db,
    # WhiteNoise warns, once per test client, that STATIC_ROOT was never collected: not under test here.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

PASSWORD = "correct-horse-battery-9"
DOMAIN_A = "example.com"
DOMAIN_B = "example.org"
ROLES = ["anonymous", "alice", "carol", "bob", "dave", "erin"]
READONLY_BANNER = "Read-only demo"

# ---------------------------------------------------------------------------------------
# The routes, straight from the resolver

_PARAM_RE = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")

# What fills a parameter: first the path segment before it says, then its name.
_KIND_BY_SEGMENT = {
    "domains": "domain",
    "aliases": "alias",
    "restore": "history",
    "history": "history",
    "deploys": "deploy",
    "users": "user",
    "webhooks": "hook",
    "deliveries": "delivery",
}
_KIND_BY_PARAM = {
    "name": "domain",
    "alias_id": "alias",
    "history_id": "history",
    "deploy_id": "deploy",
    "user_id": "user",
    "username": "user",
    "domain_id": "domain-pk",
    "hook_id": "hook",
    "delivery_id": "delivery",
    "token_id": "token",
}


def _kind(route: str, match: re.Match[str]) -> str:
    segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
    return _KIND_BY_SEGMENT.get(segment) or _KIND_BY_PARAM.get(match["parameter"], "")


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route text (``domains/<str:name>/``) and its name."""

    route: str
    name: str | None
    regex: bool = False

    @property
    def id(self) -> str:
        return self.name or self.route or "/"

    @property
    def kinds(self) -> list[str]:
        return [_kind(self.route, m) for m in _PARAM_RE.finditer(self.route)]

    @property
    def domain_scoped(self) -> bool:
        return "domain" in self.kinds


def _route_text(pattern: Any) -> tuple[str, bool]:
    if hasattr(pattern, "_route"):
        return str(pattern._route), False
    return str(pattern._regex).lstrip("^").rstrip("$").replace("\\Z", ""), True


def walk(patterns: list[Any], prefix: str = "", namespace: str = "", regex: bool = False) -> Iterator[Route]:
    for pattern in patterns:
        text, is_regex = _route_text(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + text, inner, regex or is_regex)
        elif isinstance(pattern, URLPattern):
            yield Route(prefix + text, f"{namespace}{pattern.name}" if pattern.name else None, regex or is_regex)


# The API (/api/…) takes tokens, not sessions: tests/api/test_api_permissions.py walks it.
ROUTES = [r for r in walk(get_resolver().url_patterns) if not r.route.startswith("api/")]


# ---------------------------------------------------------------------------------------
# What each page is for


@dataclass(frozen=True)
class Who:
    """The role asking, against the domain of the URL (if the URL has one)."""

    role: str
    admin: bool = False
    reads_all: bool = False  # admin or auditor
    sees: bool = True  # may see the URL's domain (True for URLs without a domain)
    writes: bool = False  # may change the aliases of the URL's domain


Statuses = Callable[[Who], set[int]]


@dataclass(frozen=True)
class Rule:
    """The statuses a role may get for GET and for POST. ``changes``: a POST that is let
    through (with this file's payload) changes the database; when false, no POST to the URL
    may change anything, whoever sends it."""

    get: Statuses
    post: Statuses
    changes: bool = False


def fixed(*statuses: int) -> Statuses:
    return lambda who: set(statuses)


def domain_page(who: Who) -> set[int]:
    return {200} if who.sees else {404}


def domain_form(who: Who) -> set[int]:
    """A page only for those who may change the domain's aliases (an edit form)."""
    return {200} if who.writes else {403} if who.sees else {404}


def domain_admin_page(who: Who) -> set[int]:
    """A page of a domain for administrators only: 404 for everyone else."""
    return {200} if who.admin else {404}


def domain_change(*success: int) -> Statuses:
    return lambda who: set(success) if who.writes else {403} if who.sees else {404}


def domain_admin_change(*success: int) -> Statuses:
    return lambda who: set(success) if who.admin else {403} if who.sees else {404}


def admin_page(who: Who) -> set[int]:
    return {200} if who.admin else {404}


def admin_change(*success: int) -> Statuses:
    return lambda who: set(success) if who.admin else {404}


def everything_page(who: Who) -> set[int]:
    return {200} if who.reads_all else {404}


def audited_change(*success: int) -> Statuses:
    """Administrators change it; auditors see the page but are refused (403); others get 404."""
    return lambda who: set(success) if who.admin else {403} if who.reads_all else {404}


def read_post(get: Statuses) -> Statuses:
    """POST to a page that only shows things: refused (405) or answered like a GET."""
    return lambda who: {405} | get(who)


RULES: dict[str, Rule] = {
    "healthz": Rule(fixed(200), read_post(fixed(200))),
    "favicon": Rule(fixed(301), fixed(405)),  # the SVG icon in static, for everyone
    "/": Rule(fixed(302), fixed(302, 405)),
    "login": Rule(fixed(200), fixed(200)),  # the POST carries a wrong password
    "login-code": Rule(fixed(302), fixed(302)),  # nobody is half-way through signing in: back to /login/
    "logout": Rule(fixed(405), fixed(302)),
    "password-change": Rule(fixed(200), fixed(200)),  # the POST carries no passwords
    "password-change-done": Rule(fixed(200), read_post(fixed(200))),
    "resolve": Rule(fixed(200), read_post(fixed(200))),
    # across domains: every signed-in user, each over the domains they may see; the walk's POST to
    # the offboarding page names no address, so it changes nothing (tests/web/test_across_pages.py)
    "search": Rule(fixed(200), read_post(fixed(200))),
    "offboard": Rule(fixed(200), fixed(200)),
    # users and grants: administrators only, a 404 for everyone else
    "user-list": Rule(admin_page, read_post(admin_page)),
    "user-create": Rule(admin_page, admin_change(302), changes=True),
    "user-edit": Rule(admin_page, admin_change(302), changes=True),
    "user-password": Rule(fixed(405), admin_change(302), changes=True),
    "grant-add": Rule(fixed(405), admin_change(302), changes=True),
    # the target is a local account already: the admin's POST is refused (422) and changes nothing
    "user-source": Rule(fixed(405), admin_change(422)),
    "grant-revoke": Rule(fixed(405), admin_change(302), changes=True),
    "audit-log": Rule(everything_page, read_post(everything_page)),
    "node-list": Rule(everything_page, read_post(everything_page)),
    # webhooks: administrators change them, auditors look (403 on a change), nobody else sees them
    "webhook-list": Rule(everything_page, read_post(everything_page)),
    "webhook-create": Rule(audited_change(200), audited_change(200), changes=True),
    "webhook-detail": Rule(everything_page, audited_change(302), changes=True),
    "webhook-rotate": Rule(fixed(405), audited_change(200), changes=True),
    "webhook-test": Rule(fixed(405), audited_change(302), changes=True),
    "webhook-delete": Rule(fixed(405), audited_change(302), changes=True),
    "webhook-retry": Rule(fixed(405), audited_change(302), changes=True),
    # one's own API tokens: every signed-in user makes them; dave's may be revoked by him and by admins
    "token-list": Rule(fixed(200), fixed(302)),
    "language": Rule(fixed(405), fixed(302)),  # each user's own choice; an empty POST keeps the browser's
    "token-revoke": Rule(fixed(405), lambda who: {302} if who.admin or who.role == "dave" else {403}),
    # one's own two-factor login: every signed-in user; nobody here is enrolled
    "two-factor": Rule(fixed(200), fixed(405)),
    "two-factor-enrol": Rule(fixed(405), fixed(302)),  # a new secret (django-otp's tables, not walked)
    "two-factor-codes": Rule(fixed(405), fixed(403)),  # not enrolled: no recovery codes to make
    "two-factor-remove": Rule(fixed(405), fixed(302)),
    # administrators' buttons for another user (dave has no device and no lockout: nothing changes)
    "user-2fa-reset": Rule(fixed(405), admin_change(302)),
    "user-unlock": Rule(fixed(405), admin_change(302)),
    # domains and aliases: read by those who see the domain, changed by its editors
    "domain-list": Rule(fixed(200), fixed(405)),
    "domain-detail": Rule(domain_page, fixed(405)),
    "alias-row": Rule(domain_page, fixed(405)),
    "alias-history": Rule(domain_page, fixed(405)),
    "trash": Rule(domain_page, fixed(405)),
    "deploy-history": Rule(domain_page, read_post(domain_page)),
    "deploy-detail": Rule(domain_page, read_post(domain_page)),
    "deploy-preview": Rule(domain_page, domain_change(302), changes=True),
    "alias-edit": Rule(domain_form, domain_change(200), changes=True),
    "alias-paste": Rule(domain_form, domain_change(302), changes=True),
    # bulk files: the walk's POST holds no file (422, the form again); apply and cancel without a
    # preview in the session go back to the form (302); a preview changes nothing
    "alias-upload": Rule(domain_form, domain_change(422)),
    "alias-upload-apply": Rule(fixed(405), domain_change(302)),
    "alias-upload-cancel": Rule(fixed(405), domain_change(302)),
    "alias-create": Rule(fixed(405), domain_change(302), changes=True),
    "alias-bulk": Rule(fixed(405), domain_change(302), changes=True),
    "alias-toggle": Rule(fixed(405), domain_change(200), changes=True),
    "alias-delete": Rule(fixed(405), domain_change(200), changes=True),
    "alias-restore-version": Rule(fixed(405), domain_change(302), changes=True),
    # the domain itself (header, footer, policy, hand edits): administrators
    "domain-settings": Rule(domain_admin_page, domain_admin_change(302), changes=True),
    "domain-settings-preview": Rule(fixed(405), domain_admin_change(200)),
    # the walk's domains have aliases: making one an alias domain is refused (a message), nothing changes
    "domain-alias-of": Rule(fixed(405), domain_admin_change(302)),
    # the map on disk does not exist in this world: the import refuses (422), changing nothing
    "deploy-import": Rule(fixed(405), domain_admin_change(302, 422), changes=True),
    # rolling back to a deploy: the domain's editors and administrators (a preview, then the button)
    "deploy-rollback": Rule(domain_form, domain_change(302), changes=True),
    # traffic: every signed-in user, each seeing only the numbers of the domains they may see
    "dashboard": Rule(fixed(200), read_post(fixed(200))),
    "dashboard-traffic": Rule(fixed(200), read_post(fixed(200))),
    "unused-aliases": Rule(fixed(200), read_post(fixed(200))),
    # Prometheus: no session; the test client comes from 127.0.0.1, which METRICS_ALLOW lets in
    "metrics": Rule(fixed(200), read_post(fixed(200))),
    # downloads (aliasdesk/web/reports): a domain's, for those who see it; the audit report, for
    # admins and auditors; the reports across domains, for everyone (their visible domains only)
    **{f"{report}-{fmt}": Rule(domain_page, fixed(405))
       for report in ("aliases", "deploys") for fmt in ("csv", "xlsx", "ods", "print")},
    "aliases-report-csv": Rule(domain_page, fixed(405)),
    **{f"audit-{fmt}": Rule(everything_page, fixed(405)) for fmt in ("csv", "xlsx", "ods", "print")},
    **{f"{report}-{fmt}": Rule(fixed(200), fixed(405))
       for report in ("summary", "expiring", "unused") for fmt in ("csv", "xlsx", "ods", "print")},
}

# Reachable without signing in; everything else sends anonymous visitors to /login/.
ANONYMOUS_ROUTES = {"favicon", "healthz", "login", "login-code", "logout", "metrics"}
# Signing in and out stay possible in the read-only demo.
SESSION_ROUTES = {"login", "login-code", "logout"}

# Bugs outside the files this walk may fix, by (test, route, role); None: every role.
# Each is a strict xfail: the day it is fixed the test says so, and the entry goes.
KNOWN_BUGS: dict[tuple[str, str, str | None], str] = {
    # e.g. ("walk", "logout", None): "POST /logout/ answers 500: …",
}


def _params(test: str, routes: list[Route]) -> list[Any]:
    params = []
    for route in routes:
        for role in ROLES:
            reason = KNOWN_BUGS.get((test, route.id, role)) or KNOWN_BUGS.get((test, route.id, None))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(route, role, marks=marks, id=f"{route.id}-{role}"))
    return params


# ---------------------------------------------------------------------------------------
# Fixtures: the people and their domains


@dataclass
class Target:
    """The objects one URL is filled with: a domain and its alias, history entry, deploy."""

    domain: Domain
    alias: Alias
    history_id: int
    deploy: Deploy


@dataclass
class World:
    users: dict[str, User]
    targets: dict[str, Target]  # by domain name
    map_dir: Path

    def who(self, role: str, domain: Domain | None) -> Who:
        if role == "anonymous":
            return Who(role, sees=False)
        user = self.users[role]
        admin = user.is_admin
        reads_all = admin or user.role == User.Role.AUDITOR
        if domain is None:
            return Who(role, admin, reads_all, True, admin)
        grant = user.grants.filter(domain=domain).first()
        sees = reads_all or grant is not None
        writes = admin or (grant is not None and user.role == User.Role.EDITOR and grant.role == "editor")
        return Who(role, admin, reads_all, sees, writes)


def _domain_with_aliases(name: str, admin: User, person: str) -> Target:
    domain = services.create_domain(name, user=admin)
    info = services.create_alias(domain, f"info@{name}", f"{person}@example.net", user=admin, comment="OPS-1")
    first = info.history.order_by("history_id").first().history_id  # type: ignore[attr-defined]
    info = services.update_alias(
        info, version=info.version, user=admin, destinations=f"{person}@example.net, x@example.net"
    )
    info = services.update_alias(info, version=info.version, user=admin, destinations=f"{person}2@example.net")
    services.create_alias(domain, f"sales@{name}", f"{person}-sales@example.net", user=admin)
    services.create_alias(domain, f"old@{name}", f"{person}-old@example.net", user=admin, enabled=False)
    gone = services.create_alias(domain, f"gone@{name}", f"{person}-gone@example.net", user=admin)
    services.soft_delete_alias(gone, version=gone.version, user=admin)
    deploy = Deploy.objects.create(
        domain=domain,
        user=admin,
        status=Deploy.Status.OK,
        serial=1,
        alias_count=3,
        diff=f"+info@{name}\t{person}@example.net\n",
        sha256="0" * 64,
        finished_at=timezone.now(),
    )
    return Target(domain, info, first, deploy)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, postfix_conf, tmp_path_factory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """alice admin, carol auditor, bob editor and dave viewer of example.com, erin with
    nothing; example.com and example.org with a few aliases, history and a deploy each."""
    data_dir = tmp_path_factory.mktemp("permission-walk")
    map_dir = data_dir / "maps"
    map_dir.mkdir()
    with (
        override_settings(
            MAP_DIR=map_dir,
            DATA_DIR=data_dir,
            POSTFIX_CONFIG_DIR=str(postfix_conf),
            POSTMAP=shutil.which("postmap") or "/usr/sbin/postmap",
            # Hashing is not under test here; Argon2 would make the walk slow.
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        alice, _ = add_user("alice", "admin", password=PASSWORD)
        targets = {
            DOMAIN_A: _domain_with_aliases(DOMAIN_A, alice, "anna"),
            DOMAIN_B: _domain_with_aliases(DOMAIN_B, alice, "olga"),
        }
        users = {
            "alice": alice,
            "carol": add_user("carol", "auditor", password=PASSWORD)[0],
            "bob": add_user("bob", "editor", domains=[DOMAIN_A], password=PASSWORD)[0],
            "dave": add_user("dave", "viewer", domains=[DOMAIN_A], password=PASSWORD)[0],
            "erin": add_user("erin", "viewer", password=PASSWORD)[0],
        }
        from aliasdesk.webhooks.models import Delivery, Hook

        hook = Hook.objects.create(url="https://hooks.example.net/in", domain=targets[DOMAIN_A].domain,
                                   events=["alias.created"], secret="whsec_walk")
        Delivery.objects.create(hook=hook, event="walk", body="{}", status="failed", next_attempt_at=timezone.now())
        from aliasdesk.api.tokens import create_token

        create_token(users["dave"], by=None, name="walk")
        yield World(users, targets, map_dir)
        transaction.set_rollback(True)


# ---------------------------------------------------------------------------------------
# Filling and sending


def _value(kind: str, converter: str, target: Target, world: World) -> str:
    if kind == "domain":
        return target.domain.name
    if kind == "domain-pk":
        return str(target.domain.pk)
    if kind == "alias":
        return str(target.alias.pk)
    if kind == "history":
        return str(target.history_id)
    if kind == "deploy":
        return str(target.deploy.pk)
    if kind == "token":  # dave's own API token: he and administrators may revoke it
        from aliasdesk.api.models import ApiToken

        return str(ApiToken.objects.get(user=world.users["dave"]).pk)
    if kind in ("hook", "delivery"):
        from aliasdesk.webhooks.models import Delivery

        delivery = Delivery.objects.get(event="walk")  # made by the world, failed: a retry changes it
        return str(delivery.hook_id if kind == "hook" else delivery.pk)
    # user pages act on dave, who has a grant to revoke and is never the admin acting
    dave = world.users["dave"]
    return str(dave.pk) if converter == "int" else dave.username


def url_for(route: Route, target: Target, world: World, objects: Target | None = None) -> str:
    """The route with its parameters filled from ``target`` (objects from ``objects``, if given)."""
    if route.regex and "(?P<" in route.route:
        pytest.fail(f"route {route.id!r} is a regular expression with groups ({route.route}): fill it by hand here")

    def fill(match: re.Match[str]) -> str:
        kind = _kind(route.route, match)
        if not kind:
            pytest.fail(
                f"route {route.id!r} (/{route.route}) has the parameter <{match['parameter']}>, which this walk "
                f"cannot fill: say in _KIND_BY_PARAM or _KIND_BY_SEGMENT of {Path(__file__).name} what it names"
            )
        source = target if kind in ("domain", "domain-pk") else objects or target
        return _value(kind, match["converter"] or "str", source, world)

    return "/" + _PARAM_RE.sub(fill, route.route)


def targets_of(route: Route, world: World) -> list[Target]:
    """Domain URLs are walked for both domains; the others once."""
    if route.domain_scoped:
        return [world.targets[DOMAIN_A], world.targets[DOMAIN_B]]
    return [world.targets[DOMAIN_A]]


def payload(route: Route, target: Target, world: World) -> dict[str, Any]:
    """POST data that would change something if the view let it through."""
    domain = Domain.objects.get(pk=target.domain.pk)
    alias = Alias.objects.get(pk=target.alias.pk)
    live = Alias.objects.filter(domain=domain, deleted_at__isnull=True).values_list("pk", flat=True)
    data: dict[str, Any] = {
        # generic fields, for pages this file does not know yet
        "version": str(alias.version),
        "header": "# changed by the permission walk",
        "footer": "# changed by the permission walk",
        "comment": "changed by the permission walk",
        "ids": [str(pk) for pk in live],
        "action": "disable",
        "text": f"pasted@{domain.name}  walk@example.net\n",
        "password": "Another-secret-42",
        "password2": "Another-secret-42",
    }
    per_route: dict[str, dict[str, Any]] = {
        "alias-create": {"key": f"created@{domain.name}", "destinations": "walk@example.net"},
        "alias-edit": {"key": alias.key, "destinations": "walk@example.net", "enabled": "on"},
        "domain-settings": {"version": str(domain.version)},
        "deploy-rollback": {"serial": str(domain.serial)},
        "login": {"username": "alice", "password": "wrong-password-0"},
        "password-change": {"old_password": "", "new_password1": "", "new_password2": ""},
        "user-create": {"username": "mallory", "role": "admin"},
        "user-edit": {"role": "viewer"},
        "user-source": {"to": "local"},  # and not is_active: dave is switched off
        "grant-add": {"domain": str(world.targets[DOMAIN_B].domain.pk), "role": "viewer"},
        "webhook-create": {"url": "https://walk.example.net/", "events": ["alias.created"], "enabled": "on"},
        "webhook-detail": {"url": "https://walk.example.net/", "events": ["deploy.failed"], "enabled": "on"},
    }
    data.update(per_route.get(route.id, {}))
    return data


def _tables() -> list[tuple[str, str]]:
    """(label, table) of aliasdesk's models, history and many-to-many tables included; not the
    security log, which records sign-ins and failures whatever the page answers."""
    return [
        (model._meta.label, model._meta.db_table)
        for label in ("accounts", "aliases", "deploys", "webhooks")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.label != "accounts.SecurityEvent"
    ]


def snapshot(map_dir: Path) -> dict[str, Any]:
    """Every row of aliasdesk's tables (but sign-in times) and the files of the map dir."""
    state: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for label, table in _tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [c[0] for c in cursor.description]
            keep = [i for i, column in enumerate(columns) if column != "last_login"]
            state[label] = sorted((tuple(row[i] for i in keep) for row in cursor.fetchall()), key=repr)
    state["files"] = sorted(
        (str(p.relative_to(map_dir)), p.stat().st_size, p.stat().st_mtime_ns) for p in map_dir.rglob("*")
    )
    return state


def differences(before: dict[str, Any], after: dict[str, Any]) -> str:
    return ", ".join(sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name)))


@dataclass
class Answer:
    status: int
    body: str
    location: str
    changed: str  # tables or "files" that changed; "" when nothing did
    final_path: str = ""
    error: str = ""


class Clients:
    """One test client per role, signed in again when a request signed it out."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clients: dict[str, Client] = {}

    def __call__(self, role: str) -> Client:
        client = self.clients.setdefault(role, Client())
        session = client.cookies.get(settings.SESSION_COOKIE_NAME)
        if role != "anonymous" and (session is None or not session.value):
            client.force_login(self.world.users[role])
        return client


@pytest.fixture
def clients(world: World) -> Clients:
    return Clients(world)


def send(clients: Clients, role: str, method: str, url: str, data: dict[str, Any], follow: bool = False) -> Answer:
    """One request as ``role``; what it changes is rolled back (database) or removed (files)."""
    client, world = clients(role), clients.world
    with transaction.atomic():
        before = snapshot(world.map_dir)
        try:
            response = client.get(url, follow=follow) if method == "GET" else client.post(url, data, follow=follow)
        except Exception:
            lines = traceback.format_exc().strip().splitlines()
            return Answer(500, "", "", "", error=" | ".join(lines[-3:]))
        finally:
            after = snapshot(world.map_dir)
            transaction.set_rollback(True)
            old = {entry[0] for entry in before["files"]}
            for path in sorted(world.map_dir.rglob("*"), reverse=True):
                if str(path.relative_to(world.map_dir)) not in old:
                    path.unlink() if not path.is_dir() else path.rmdir()
    body = "" if getattr(response, "streaming", False) else response.content.decode("utf-8", "replace")
    return Answer(
        response.status_code,
        body,
        response.get("Location", ""),
        differences(before, after),
        final_path=response.request["PATH_INFO"],
    )


def _is_page(answer: Answer) -> bool:
    return "<html" in answer.body


def _general_problems(who: Who, method: str, url: str, answer: Answer, target: Target | None) -> list[str]:
    """What must hold whatever the route is for."""
    where = f"{method} {url} as {who.role}"
    if answer.error:
        return [f"{where} raised: {answer.error}"]
    problems = []
    if answer.status >= 500:
        problems.append(f"{where} answered {answer.status}")
    if "Traceback" in answer.body or "Exception Value" in answer.body:
        problems.append(f"{where} shows a traceback")
    if target is not None and not who.sees and answer.status not in (404, 405):
        problems.append(f"{where}: {target.domain.name} is invisible to {who.role}, expected 404, got {answer.status}")
    if answer.status in (403, 404) and target is not None:
        shown = [a.destinations for a in Alias.objects.filter(domain=target.domain) if a.destinations in answer.body]
        if shown:
            problems.append(f"{where}: the refusal shows the domain's aliases ({shown[0]})")
    return problems


# ---------------------------------------------------------------------------------------
# The walk


def test_the_walk_finds_the_pages():
    found = {r.id for r in ROUTES}
    assert {"healthz", "login", "domain-list", "domain-detail", "alias-edit", "deploy-preview"} <= found


def test_every_route_has_a_rule():
    missing = [f"{r.id} (/{r.route})" for r in ROUTES if r.id not in RULES]
    assert not missing, (
        f"these URLs are walked under the general rules only; say in RULES of {Path(__file__).name} "
        f"who may read them and who may change through them: {', '.join(missing)}"
    )


@pytest.mark.parametrize(("route", "role"), _params("walk", ROUTES))
def test_each_role_gets_what_the_page_is_for(route: Route, role: str, world: World, clients: Clients):
    problems: list[str] = []
    rule = RULES.get(route.id)
    for target in targets_of(route, world):
        url = url_for(route, target, world)
        who = world.who(role, target.domain if route.domain_scoped else None)
        scoped = target if route.domain_scoped else None
        for method in ("GET", "POST"):
            data = payload(route, target, world) if method == "POST" else {}
            where = f"{method} {url} as {role}"
            if role == "anonymous" and route.id not in ANONYMOUS_ROUTES:
                answer = send(clients, role, method, url, data, follow=True)
                problems += _general_problems(replace(who, sees=True), method, url, answer, scoped)
                if answer.final_path != settings.LOGIN_URL or answer.status != 200:
                    problems.append(f"{where}: expected the login page, ended at {answer.final_path} ({answer.status})")
                if answer.changed:
                    problems.append(f"{where} changed {answer.changed}")
                continue
            answer = send(clients, role, method, url, data)
            problems += _general_problems(who, method, url, answer, scoped if role != "anonymous" else None)
            may_change = (who.writes or who.admin) and (rule is None or rule.changes)
            if method == "POST" and answer.changed and not may_change:
                problems.append(f"{where} answered {answer.status} but changed {answer.changed}")
            if rule is None:
                continue
            expected = (rule.get if method == "GET" else rule.post)(who)
            if answer.status not in expected:
                problems.append(f"{where}: expected {sorted(expected)}, got {answer.status} {answer.location}")
            elif method == "POST" and rule.changes and may_change and answer.status < 400 and not answer.changed:
                problems.append(f"{where} answered {answer.status} but changed nothing: is the payload still right?")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["bob", "dave", "erin"])
def test_pages_that_search_everything_show_nothing_of_domains_one_may_not_see(role: str, clients: Clients):
    hidden = ["example.org", "olga@example.net", "olga2@example.net", "olga-sales@example.net"]
    for url in ["/domains/", "/resolve/?address=info@example.org", "/resolve/?address=sales@example.org",
                "/dashboard/", "/dashboard/traffic.json?range=30d", "/traffic/unused/?days=30",
                "/search/?q=example.net", "/offboard/?old=olga@example.net&new=x@example.net"]:
        answer = send(clients, role, "GET", url, {})
        assert answer.status == 200, f"GET {url} as {role}: {answer.status} {answer.error}"
        shown = [text for text in hidden if text in answer.body and f"={text}" not in url]
        # the address typed comes back in the form; what it resolves to must not
        shown = [text for text in shown if text != "example.org" or "/resolve/" not in url]
        assert not shown, f"GET {url} as {role} shows {shown}"


OBJECT_ROUTES = [r for r in ROUTES if r.domain_scoped and {"alias", "history", "deploy"} & set(r.kinds)]


@pytest.mark.parametrize("role", ["alice", "bob"])
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=[r.id for r in OBJECT_ROUTES])
def test_objects_of_another_domain_stay_out_of_reach(route: Route, role: str, world: World, clients: Clients):
    """/domains/example.com/aliases/<an alias of example.org>/… must not show or touch it."""
    url = url_for(route, world.targets[DOMAIN_A], world, objects=world.targets[DOMAIN_B])
    problems = []
    for method in ("GET", "POST"):
        data = payload(route, world.targets[DOMAIN_B], world) if method == "POST" else {}
        answer = send(clients, role, method, url, data)
        if answer.status not in (404, 405):
            problems.append(f"{method} {url} as {role}: expected 404, got {answer.status} {answer.error}")
        if answer.changed:
            problems.append(f"{method} {url} as {role} changed {answer.changed}")
    assert not problems, "\n".join(problems)


_FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
_BUTTON_RE = re.compile(r"<button\b([^>]*)>|<input\b([^>]*type=[\"']?submit[^>]*)>", re.IGNORECASE)
_HX_WRITE_RE = re.compile(r"\bhx-(?:post|put|patch|delete)=[\"']([^\"']*)", re.IGNORECASE)


def _write_controls(body: str) -> list[str]:
    """htmx calls and POST forms with a working submit button (signing in and out aside)."""
    found = [f"hx-post to {url}" for url in _HX_WRITE_RE.findall(body)]
    for attrs, inner in _FORM_RE.findall(body):
        if not re.search(r"method=[\"']?post", attrs, re.IGNORECASE) or re.search(r"/log(?:in|out)/", attrs):
            continue
        for button, submit in _BUTTON_RE.findall(inner):
            attrs_of = button or submit
            if "disabled" not in attrs_of and not re.search(r"type=[\"']?button", attrs_of):
                found.append(f"<form{attrs}> with a submit button")
                break
    return found


@pytest.mark.parametrize(("route", "role"), _params("demo", ROUTES))
def test_readonly_demo_refuses_every_post_and_says_so(  # type: ignore[no-untyped-def]
    route: Route, role: str, world: World, clients: Clients, settings
):
    settings.DEMO_READONLY = True
    problems: list[str] = []
    rule = RULES.get(route.id)
    for target in targets_of(route, world):
        url = url_for(route, target, world)
        who = replace(world.who(role, target.domain if route.domain_scoped else None), writes=False)
        if route.id not in SESSION_ROUTES:
            answer = send(clients, role, "POST", url, payload(route, target, world))
            problems += _general_problems(replace(who, sees=True), "POST", url, answer, None)
            if answer.status != 403 or "read-only" not in answer.body:
                problems.append(f"POST {url} as {role} in the demo: expected 403 read-only, got {answer.status}")
            if answer.changed:
                problems.append(f"POST {url} as {role} in the demo changed {answer.changed}")
        answer = send(clients, role, "GET", url, {}, follow=role == "anonymous")
        problems += _general_problems(replace(who, sees=True), "GET", url, answer, None)
        if rule is not None and role != "anonymous" and answer.status not in rule.get(who) | {403}:
            problems.append(f"GET {url} as {role} in the demo: expected {sorted(rule.get(who))}, got {answer.status}")
        if _is_page(answer) and READONLY_BANNER not in answer.body:
            problems.append(f"GET {url} as {role} in the demo: no read-only banner")
        if answer.status == 200 and _is_page(answer) and _write_controls(answer.body):
            problems.append(f"GET {url} as {role} in the demo offers changes: {_write_controls(answer.body)}")
    assert not problems, "\n".join(problems)
