"""Sending deliveries to a real HTTP receiver on 127.0.0.1: signatures, retries with backoff,
redirects not followed, addresses refused, claims that keep two workers from sending twice."""

from __future__ import annotations

import json
import re
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.deploys.agent import Agent
from aliasdesk.webhooks import services, signing, transport
from aliasdesk.webhooks.models import Attempt, Delivery, Hook
from aliasdesk.webhooks.worker import BACKOFF, MAX_ATTEMPTS, claim, deliver, send_due
from tests.conftest import REPO

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def domain(aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    return create_domain("example.com", map_path=map_dir / "example.com")


def make_hook(url: str, *, allow_private: bool = True, events: list[str] | None = None) -> Hook:
    return Hook.objects.create(
        url=url, events=events or ["alias.created"], secret=signing.new_secret(), allow_private=allow_private
    )


def docs_verify() -> object:
    """The receiver's check as docs/webhooks.md shows it, run as written."""
    text = (REPO / "docs" / "webhooks.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    scope: dict[str, object] = {}
    exec(code.group(1), scope)
    return scope["verify"]


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_created_alias_is_delivered_signed(domain, receiver):
    hook = make_hook(receiver.url)
    alias = create_alias(domain, "info@example.com", "anna@example.org")
    assert send_due() == 1
    (got,) = receiver.received
    delivery = Delivery.objects.get()
    assert got.path == "/hook"
    assert got.body == delivery.body.encode()
    assert json.loads(got.body)["alias"]["id"] == alias.pk
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-aliasdesk-event"] == "alias.created"
    assert got.headers["x-aliasdesk-delivery"] == str(delivery.pk)
    header = got.headers["x-aliasdesk-signature"]
    assert signing.verify(hook.secret, header, got.body)
    verify = docs_verify()
    assert verify(hook.secret, header, got.body)  # type: ignore[operator]
    assert not verify("another secret", header, got.body)  # type: ignore[operator]
    assert not verify(hook.secret, header, got.body + b" ")  # type: ignore[operator]
    timestamp = int(header.split(",")[0][2:])
    assert not signing.verify(hook.secret, header, got.body, now=timestamp + signing.TOLERANCE + 1)  # a replay
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 204)
    assert send_due() == 0  # delivered once


def test_a_500_is_retried_with_backoff_until_it_fails(domain, receiver):
    receiver.status, receiver.reply = 500, b"x" * 5000
    make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    delivery = Delivery.objects.get()
    for n in range(MAX_ATTEMPTS):
        assert send_due() == 1
        assert send_due() == 0  # not due again before its time
        delivery.refresh_from_db()
        attempt = Attempt.objects.filter(delivery=delivery).latest("id")
        assert (attempt.response_status, attempt.error) == (500, "HTTP 500")
        assert attempt.response_body == "x" * transport.KEEP  # the first KB is kept
        assert delivery.attempts == n + 1
        if n < len(BACKOFF):
            assert delivery.status == "pending"
            wait = (delivery.next_attempt_at - attempt.at).total_seconds()
            assert BACKOFF[n] <= wait < BACKOFF[n] + 30
            make_due(delivery)
    assert delivery.status == "failed"
    assert len(receiver.received) == MAX_ATTEMPTS
    assert list(BACKOFF) == [60, 300, 1800, 7200, 43200]


def test_a_refused_connection_is_retried_and_a_failed_delivery_can_be_retried_by_hand(domain, receiver):
    hook = make_hook(f"http://127.0.0.1:{closed_port()}/hook")
    create_alias(domain, "info@example.com", "anna@example.org")
    assert send_due() == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.error, delivery.response_status) == ("pending", "connection refused", None)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=BACKOFF[0] - 30)
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=MAX_ATTEMPTS)
    hook.url = receiver.url
    hook.save()
    delivery.refresh_from_db()
    assert services.retry_delivery(delivery) is True
    assert send_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", MAX_ATTEMPTS + 1)
    assert services.retry_delivery(delivery) is False  # only a failed one


def test_a_redirect_is_not_followed(domain, receiver):
    receiver.status, receiver.location = 302, "http://127.0.0.1:1/elsewhere"
    make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    send_due()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.error == "HTTP 302: redirects are not followed (to http://127.0.0.1:1/elsewhere)"
    assert len(receiver.received) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "10.1.2.3", "169.254.169.254"])
def test_private_addresses_are_refused_without_the_flag(domain, receiver, host):
    port = receiver.url.split(":")[2].split("/")[0]
    make_hook(f"http://{host}:{port}/hook", allow_private=False)
    create_alias(domain, "info@example.com", "anna@example.org")
    send_due()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.error.startswith("refused: ")
    assert "allow private addresses" in delivery.error
    assert receiver.received == []


def test_the_address_check_covers_every_kind():
    for address in ["127.0.0.1", "::1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.1.1", "fe80::1",
                    "224.0.0.1", "ff02::1", "0.0.0.0", "::", "240.0.0.1", "100.64.0.1", "fc00::1", "::ffff:10.0.0.1"]:
        assert transport.address_problem(address), address
    for address in ["93.184.215.14", "2606:4700:4700::1111", "1.1.1.1"]:
        assert transport.address_problem(address) == "", address


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, receiver):
    """A name that resolves to a public address at the check and to 127.0.0.1 later (DNS
    rebinding) never reaches 127.0.0.1: only one lookup is made, and it is the one checked."""
    answers = iter(["93.184.215.14", "127.0.0.1"])
    looked_up: list[str] = []

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        address = next(answers)
        looked_up.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    port = int(receiver.url.split(":")[2].split("/")[0])
    connected: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError  # no packet to the public address from a test

    monkeypatch.setattr(socket, "create_connection", create_connection)
    with pytest.raises(ConnectionRefusedError):
        transport.post(f"http://rebind.example:{port}/hook", b"{}", {}, allow_private=False)
    assert looked_up == ["93.184.215.14"]
    assert connected == [("93.184.215.14", port)]
    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "gopher://example.com/", "example.com/x",
     "http://user:pw@example.com/hook", "http:///nohost"],
)
def test_only_http_urls_are_accepted(db, url):
    with pytest.raises(services.HookError) as caught:
        services.create_hook(services.HookInput(url=url, events=("alias.created",), allow_private=True))
    assert caught.value.field == "url"
    hook = Hook.objects.create(url=url, events=["alias.created"], secret="s", allow_private=True)
    delivery = Delivery.objects.create(hook=hook, event="ping", body="{}", next_attempt_at=timezone.now())
    send_due()
    delivery.refresh_from_db()
    assert delivery.error.startswith("refused: ")


def test_a_private_address_written_in_the_url_is_refused_when_saved(db):
    with pytest.raises(services.HookError, match="loopback"):
        services.create_hook(services.HookInput(url="http://127.0.0.1:8080/", events=("alias.created",)))
    hook = services.create_hook(
        services.HookInput(url="http://127.0.0.1:8080/", events=("alias.created",), allow_private=True)
    )
    assert hook.secret.startswith("whsec_")


def test_a_claimed_delivery_is_not_claimed_again(domain, receiver):
    make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    delivery = Delivery.objects.get()
    mine = claim(delivery.pk, "worker-a")
    assert mine is not None
    assert claim(delivery.pk, "worker-b") is None
    assert send_due("worker-b") == 0  # it is being sent: the other worker leaves it
    deliver(mine, "worker-a")
    assert len(receiver.received) == 1


def test_a_claim_left_by_a_dead_worker_is_given_back(domain, receiver):
    make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    delivery = Delivery.objects.get()
    assert claim(delivery.pk, "dead-worker") is not None
    Delivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now() - timedelta(minutes=6))
    assert send_due("worker-b") == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_delivery_twice(domain, receiver):
    """Two threads, each with its own connection (PostgreSQL, MariaDB; SQLite's in-memory test
    database locks whole tables between threads: test_cli.py runs two processes on a file)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("threads on the in-memory SQLite test database: see test_cli.py")
    receiver.delay = 0.01
    make_hook(receiver.url)
    for i in range(20):
        create_alias(domain, f"a{i}@example.com", "anna@example.org")
    errors: list[BaseException] = []

    def work(name: str) -> None:
        from django.db import connection

        try:
            send_due(name)
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [r.headers["x-aliasdesk-delivery"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 20
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_the_agent_sends_due_deliveries_in_its_round(domain, receiver, settings):
    settings.AGENT_WEBHOOKS = True
    make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    Agent("mx1", report=lambda line: None).round()
    assert len(receiver.received) == 1
    settings.AGENT_WEBHOOKS = False
    create_alias(domain, "sales@example.com", "anna@example.org")
    Agent("mx1", report=lambda line: None).round()
    assert len(receiver.received) == 1


def test_a_switched_off_hook_keeps_its_deliveries_waiting(domain, receiver):
    hook = make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    Hook.objects.filter(pk=hook.pk).update(enabled=False)
    assert send_due() == 0
    Hook.objects.filter(pk=hook.pk).update(enabled=True)
    assert send_due() == 1


def test_a_hook_deleted_while_sending_leaves_nothing_behind(domain, receiver):
    hook = make_hook(receiver.url)
    create_alias(domain, "info@example.com", "anna@example.org")
    delivery = claim(Delivery.objects.get().pk, "worker-a")
    assert delivery is not None
    hook.delete()
    assert deliver(delivery, "worker-a") is None
    assert len(receiver.received) == 1 and not Attempt.objects.exists()
