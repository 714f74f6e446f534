"""API tokens: made once and shown once, kept as a hash, never more than their user,
revoked or expired at once; the scope they put on a request narrows the services
themselves; the command and the web page."""

from __future__ import annotations

import datetime
import json
import re
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from aliasdesk.accounts.access import can_administer
from aliasdesk.accounts.models import SecurityEvent, User
from aliasdesk.accounts.scope import Scope, limited_to
from aliasdesk.aliases.access import can_edit, visible_domains
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import acts_as_admin
from aliasdesk.aliases.services import create_alias, update_alias
from aliasdesk.api import tokens
from aliasdesk.api.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_kept_as_a_hash_only(bob: User):
    made = tokens.create_token(bob, by=bob, name="ticket tool")
    assert made.secret.startswith(f"adk_{made.token.key_id}_")
    stored = ApiToken.objects.get(pk=made.token.pk)
    assert made.secret not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert len(stored.secret_hash) == 64
    assert tokens.authenticate(made.secret, "192.0.2.7") == stored
    stored.refresh_from_db()
    assert stored.last_used_from == "192.0.2.7" and stored.last_used_at is not None
    event = SecurityEvent.objects.get(action="token.created")
    assert event.subject == bob and event.after["token"] == stored.prefix
    assert made.secret not in json.dumps(event.after)


def test_wrong_revoked_expired_and_disabled_tokens_are_refused(bob: User):
    made = tokens.create_token(bob, by=None)
    assert tokens.authenticate(made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B")) is None
    assert tokens.authenticate("adk_nothing") is None
    assert tokens.authenticate("") is None

    expiring = tokens.create_token(bob, by=None, expires_days=1)
    assert tokens.authenticate(expiring.secret) is not None
    ApiToken.objects.filter(pk=expiring.token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert tokens.authenticate(expiring.secret) is None

    assert tokens.revoke_token(made.token, by=None)
    assert not tokens.revoke_token(made.token, by=None)
    assert tokens.authenticate(made.secret, "192.0.2.9") is None
    used = SecurityEvent.objects.get(action="token.used_revoked")
    assert used.subject == bob and "192.0.2.9" in used.detail

    live = tokens.create_token(bob, by=None)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert tokens.authenticate(live.secret) is None


def test_a_token_never_reaches_further_than_its_user(bob: User, dave: User, other: Domain):
    with pytest.raises(tokens.TokenError, match=r"may not see other\.org"):
        tokens.create_token(bob, by=bob, domains=["other.org"])
    with pytest.raises(tokens.TokenError, match="only administrators"):
        tokens.create_token(dave, by=bob)
    with pytest.raises(tokens.TokenError, match="between 1 and"):
        tokens.create_token(bob, by=bob, expires_days=0)
    with pytest.raises(tokens.TokenError, match="one line"):
        tokens.create_token(bob, by=bob, name="a\nb")
    made = tokens.create_token(bob, by=bob, domains=["EXAMPLE.com"])
    assert [d.name for d in made.token.domains.all()] == ["example.com"]
    with pytest.raises(tokens.TokenError, match="only your own"):
        tokens.revoke_token(made.token, by=dave)
    assert ApiToken.objects.count() == 1


def test_a_read_only_scope_stops_the_services_even_for_an_administrator(alice: User, example: Domain):
    alias = Alias.objects.get(key="info@example.com")
    with limited_to(Scope(read_only=True)):
        assert not can_edit(alice, example)
        assert not can_administer(alice)
        assert not acts_as_admin(alice)
        assert list(visible_domains(alice)) == [example]  # reading stays
        with pytest.raises(PermissionDenied):
            create_alias(example, "new@example.com", ["x@example.org"], user=alice)
        with pytest.raises(PermissionDenied):
            update_alias(alias, version=alias.version, user=alice, enabled=False)
    assert can_edit(alice, example) and can_administer(alice) and acts_as_admin(alice)
    assert not Alias.objects.filter(key="new@example.com").exists()


def test_a_domain_scope_hides_the_other_domains_and_drops_administrator_reach(
    alice: User, example: Domain, other: Domain
):
    with limited_to(Scope(domain_ids=frozenset({example.pk}))):
        assert list(visible_domains(alice)) == [example]
        assert can_edit(alice, example) and not can_edit(alice, other)
        assert not can_administer(alice) and not acts_as_admin(alice)
        create_alias(example, "scoped@example.com", ["x@example.org"], user=alice)
        with pytest.raises(PermissionDenied):
            create_alias(other, "scoped@other.org", ["x@example.org"], user=alice)
    assert Alias.objects.filter(key="scoped@example.com").exists()
    assert not Alias.objects.filter(key="scoped@other.org").exists()


def test_the_scope_of_a_token(bob: User, example: Domain):
    assert tokens.scope_of(tokens.create_token(bob, by=bob).token) == Scope()
    scoped = tokens.create_token(bob, by=bob, domains=["example.com"], read_only=True).token
    assert tokens.scope_of(scoped) == Scope(read_only=True, domain_ids=frozenset({example.pk}))


def test_the_command_prints_the_token_as_its_last_word_lists_and_revokes(bob: User, example: Domain):
    out, err = StringIO(), StringIO()
    call_command("token", "create", "bob", "--domain", "example.com", "--read-only", "--expires", "30",
                 "--name", "hr sync", stdout=out, stderr=err)
    secret = out.getvalue().split()[-1]
    token = tokens.authenticate(secret)
    assert token is not None and token.read_only and token.name == "hr sync"
    assert "shown only now" in err.getvalue()
    listing = StringIO()
    call_command("token", "list", "--json", stdout=listing)
    (row,) = json.loads(listing.getvalue())
    assert row["prefix"] == token.prefix and row["domains"] == ["example.com"] and row["read_only"]
    assert secret not in listing.getvalue()
    call_command("token", "revoke", token.prefix, stdout=StringIO())
    assert tokens.authenticate(secret) is None
    with pytest.raises(CommandError, match="no user called nobody"):
        call_command("token", "create", "nobody")
    with pytest.raises(CommandError, match=r"may not see other\.org"):
        call_command("token", "create", "bob", "--domain", "other.org")


def test_the_web_page_shows_a_new_token_once_and_each_user_only_their_own(login, bob: User, erin: User):
    client = login("bob")
    page = client.post("/account/tokens/", {"name": "ticket tool", "domains": ["example.com"], "read_only": "on"},
                       follow=True)
    text = page.content.decode()
    token = ApiToken.objects.get(user=bob)
    secret = text.split('id="new-token">')[1].split("<")[0]
    assert tokens.authenticate(secret) == token and token.read_only
    again = client.get("/account/tokens/").content.decode()
    assert "new-token" not in again and token.prefix in again
    theirs = tokens.create_token(erin, by=erin).token
    assert theirs.prefix not in again
    assert client.post(f"/account/tokens/{theirs.pk}/revoke").status_code == 403
    assert client.post(f"/account/tokens/{token.pk}/revoke").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == bob
    refused = client.post("/account/tokens/", {"domains": ["other.org"]})
    assert refused.status_code == 422 and "may not see other.org" in refused.content.decode()


def test_the_state_of_each_token_reads_in_the_readers_language(login, bob: User):
    tokens.revoke_token(tokens.create_token(bob, by=bob).token, by=bob)
    old = tokens.create_token(bob, by=bob, expires_days=1).token
    ApiToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
    tokens.create_token(bob, by=bob)
    page = login("bob").get("/account/tokens/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    states = re.findall(r'<span class="badge badge-(?:ok|bad)">([^<]+)</span></td>', page)
    assert sorted(states) == ["abgelaufen", "aktiv", "widerrufen"]
    english = login("bob").get("/account/tokens/").content.decode()
    assert sorted(re.findall(r'<span class="badge badge-(?:ok|bad)">([^<]+)</span></td>', english)) == [
        "active", "expired", "revoked"]


def test_an_administrator_sees_and_revokes_every_token(login, bob: User, alice: User):
    token = tokens.create_token(bob, by=bob).token
    client = login("alice")
    page = client.get("/account/tokens/").content.decode()
    assert token.prefix in page and "bob" in page
    assert client.post(f"/account/tokens/{token.pk}/revoke").status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == alice
    assert SecurityEvent.objects.filter(action="token.revoked", subject=bob, actor=alice).exists()
