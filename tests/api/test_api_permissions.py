"""Every API route, with every role and token scope, on a domain each may or may not see.

The routes come from the OpenAPI document, so a route added later fails
``test_every_route_has_a_rule`` until this file says who it is for. What must hold:

- a domain the token may not see: 404, and the answer shows nothing of it;
- one it may see but not change (viewer, auditor, read-only token, editor of another
  domain, a token limited to other domains): 403 on every change, and nothing changes;
- those who may change it: the operation's success status;
- every answer is JSON; none is a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from aliasdesk.accounts.models import User
from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.api.api import api
from tests.api.conftest import Api, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

# (person, token options): who asks, through which kind of token
ASKERS: dict[str, tuple[str, dict[str, Any]]] = {
    "alice": ("alice", {}),
    "alice-read-only": ("alice", {"read_only": True}),
    "alice-other-org": ("alice", {"domains": ["other.org"]}),
    "bob": ("bob", {}),
    "bob-read-only": ("bob", {"read_only": True}),
    "carol": ("carol", {}),
    "dave": ("dave", {}),
    "erin": ("erin", {}),
}


@dataclass(frozen=True)
class Who:
    sees: bool
    writes: bool
    administers: bool


def who(asker: str, domain: str) -> Who:
    """What the asker may do on the domain, by the roles of tests/web/conftest.py."""
    person, options = ASKERS[asker]
    scoped = options.get("domains")
    in_scope = scoped is None or domain in scoped
    read_only = bool(options.get("read_only"))
    if person == "alice":
        return Who(in_scope, in_scope and not read_only, not read_only and scoped is None)
    if person == "carol":
        return Who(True, False, False)
    if person in ("bob", "dave"):
        sees = domain == "example.com"
        return Who(sees, sees and person == "bob" and not read_only, False)
    return Who(False, False, False)


def read(ok: int = 200) -> Callable[[Who], int]:
    return lambda w: ok if w.sees else 404


def change(ok: int = 200) -> Callable[[Who], int]:
    return lambda w: ok if w.writes else 403 if w.sees else 404


def admin_change(ok: int = 200) -> Callable[[Who], int]:
    return lambda w: ok if w.administers else 403 if w.sees else 404


@dataclass
class Target:
    domain: Domain
    live: Alias  # info@: switched on, with history
    off: Alias  # old@: switched off
    trashed: Alias  # gone@: in the trash
    first_history: int


def _target(domain: Domain) -> Target:
    name = domain.name
    info = Alias.objects.get(domain=domain, key=f"info@{name}")
    info = services.update_alias(info, version=info.version, destinations=f"changed@{name}")
    off = services.create_alias(domain, f"old@{name}", "old@example.net", enabled=False)
    gone = services.create_alias(domain, f"gone@{name}", "gone@example.net")
    gone = services.soft_delete_alias(gone, version=gone.version)
    first = info.history.order_by("history_id").first().history_id  # type: ignore[attr-defined]
    return Target(domain, info, off, gone, first)


# method, path (filled from the target), body (from the target), the status each may get
Route = tuple[str, str, Callable[[Target], Any], Callable[[Who], int]]
NONE: Callable[[Target], Any] = lambda t: None  # noqa: E731

ROUTES: dict[str, Route] = {
    "domain": ("GET", "domains/{d}", NONE, read()),
    "list": ("GET", "domains/{d}/aliases?q=info", NONE, read()),
    "create": ("POST", "domains/{d}/aliases", lambda t: {"key": f"new@{t.domain.name}", "destinations": ["n@x.net"]},
               change(201)),
    "set": ("PUT", "domains/{d}/aliases", lambda t: {"aliases": [{"key": f"info@{t.domain.name}",
                                                                   "destinations": ["only@x.net"]}]}, change()),
    "set-dry-run": ("PUT", "domains/{d}/aliases?dry_run=true", lambda t: {"aliases": []}, read()),
    "alias": ("GET", "domains/{d}/aliases/{live}", NONE, read()),
    "patch": ("PATCH", "domains/{d}/aliases/{live}", lambda t: {"version": t.live.version, "comment": "walk"},
              change()),
    "enable": ("POST", "domains/{d}/aliases/{off}/enable", NONE, change()),
    "disable": ("POST", "domains/{d}/aliases/{live}/disable", lambda t: {"version": t.live.version}, change()),
    "delete": ("DELETE", "domains/{d}/aliases/{live}", NONE, change()),
    "restore": ("POST", "domains/{d}/aliases/{trashed}/restore", NONE, change()),
    "purge": ("POST", "domains/{d}/aliases/{trashed}/purge", NONE, admin_change(204)),
    "history": ("GET", "domains/{d}/aliases/{live}/history", NONE, read()),
    "restore-version": ("POST", "domains/{d}/aliases/{live}/history/{first}/restore", NONE, change()),
    "traffic": ("GET", "domains/{d}/aliases/{live}/traffic", NONE, read()),
    "bulk": ("POST", "domains/{d}/aliases/bulk", lambda t: {"action": "disable", "ids": [t.live.pk]}, change()),
    "bulk-purge": ("POST", "domains/{d}/aliases/bulk", lambda t: {"action": "purge", "ids": [t.trashed.pk]},
                   admin_change()),
    "bulk-create": ("POST", "domains/{d}/aliases/bulk-create",
                    lambda t: {"aliases": [{"key": f"b{i}@{t.domain.name}", "destinations": ["b@x.net"]}
                                           for i in range(3)]}, change(201)),
    "deploy-preview": ("GET", "domains/{d}/deploy", NONE, read()),
    "deploy": ("POST", "domains/{d}/deploy", NONE, change()),
    "deploys": ("GET", "domains/{d}/deploys", NONE, read()),
    "unused": ("GET", "reports/unused?domain={d}", NONE, read()),
    "stats": ("GET", "stats?domain={d}", NONE, read()),
}
# Routes without a domain in their path, checked in their own tests below.
UNSCOPED = {"/api/v1/me", "/api/v1/domains", "/api/v1/resolve", "/api/v1/reports/unused",
            "/api/v1/domains/{name}/deploys/{deploy_id}",
            # across domains: tests/api/test_across_api.py
            "/api/v1/search", "/api/v1/offboard"}


def _fill(path: str, target: Target) -> str:
    return path.format(
        d=target.domain.name, live=target.live.pk, off=target.off.pk, trashed=target.trashed.pk,
        first=target.first_history,
    )


def _state(domain: Domain) -> list[tuple[Any, ...]]:
    rows = Alias.objects.filter(domain=domain).order_by("pk")
    return [*rows.values_list("pk", "key", "destinations", "enabled", "comment", "deleted_at", "version"),
            ("serial", Domain.objects.get(pk=domain.pk).serial)]


def test_every_route_has_a_rule() -> None:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    documented = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    walked = set()
    for method, path, _, _ in ROUTES.values():
        template = "/api/v1/" + path.split("?")[0]
        template = template.replace("{d}", "{name}").replace("{first}", "{history_id}")
        for part in ("{live}", "{off}", "{trashed}"):
            template = template.replace(part, "{alias_id}")
        walked.add((method, template))
    missing = {(m, p) for m, p in documented - walked if p not in UNSCOPED}
    assert not missing, f"say in ROUTES of {__name__} who may use: {sorted(missing)}"


@pytest.fixture
def targets(example: Domain, other: Domain, everyone: dict[str, User]) -> dict[str, Target]:
    return {"example.com": _target(example), "other.org": _target(other)}


@pytest.mark.parametrize("asker", sorted(ASKERS))
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_asker_gets_what_the_route_is_for(
    route: str, asker: str, targets: dict[str, Target], everyone: dict[str, User]
) -> None:
    method, path, body, rule = ROUTES[route]
    person, options = ASKERS[asker]
    client = Api(token_for(everyone[person], **options))
    problems = []
    for name, target in targets.items():
        allowed = who(asker, name)
        expected = rule(allowed)
        before = _state(target.domain)
        response = client.call(method, _fill(path, target), body(target))
        where = f"{method} {_fill(path, target)} as {asker}"
        if response.status_code != expected:
            problems.append(f"{where}: expected {expected}, got {response.status_code} {response.content[:300]!r}")
        if response.status_code != 204:
            assert response["Content-Type"].startswith("application/json"), where
            json.loads(response.content)
        if response.status_code >= 400:
            assert "detail" in response.json(), where
            if expected != 200 or not allowed.sees:
                changed = _state(target.domain) != before
                if changed:
                    problems.append(f"{where} answered {response.status_code} but changed the domain")
        if not allowed.sees and response.status_code == 404:
            hidden = [a.destinations for a in Alias.objects.filter(domain=target.domain)]
            shown = [text for text in hidden if text in response.content.decode()]
            if shown:
                problems.append(f"{where}: the 404 shows {shown}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("asker", sorted(ASKERS))
def test_the_domain_list_holds_what_the_token_sees(
    asker: str, targets: dict[str, Target], everyone: dict[str, User]
) -> None:
    person, options = ASKERS[asker]
    client = Api(token_for(everyone[person], **options))
    listed = {d["name"]: d["writable"] for d in client.get("domains").json()}
    assert listed == {name: who(asker, name).writes for name in targets if who(asker, name).sees}


@pytest.mark.parametrize("asker", sorted(ASKERS))
def test_resolve_and_unused_show_only_the_tokens_domains(
    asker: str, targets: dict[str, Target], everyone: dict[str, User]
) -> None:
    person, options = ASKERS[asker]
    client = Api(token_for(everyone[person], **options))
    answer = client.get("resolve", address="info@other.org")
    assert answer.status_code == 200
    visible = who(asker, "other.org").sees
    assert ("changed@other.org" in answer.content.decode()) == visible
    assert ("other.org" in answer.json()["maps"]) == visible
    unused = client.get("reports/unused", days=1).json()
    assert {row["domain"] for row in unused["results"]} <= {n for n in targets if who(asker, n).sees}
    me = client.get("me").json()
    assert me["username"] == person and me["read_only"] == bool(options.get("read_only"))
    # the whole server's numbers only for those who read every domain with a token for all of them
    whole = person in ("alice", "carol") and "domains" not in options
    stats = client.get("stats")
    assert stats.status_code == 200 and stats.json()["scope"] == ("server" if whole else "domains")
    assert client.get("stats", host="mx1").status_code == (200 if whole else 404)


def test_a_deploy_of_another_domain_is_not_found(targets: dict[str, Target], everyone: dict[str, User]) -> None:
    alice = Api(token_for(everyone["alice"]))
    assert alice.post("domains/other.org/deploy").status_code == 200
    deploy_id = alice.get("domains/other.org/deploys").json()["results"][0]["id"]
    assert alice.get(f"domains/other.org/deploys/{deploy_id}").status_code == 200
    assert alice.get(f"domains/example.com/deploys/{deploy_id}").status_code == 404
    bob = Api(token_for(everyone["bob"]))
    assert bob.get(f"domains/other.org/deploys/{deploy_id}").status_code == 404


def test_an_alias_of_another_domain_is_not_found(targets: dict[str, Target], everyone: dict[str, User]) -> None:
    alice = Api(token_for(everyone["alice"]))
    foreign = targets["other.org"].live
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/disable"), ("GET", "/history")]:
        body = {"version": foreign.version, "comment": "x"} if method == "PATCH" else None
        answer = alice.call(method, f"domains/example.com/aliases/{foreign.pk}{path}", body)
        assert answer.status_code == 404, (method, path, answer.content)
    assert Alias.objects.get(pk=foreign.pk).version == foreign.version
