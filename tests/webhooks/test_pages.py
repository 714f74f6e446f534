"""The Webhooks pages: administrators manage hooks, auditors look, nobody else sees them."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from aliasdesk.accounts.models import SecurityEvent
from aliasdesk.webhooks.models import Attempt, Delivery, Hook
from aliasdesk.webhooks.worker import send_due

pytestmark = [pytest.mark.django_db]


def form(url: str, **extra: object) -> dict[str, object]:
    data: dict[str, object] = {"url": url, "domain": "", "events": ["alias.created", "deploy.failed"], "enabled": "on"}
    data.update(extra)
    return data


@pytest.fixture
def hook(example) -> Hook:  # type: ignore[no-untyped-def]
    return Hook.objects.create(
        url="http://127.0.0.1:9/hook", domain=example, events=["alias.created"], secret="whsec_old-secret",
        allow_private=True,
    )


def test_an_admin_creates_a_hook_and_sees_its_secret_once(login, example):
    alice = login("alice")
    response = alice.post(reverse("webhook-create"), form("https://hooks.example.net/in", domain="example.com"))
    assert response.status_code == 200
    hook = Hook.objects.get()
    assert (hook.url, hook.domain) == ("https://hooks.example.net/in", example)
    assert hook.events == ["alias.created", "deploy.failed"]
    assert hook.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    page = alice.get(reverse("webhook-detail", args=[hook.pk])).content.decode()
    assert hook.secret not in page
    assert hook.secret not in alice.get(reverse("webhook-list")).content.decode()
    event = SecurityEvent.objects.get(action="webhook.created")
    assert (event.actor_name, event.subject_name, event.domain_id) == ("alice", hook.url, example.pk)
    assert hook.secret not in str(event.after)


def test_bad_input_is_refused_with_a_reason(login, example):
    alice = login("alice")
    for data, message in [
        (form("ftp://example.net/x"), "only http:// and https://"),
        (form("http://192.168.1.10/x"), "private address"),
        (form("https://hooks.example.net/in", events=[]), "choose at least one event"),
        (form("https://hooks.example.net/in", domain="nowhere.example"), "no domain"),
    ]:
        response = alice.post(reverse("webhook-create"), data)
        assert response.status_code == 422
        assert message in response.content.decode()
    assert Hook.objects.count() == 0
    assert alice.post(reverse("webhook-create"), form("http://192.168.1.10/x", allow_private="on")).status_code == 200


def test_an_admin_edits_rotates_tests_and_deletes(login, hook, receiver):
    alice = login("alice")
    url = reverse("webhook-detail", args=[hook.pk])
    response = alice.post(url, form(receiver.url, allow_private="on", events=["alias.created", "drift.found"]))
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.url, hook.domain, hook.events) == (receiver.url, None, ["alias.created", "drift.found"])
    changed = SecurityEvent.objects.get(action="webhook.changed")
    assert changed.after["url"] == receiver.url and "domain" in changed.after

    response = alice.post(reverse("webhook-rotate", args=[hook.pk]))
    hook.refresh_from_db()
    assert hook.secret != "whsec_old-secret" and hook.secret in response.content.decode()
    assert SecurityEvent.objects.filter(action="webhook.secret").count() == 1

    assert alice.post(reverse("webhook-test", args=[hook.pk])).status_code == 302
    send_due()
    (got,) = receiver.received
    assert got.headers["x-aliasdesk-event"] == "ping"
    page = alice.get(url).content.decode()
    assert "ping" in page and "delivered" in page

    assert alice.post(reverse("webhook-delete", args=[hook.pk])).status_code == 302
    assert not Hook.objects.exists() and not Delivery.objects.exists()
    assert SecurityEvent.objects.filter(action="webhook.deleted").count() == 1


def test_the_pages_show_deliveries_and_a_failed_one_is_retried_by_hand(login, hook):
    delivery = Delivery.objects.create(
        hook=hook, event="alias.created", body='{"event": "alias.created"}', status="failed", attempts=6,
        next_attempt_at=timezone.now(), response_status=500, error="HTTP 500",
    )
    Attempt.objects.create(delivery=delivery, at=timezone.now(), response_status=500, response_body="oops: db down")
    alice = login("alice")
    listing = alice.get(reverse("webhook-list")).content.decode()
    assert hook.url in listing and "failed" in listing and "example.com" in listing
    page = alice.get(reverse("webhook-detail", args=[hook.pk])).content.decode()
    assert "oops: db down" in page and "HTTP 500" in page and "Retry" in page
    assert alice.post(reverse("webhook-retry", args=[hook.pk, delivery.pk])).status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_an_auditor_sees_but_changes_nothing(login, hook):
    carol = login("carol")
    assert carol.get(reverse("webhook-list")).status_code == 200
    page = carol.get(reverse("webhook-detail", args=[hook.pk]))
    assert page.status_code == 200
    assert "Rotate secret" not in page.content.decode() and "whsec_old-secret" not in page.content.decode()
    assert carol.get(reverse("webhook-create")).status_code == 403
    for name in ["webhook-detail", "webhook-rotate", "webhook-test", "webhook-delete"]:
        assert carol.post(reverse(name, args=[hook.pk]), form("http://example.net/")).status_code == 403, name
    hook.refresh_from_db()
    assert (hook.url, hook.secret) == ("http://127.0.0.1:9/hook", "whsec_old-secret")
    assert Hook.objects.count() == 1 and Delivery.objects.count() == 0


@pytest.mark.parametrize("name", ["bob", "dave", "erin"])
def test_editors_and_viewers_do_not_see_webhooks(login, hook, name):
    client = login(name)
    assert "Webhooks" not in client.get(reverse("domain-list")).content.decode()
    assert client.get(reverse("webhook-list")).status_code == 404
    assert client.get(reverse("webhook-detail", args=[hook.pk])).status_code == 404
    assert client.post(reverse("webhook-create"), form("http://example.net/")).status_code == 404
    for view in ["webhook-detail", "webhook-rotate", "webhook-test", "webhook-delete"]:
        assert client.post(reverse(view, args=[hook.pk]), form("http://example.net/")).status_code == 404, view
    assert Hook.objects.get().secret == "whsec_old-secret"


def test_the_navigation_links_the_page_for_admins_and_auditors(login):
    for name in ["alice", "carol"]:
        assert reverse("webhook-list") in login(name).get(reverse("domain-list")).content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client, hook):
    response = client.get(reverse("webhook-list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("page", ["webhook-create", "webhook-detail"])
def test_the_button_follows_the_fields_not_their_hint(login, hook, page):
    """Save (or Create) comes after the last field and its hint, on a line of its own."""
    args = [hook.pk] if page == "webhook-detail" else []
    html = login("alice").get(reverse(page, args=args)).content.decode()
    form = html[html.index(f'<form method="post" action="{reverse(page, args=args)}">'):]
    form = form[: form.index("</form>")]
    hint_end = form.index("</small>", form.index('id="private-help"'))
    button = form.index('<button type="submit"')
    assert hint_end < button
    assert form[hint_end:button].replace("</small>", "").strip() == '<div class="form-actions">'


def test_event_names_break_only_after_their_dot(login, hook):
    html = login("alice").get(reverse("webhook-detail", args=[hook.pk])).content.decode()
    assert '<code class="event">alias.<wbr>deleted</code>' in html
    assert '<code class="event">deploy.<wbr>succeeded</code>' in html
