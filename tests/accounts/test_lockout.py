"""Login throttling (django-axes): one account from one address, locked after
ALIASDESK_LOGIN_FAILURES failures for ALIASDESK_LOGIN_LOCKOUT_MINUTES, even for the right
password; nothing wider. Administrators unlock."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client

from aliasdesk.accounts.models import SecurityEvent, User
from tests.accounts.conftest import PASSWORD, client_from, sign_in

pytestmark = pytest.mark.django_db


def fail(client: Client, username: str, times: int) -> None:
    for _ in range(times):
        response = sign_in(client, username, "not-the-password")
        assert response.status_code in (200, 429)


def is_locked_page(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 429 and "locked here for 15 minutes" in response.content.decode()


def test_the_fifth_failure_locks_and_then_even_the_right_password_is_refused(alice: User):
    client = client_from()
    fail(client, "alice", 4)
    assert sign_in(client, "alice").status_code == 302  # four failures: still allowed
    client = client_from()
    fail(client, "alice", 5)
    response = sign_in(client, "alice")
    assert is_locked_page(response)
    assert "_auth_user_id" not in client.session


def test_the_locked_page_is_the_sign_in_page_saying_so(alice: User):
    client = client_from()
    fail(client, "alice", 4)
    response = sign_in(client, "alice", "still-wrong")
    body = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed sign-ins for this account from your address" in body
    assert 'name="username"' in body and "ask an administrator to unlock it" in body


def test_other_accounts_from_the_same_address_are_not_locked(alice: User, bob: User):
    client = client_from()
    fail(client, "alice", 6)
    assert sign_in(client, "bob").status_code == 302


def test_the_same_account_from_another_address_is_not_locked(alice: User):
    fail(client_from("10.0.0.1"), "alice", 6)
    assert sign_in(client_from("10.0.0.2"), "alice").status_code == 302
    assert is_locked_page(sign_in(client_from("10.0.0.1"), "alice"))


def test_the_lock_ends_after_the_lockout_minutes(alice: User):
    client = client_from()
    fail(client, "alice", 5)
    assert is_locked_page(sign_in(client, "alice"))
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert sign_in(client, "alice").status_code == 302


def test_a_success_forgets_earlier_failures(alice: User):
    client = client_from()
    fail(client, "alice", 4)
    assert sign_in(client, "alice").status_code == 302
    client = client_from()
    fail(client, "alice", 4)
    assert sign_in(client, "alice").status_code == 302


def test_the_limit_and_the_time_come_from_the_settings(alice: User, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = client_from()
    fail(client, "alice", 2)
    assert sign_in(client, "alice").status_code == 429


def test_a_forged_forwarded_for_from_an_untrusted_address_does_not_dodge_the_lock(alice: User):
    # An attacker at 10.0.0.9 rotates X-Forwarded-For: still one address to aliasdesk.
    for n in range(5):
        sign_in(client_from("10.0.0.9"), "alice", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert is_locked_page(sign_in(client_from("10.0.0.9"), "alice", HTTP_X_FORWARDED_FOR="198.51.100.77"))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.9"}


def test_behind_the_trusted_proxy_each_forwarded_client_is_its_own_address(alice: User):
    proxy = "127.0.0.1"
    for _ in range(5):
        sign_in(client_from(proxy), "alice", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert is_locked_page(sign_in(client_from(proxy), "alice", HTTP_X_FORWARDED_FOR="198.51.100.1"))
    # another client behind the same proxy is not locked out
    assert sign_in(client_from(proxy), "alice", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}


def test_an_administrator_unlocks_on_the_user_page(alice: User, bob: User):
    fail(client_from("10.0.0.5"), "bob", 5)
    admin = client_from("10.0.0.1")
    assert sign_in(admin, "alice").status_code == 302
    page = admin.get(f"/users/{bob.pk}/").content.decode()
    assert "10.0.0.5" in page and "locked until" in page
    response = admin.post(f"/users/{bob.pk}/unlock")
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="bob").exists()
    assert sign_in(client_from("10.0.0.5"), "bob").status_code == 302
    assert SecurityEvent.objects.filter(action="unlock", subject=bob, actor=alice).exists()


def test_only_administrators_unlock(alice: User, bob: User):
    fail(client_from("10.0.0.5"), "alice", 5)
    editor = client_from("10.0.0.1")
    sign_in(editor, "bob")
    assert editor.post(f"/users/{alice.pk}/unlock").status_code == 404
    assert AccessAttempt.objects.filter(username="alice").exists()


def test_the_command_unlocks(alice: User):
    fail(client_from(), "alice", 5)
    out = StringIO()
    call_command("user", "unlock", "alice", stdout=out)
    assert "alice unlocked" in out.getvalue()
    assert sign_in(client_from(), "alice").status_code == 302
    event = SecurityEvent.objects.get(action="unlock")
    assert event.actor is None and event.detail == "command line"


def test_the_command_names_an_unknown_user(db):  # type: ignore[no-untyped-def]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user called nobody"):
        call_command("user", "unlock", "nobody")


def test_the_password_is_never_stored_with_the_failure(alice: User):
    sign_in(client_from(), "alice", "my-secret-guess")
    attempt = AccessAttempt.objects.get()
    assert "my-secret-guess" not in attempt.post_data
    assert "my-secret-guess" not in str(list(SecurityEvent.objects.values()))


def test_correct_password_default_still_works(alice: User):
    assert sign_in(client_from(), "alice", PASSWORD).status_code == 302
