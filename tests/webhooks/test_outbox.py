"""The outbox: every write path queues its events in the change's own transaction.

Form, service, bulk, paste, import, restore of a version, rollback, deploys and drift: each
leaves one pending Delivery per interested hook, and a change that rolls back leaves none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse

from aliasdesk.accounts.channel import via
from aliasdesk.accounts.models import User
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.importer import import_map
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import (
    add_pasted,
    bulk_change,
    create_alias,
    create_domain,
    restore_alias,
    restore_version,
    soft_delete_alias,
    update_alias,
)
from aliasdesk.deploys import rollback
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.webhooks.models import EVENTS, Delivery, Hook
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]


def hook(domain: Domain | None = None, events: list[str] | None = None, **fields: object) -> Hook:
    return Hook.objects.create(
        url="http://127.0.0.1:9/hook", domain=domain, events=events or list(EVENTS), secret="s", allow_private=True,
        **fields,
    )


def sent(event: str | None = None) -> list[dict[str, object]]:
    rows = Delivery.objects.order_by("id")
    if event:
        rows = rows.filter(event=event)
    return [json.loads(d.body) for d in rows]


def events() -> list[str]:
    return list(Delivery.objects.order_by("id").values_list("event", flat=True))


@pytest.fixture
def domain(aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    return create_domain("example.com", map_path=map_dir / "example.com")


@pytest.fixture
def admin() -> User:
    return User.objects.create(username="root-admin", role=User.Role.ADMIN)


def test_a_created_alias_queues_its_event_with_the_alias(domain, admin):
    hook()
    alias = create_alias(domain, "info@example.com", "anna@example.org, ben@example.org", user=admin, comment="OPS-1")
    (body,) = sent()
    assert body["event"] == "alias.created"
    assert body["domain"] == "example.com"
    assert body["who"] == "root-admin"
    assert body["channel"] == "system"  # no request, no via(): the code itself
    assert body["alias"] == {
        "id": alias.pk, "key": "info@example.com", "destinations": ["anna@example.org", "ben@example.org"],
        "enabled": True, "comment": "OPS-1", "version": 1, "valid_until": None,
    }
    assert body["time"] and body["id"]


def test_nothing_is_queued_without_a_hook_that_wants_it(domain, map_dir):
    other = create_domain("other.org", map_path=map_dir / "other.org")
    hook(domain=other)  # another domain's
    hook(events=["deploy.failed"])  # another event
    hook(enabled=False)  # switched off
    create_alias(domain, "info@example.com", "anna@example.org")
    assert Delivery.objects.count() == 0
    create_alias(other, "info@other.org", "anna@example.org")
    assert events() == ["alias.created"]


def test_a_change_that_rolls_back_leaves_no_delivery(domain):
    hook()
    with pytest.raises(RuntimeError), transaction.atomic():
        create_alias(domain, "info@example.com", "anna@example.org")
        assert Delivery.objects.count() == 1  # written with the change...
        raise RuntimeError("the caller fails after the change")
    assert Delivery.objects.count() == 0  # ...and gone with it
    with pytest.raises(AliasError):  # refused inside the service: nothing either
        create_alias(domain, "bad key", "anna@example.org")
    assert Delivery.objects.count() == 0


def test_update_enable_disable_delete_restore_each_say_what_they_are(domain):
    hook()
    alias = create_alias(domain, "info@example.com", "anna@example.org")
    alias = update_alias(alias, version=alias.version, destinations="ben@example.org")
    alias = update_alias(alias, version=alias.version, enabled=False)
    alias = soft_delete_alias(alias, version=alias.version)
    alias = restore_alias(alias, version=alias.version)
    assert events() == ["alias.created", "alias.changed", "alias.changed", "alias.deleted", "alias.restored"]
    bodies = sent()
    assert bodies[1]["alias"]["destinations"] == ["ben@example.org"]  # type: ignore[index]
    assert bodies[2]["alias"]["enabled"] is False  # type: ignore[index]
    assert bodies[4]["alias"]["version"] == 5  # type: ignore[index]


def test_bulk_changes_and_purge_queue_one_event_per_alias(domain, admin):
    hook()
    ids = [create_alias(domain, f"a{i}@example.com", "anna@example.org").pk for i in range(3)]
    Delivery.objects.all().delete()
    bulk_change(domain, ids, "disable", user=admin)
    bulk_change(domain, ids, "delete", user=admin)
    bulk_change(domain, ids, "restore", user=admin)
    bulk_change(domain, ids, "delete", user=admin)
    bulk_change(domain, ids, "purge", user=admin)
    assert events() == ["alias.changed"] * 3 + ["alias.deleted"] * 3 + ["alias.restored"] * 3 + [
        "alias.deleted"
    ] * 3 + ["alias.purged"] * 3
    assert {b["reason"] for b in sent("alias.changed")} == {"bulk disable"}


def test_paste_and_restore_of_a_version_queue_events(domain, admin):
    hook()
    add_pasted(domain, "a@example.com  anna@example.org\nb@example.com  ben@example.org\n", user=admin)
    assert events() == ["alias.created", "alias.created"]
    alias = Alias.objects.get(key="a@example.com")
    first = alias.history.earliest("history_id").history_id
    alias = update_alias(alias, version=alias.version, destinations="carla@example.org")
    restore_version(alias, first, version=alias.version, user=admin)
    assert sent()[-1]["alias"]["destinations"] == ["anna@example.org"]  # type: ignore[index]
    assert events()[-1] == "alias.changed"


def test_the_importers_bulk_rows_queue_created_events(domain, admin, tmp_path):
    hook(domain=domain, events=["alias.created", "alias.changed", "alias.deleted"])
    create_alias(domain, "old@example.com", "x@example.org")
    source = tmp_path / "virtual"
    text = "# header\ninfo@example.com  anna@example.org, ben@example.org\n"
    source.write_text(text + "#off@example.com  x@example.org\n")
    with via("CLI"):
        import_map(source, "example.com", user=admin, replace=True)
    created = sent("alias.created")[1:]
    assert [(b["alias"]["key"], b["alias"]["enabled"]) for b in created] == [  # type: ignore[index]
        ("info@example.com", True), ("off@example.com", False),
    ]
    ids = set(Alias.objects.filter(key__in=["info@example.com", "off@example.com"]).values_list("pk", flat=True))
    assert {b["alias"]["id"] for b in created} == ids  # type: ignore[index]
    assert created[0]["alias"]["destinations"] == ["anna@example.org", "ben@example.org"]  # type: ignore[index]
    who = {(b["who"], b["channel"], b["reason"]) for b in created}
    assert who == {("root-admin", "CLI", "import --replace · via CLI")}
    assert [b["alias"]["key"] for b in sent("alias.deleted")] == ["old@example.com"]  # type: ignore[index]


def test_a_failed_import_queues_nothing(domain, admin, tmp_path):
    hook()
    source = tmp_path / "virtual"
    source.write_text("info@example.com  anna@example.org\nbroken-line-without-value\n")
    with pytest.raises(AliasError):
        import_map(source, "example.com", user=admin)
    assert Delivery.objects.count() == 0


def test_the_web_form_queues_the_event_as_the_signed_in_user(domain, client, admin):
    hook()
    client.force_login(admin)
    response = client.post(
        reverse("alias-create", args=[domain.name]), {"key": "info@example.com", "destinations": "anna@example.org"}
    )
    assert response.status_code in (200, 302)
    (body,) = sent()
    assert (body["event"], body["who"], body["channel"]) == ("alias.created", "root-admin", "web")


def test_a_rollback_queues_an_event_per_change(domain, admin):
    require_postmap()
    alias = create_alias(domain, "info@example.com", "anna@example.org")
    first = Deploy.objects.get(pk=deploy_domain(domain).deploy_id)
    update_alias(alias, version=alias.version, destinations="ben@example.org")
    create_alias(domain, "new@example.com", "carla@example.org")
    hook(events=["alias.changed", "alias.deleted"])
    plan = rollback.apply_rollback(domain, first, admin)
    assert sorted(events()) == ["alias.changed", "alias.deleted"]
    assert {b["reason"] for b in sent()} == {plan.point.reason}


def test_deploys_queue_succeeded_failed_and_drift(domain, admin, map_dir):
    require_postmap()
    hook(events=["deploy.succeeded", "deploy.failed", "drift.found"])
    create_alias(domain, "info@example.com", "anna@example.org")
    result = deploy_domain(domain, user=admin)
    (ok,) = sent("deploy.succeeded")
    assert ok["deploy"]["id"] == result.deploy_id and ok["deploy"]["status"] == "ok"  # type: ignore[index]
    assert ok["who"] == "root-admin"
    (map_dir / "example.com").write_text("info@example.com  someone@else.example\n")  # edited by hand
    create_alias(domain, "sales@example.com", "ben@example.org")
    result = deploy_domain(domain, user=admin)
    assert result.drift
    (failed,) = sent("deploy.failed")
    (drift,) = sent("drift.found")
    assert failed["deploy"] == drift["deploy"]
    assert drift["deploy"]["id"] == result.deploy_id  # type: ignore[index]
    assert "changed by hand" in drift["deploy"]["message"]  # type: ignore[index]
