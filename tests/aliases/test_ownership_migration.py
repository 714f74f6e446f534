"""Migration 0006: every existing map owns the mail domains of the keys it holds today.

Rows are made with the historical models at 0005, then the migration runs. A mail domain
held by several maps goes to the map named after it, else to the one with the most of its
keys (the older map on a tie); every other holder gets an OwnershipConflict, so its
deploys warn instead of failing.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("aliases", "0005_mail_domains")]
AFTER = [("aliases", "0006_mail_domains_from_keys")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def at_0005() -> Iterator[Any]:
    apps = migrate(BEFORE)
    yield apps
    migrate_latest()  # for the tests that follow


def _maps(apps: Any, tmp_path: Any) -> dict[str, Any]:
    Domain = apps.get_model("aliases", "Domain")
    Alias = apps.get_model("aliases", "Alias")

    def domain(name: str, **fields: Any) -> Any:
        return Domain.objects.create(name=name, map_path=str(tmp_path / name), **fields)

    def keys(d: Any, *names: str, **fields: Any) -> None:
        for key in names:
            Alias.objects.create(domain=d, key=key, key_folded=key.lower(), destinations="x@example.org", **fields)

    alpha = domain("alpha.example")
    beta = domain(
        "beta.example",
        header="# by hand\nh1@fourth.example\tx@example.org\n#off@tie2.example\tx@example.org\n",
        footer="h2@FOURTH.example\tx@example.org\n",
    )
    gamma = domain("gamma.example")
    dead = domain("dead.example", deleted_at=timezone.now())
    keys(alpha, "info@alpha.example", "@alpha.example", "root", "legacy.example")
    keys(alpha, "a@third.example", "b@third.example", "c@THIRD.example")  # 3 of third.example
    keys(alpha, "sales@beta.example")  # the other map's own domain
    keys(alpha, "a@fourth.example")
    keys(alpha, "a@tie.example")
    keys(alpha, *(f"k{i}@gamma.example" for i in range(5)))  # more than gamma holds itself
    keys(alpha, "a@xn--bcher-kva.example", "b@bücher.example")  # one mail domain, two spellings
    keys(beta, "info@beta.example", "d@third.example", "b@tie.example")
    keys(beta, "e@third.example", "f@third.example", "g@third.example", deleted_at=timezone.now())  # in the trash
    keys(beta, "off@solo.example", enabled=False)  # switched off: still a key of the map
    keys(gamma, "info@gamma.example")
    keys(dead, *(f"z{i}@third.example" for i in range(10)))  # a deleted map holds nothing
    return {"alpha": alpha.pk, "beta": beta.pk, "gamma": gamma.pk, "dead": dead.pk}


def test_migration_gives_each_map_the_mail_domains_of_its_keys(at_0005: Any, tmp_path: Any) -> None:
    pks = _maps(at_0005, tmp_path)
    apps = migrate(AFTER)
    Domain = apps.get_model("aliases", "Domain")
    MailDomain = apps.get_model("aliases", "MailDomain")
    OwnershipConflict = apps.get_model("aliases", "OwnershipConflict")
    name = {pk: key for key, pk in pks.items()}

    owners = {md.name: name[md.domain_id] for md in MailDomain.objects.all()}
    assert owners == {
        "alpha.example": "alpha",
        "beta.example": "beta",  # named after it: keeps it although alpha holds a key of it too
        "gamma.example": "gamma",  # named after it, although alpha holds more of its keys
        "dead.example": "dead",
        "third.example": "alpha",  # 3 keys against beta's 1 (the trash and the deleted map do not count)
        "fourth.example": "beta",  # header and footer entries count: 2 against 1
        "tie.example": "alpha",  # 1 each: the older map
        "bücher.example": "alpha",
        "solo.example": "beta",
    }
    extras = {name[d.pk]: d.extra_domains for d in Domain.objects.all()}
    assert extras == {
        "alpha": "bücher.example\nthird.example\ntie.example",
        "beta": "fourth.example\nsolo.example",
        "gamma": "",
        "dead": "",
    }
    conflicts = sorted((name[c.domain_id], c.mail_domain, c.keys) for c in OwnershipConflict.objects.all())
    assert conflicts == [
        ("alpha", "beta.example", 1),
        ("alpha", "fourth.example", 1),
        ("alpha", "gamma.example", 5),
        ("beta", "third.example", 1),
        ("beta", "tie.example", 1),
    ]


def test_after_the_migration_every_map_still_deploys(at_0005: Any, tmp_path: Any, aliasdesk_settings: Any) -> None:
    from tests.conftest import require_postmap

    require_postmap()
    _maps(at_0005, tmp_path)
    migrate(AFTER)
    migrate_latest()  # the deploy engine uses today's models
    from aliasdesk.aliases.models import Domain
    from aliasdesk.deploys.engine import deploy_domain

    for domain in Domain.objects.filter(deleted_at__isnull=True).order_by("name"):
        result = deploy_domain(domain)
        assert result.status == "ok", (domain.name, result.message)
        errors = [f for f in result.findings if f.severity == "error"]
        assert not errors, (domain.name, errors)
        if domain.name == "alpha.example":
            tolerated = {f.key for f in result.findings if f.code == "foreign-key-tolerated"}
            assert tolerated == {"sales@beta.example", "a@fourth.example"} | {f"k{i}@gamma.example" for i in range(5)}


def test_migration_backwards_forgets_the_ownership(at_0005: Any, tmp_path: Any) -> None:
    _maps(at_0005, tmp_path)
    migrate(AFTER)
    apps = migrate(BEFORE)
    assert not apps.get_model("aliases", "MailDomain").objects.exists()
    assert not apps.get_model("aliases", "OwnershipConflict").objects.exists()
    assert set(apps.get_model("aliases", "Domain").objects.values_list("extra_domains", flat=True)) == {""}


def test_check_lists_the_conflicts(at_0005: Any, tmp_path: Any) -> None:
    _maps(at_0005, tmp_path)
    migrate(AFTER)
    migrate_latest()  # the checks wait for a fully migrated database
    out, err = io.StringIO(), io.StringIO()
    with contextlib.suppress(SystemExit):
        call_command("check", stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()
    assert "third.example" in text and "beta.example" in text


def test_migrate_never_stops_on_keys_an_admin_has_yet_to_settle(db, aliasdesk_settings, map_dir) -> None:  # type: ignore[no-untyped-def]
    """Only `aliasdesk check` lists ownership problems; other commands run the system checks too."""
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from aliasdesk.aliases.models import Alias
    from aliasdesk.aliases.services import create_domain

    a = create_domain("a.example", map_path=map_dir / "a.example")
    create_domain("b.example", map_path=map_dir / "b.example")
    Alias.objects.create(domain=a, key="x@b.example", key_folded="x@b.example", destinations="y@c.example")
    call_command("migrate", verbosity=0)
    with pytest.raises(SystemCheckError, match=r"aliasdesk\.E001.*x@b\.example"):
        call_command("check")
    call_command("migrate", verbosity=0)  # the check is the check command's alone
