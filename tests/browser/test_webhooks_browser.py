"""Webhooks as an administrator meets them in a real browser: add a hook, keep its secret,
send a test event to a real receiver, and see the deliveries (a failed one retried by hand)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from aliasdesk.aliases import services
from aliasdesk.webhooks import signing
from aliasdesk.webhooks.models import Attempt, Delivery, Hook
from aliasdesk.webhooks.worker import send_due
from tests.browser.conftest import BROWSER_TEST, UI, Desk
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def test_admin_adds_a_webhook_and_follows_its_deliveries(ui: UI, desk: Desk, receiver: Receiver):  # noqa: F811
    ui.sign_in(desk.users["alice"])
    ui.open("/webhooks/")
    ui.shot("webhooks-empty")
    ui.page.get_by_role("button", name="Add a webhook").click()
    ui.check_assets()
    ui.page.get_by_label("URL").fill(receiver.url)
    ui.page.get_by_label("Scope").select_option("example.com")
    ui.page.get_by_label("deploy.succeeded").uncheck()
    ui.page.get_by_label("Description").fill("ticket system")
    ui.shot("webhooks-new")
    ui.page.get_by_role("button", name="Create the webhook").click()
    expect(ui.page.get_by_text("127.0.0.1 is a loopback address")).to_be_visible()
    ui.page.get_by_label("Allow private addresses").check()
    ui.page.get_by_role("button", name="Create the webhook").click()
    ui.check_assets()
    hook = Hook.objects.get()
    expect(ui.page.get_by_role("heading", name="Webhook created")).to_be_visible()
    expect(ui.page.get_by_label("Secret")).to_have_value(hook.secret)
    ui.shot("webhooks-secret")
    ui.page.get_by_role("button", name="Done").click()
    ui.check_assets()

    ui.page.get_by_role("button", name="Send a test event").click()
    expect(ui.page.get_by_text("Queued test delivery")).to_be_visible()
    services.create_alias(desk.domains["example.com"], "events@example.com", "fred@example.net")
    receiver.status = 500
    receiver.reply = b'{"error": "the ticket system is down for maintenance"}'
    assert send_due() == 2
    Delivery.objects.filter(event="alias.created").update(status="failed", attempts=6)
    ui.open(f"/webhooks/{hook.pk}/")
    expect(ui.page.get_by_role("button", name="Retry")).to_be_visible()
    ui.page.locator("details", has_text="attempts and body").first.locator("summary").click()
    ui.shot("webhooks-detail")
    got = receiver.received[0]
    assert signing.verify(hook.secret, got.headers["x-aliasdesk-signature"], got.body)
    assert {json.loads(r.body)["event"] for r in receiver.received} == {"ping", "alias.created"}

    ui.page.get_by_role("button", name="Retry").click()
    expect(ui.page.get_by_text("will be sent again")).to_be_visible()
    assert Delivery.objects.filter(status="pending", event="alias.created").count() == 1

    ui.open("/webhooks/")
    expect(ui.page.get_by_role("link", name=receiver.url)).to_be_visible()
    ui.shot("webhooks-list")


def test_an_auditor_reads_the_webhooks_page(ui: UI, desk: Desk):
    from aliasdesk.accounts.services import add_user

    carol = add_user("carol", "auditor", password="correct-horse-battery-9")[0]
    hook = Hook.objects.create(url="https://hooks.example.net/in", events=["deploy.failed", "drift.found"], secret="s")
    delivery = Delivery.objects.create(
        hook=hook, event="deploy.failed", body="{}", status="delivered", attempts=1, next_attempt_at=timezone.now(),
        response_status=200,
    )
    Attempt.objects.create(delivery=delivery, at=timezone.now(), response_status=200, response_body="ok")
    ui.sign_in(carol)
    ui.open(f"/webhooks/{hook.pk}/")
    expect(ui.page.get_by_role("button", name="Send a test event")).to_have_count(0)
    expect(ui.page.locator(".badge-ok", has_text="delivered")).to_be_visible()
    ui.shot("webhooks-auditor")
