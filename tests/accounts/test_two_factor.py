"""Two-factor login: enrolment, the second step, recovery codes, removal, forced enrolment
(ALIASDESK_2FA_REQUIRED) and an administrator's reset."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from aliasdesk.accounts import twofactor
from aliasdesk.accounts.models import SecurityEvent, User
from tests.accounts.conftest import PASSWORD, client_from, current_code, sign_in

pytestmark = pytest.mark.django_db


def enrol(client: Client, user: User) -> list[str]:
    """Through the pages: start, read the secret, confirm with a code; the recovery codes."""
    assert client.post("/account/2fa/enrol", {"action": "start"}).status_code == 302
    page = client.get("/account/2fa/").content.decode()
    assert "<svg" in page and 'id="totp-secret"' in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/account/2fa/enrol", {"action": "confirm", "code": current_code(device)})
    assert response.status_code == 302
    page = client.get("/account/2fa/").content.decode()
    codes = re.findall(r"<li>([a-z2-7]+)</li>", page.split('id="recovery-codes"')[1].split("</ol>")[0])
    assert len(codes) == 10
    return codes


def next_code(user: User, steps: int = 1) -> str:
    """A code of a coming 30-second step: the current one went into the enrolment, and
    django-otp takes each code once (the app would show the next one a moment later)."""
    return current_code(TOTPDevice.objects.get(user=user), offset=steps)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def enrolled(bob: User) -> tuple[User, list[str]]:
    client = client_from()
    sign_in(client, "bob")
    return bob, enrol(client, bob)


def test_enrolment_shows_the_qr_code_and_the_secret_and_wants_a_code(bob: User, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp makes one wait a second after a wrong code
    client = client_from()
    sign_in(client, "bob")
    client.post("/account/2fa/enrol", {"action": "start"})
    page = client.get("/account/2fa/").content.decode()
    device = TOTPDevice.objects.get(user=bob)
    assert twofactor.secret_text(device).replace(" ", "") in page.replace(" ", "")
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "style=" not in svg and "<script" not in svg and "http" not in svg.split(">", 1)[1]
    wrong = client.post("/account/2fa/enrol", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in wrong.content.decode()
    assert not twofactor.is_enrolled(bob)
    client.post("/account/2fa/enrol", {"action": "confirm", "code": current_code(device)})
    assert twofactor.is_enrolled(bob) and twofactor.recovery_codes_left(bob) == 10


def test_recovery_codes_are_shown_once(enrolled):
    bob, _ = enrolled
    client = client_from()
    client.force_login(bob)
    assert 'id="recovery-codes"' not in client.get("/account/2fa/").content.decode()


def test_after_the_password_an_enrolled_user_is_not_signed_in_until_the_code(enrolled):
    bob, _ = enrolled
    client = client_from()
    response = sign_in(client, "bob")
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert not signed_in(client)
    assert client.get("/domains/").status_code == 302  # still the sign-in
    response = client.post("/login/code/", {"code": next_code(bob)})
    assert response.status_code == 302 and response["Location"] == "/domains/"
    assert signed_in(client)
    assert client.get("/domains/").status_code == 200


def test_a_wrong_code_is_refused_and_counts_as_a_failed_sign_in(enrolled):
    bob, _ = enrolled
    client = client_from()
    sign_in(client, "bob")
    response = client.post("/login/code/", {"code": "123456"})
    assert response.status_code == 422 and "That code is not right" in response.content.decode()
    assert not signed_in(client)
    event = SecurityEvent.objects.filter(action="login.failed").latest("pk")
    assert event.subject == bob and event.detail == "wrong two-factor code" and event.address == "10.0.0.1"


def test_wrong_codes_lock_the_account_like_wrong_passwords(enrolled, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own 1-2-4 s wait is tested below
    bob, _ = enrolled
    client = client_from()
    sign_in(client, "bob", "wrong-password")
    sign_in(client, "bob", "wrong-password")
    sign_in(client, "bob")
    for _ in range(2):
        assert client.post("/login/code/", {"code": "123456"}).status_code == 422
    locked = client.post("/login/code/", {"code": "123456"})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    # now even the password step, and a right code, are refused from this address
    assert sign_in(client, "bob").status_code == 429
    assert SecurityEvent.objects.filter(action="lockout", subject=bob).count() == 1


def test_a_recovery_code_signs_in_once(enrolled):
    bob, codes = enrolled
    client = client_from()
    sign_in(client, "bob")
    response = client.post("/login/code/", {"code": codes[0].upper()}, follow=True)
    assert signed_in(client) and "recovery code; 9 left" in response.content.decode()
    assert SecurityEvent.objects.filter(action="login", subject=bob).latest("pk").detail == "with a recovery code"
    again = client_from("10.0.0.2")
    sign_in(again, "bob")
    assert again.post("/login/code/", {"code": codes[0]}).status_code == 422
    assert not signed_in(again)


def test_the_second_step_needs_the_first(enrolled):
    client = client_from()
    response = client.post("/login/code/", {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_the_half_way_state_expires(enrolled, monkeypatch):
    bob, _ = enrolled
    client = client_from()
    sign_in(client, "bob")
    session = client.session
    session["aliasdesk_2fa_pending"]["since"] -= 301
    session.save()
    response = client.post("/login/code/", {"code": next_code(bob)})
    assert response["Location"] == "/login/" and not signed_in(client)


def test_next_is_kept_through_the_second_step_but_only_on_this_site(enrolled):
    bob, _ = enrolled
    client = client_from()
    client.post("/login/?next=/audit/", {"username": "bob", "password": PASSWORD, "next": "/users/"})
    response = client.post("/login/code/", {"code": next_code(bob)})
    assert response["Location"] == "/users/"
    client = client_from()
    client.post("/login/", {"username": "bob", "password": PASSWORD, "next": "https://evil.example/"})
    assert client.session["aliasdesk_2fa_pending"]["next"] == "/domains/"


def test_new_recovery_codes_replace_the_old_ones(enrolled):
    bob, old = enrolled
    client = client_from()
    sign_in(client, "bob")
    client.post("/login/code/", {"code": next_code(bob)})
    assert client.post("/account/2fa/codes").status_code == 302
    page = client.get("/account/2fa/").content.decode()
    assert 'id="recovery-codes"' in page
    tokens = set(StaticToken.objects.filter(device__user=bob).values_list("token", flat=True))
    assert len(tokens) == 10 and not tokens & set(old)


def test_removing_needs_a_code_or_the_password(enrolled):
    bob, _codes = enrolled
    client = client_from()
    client.force_login(bob)
    response = client.post("/account/2fa/remove", {"proof": "nonsense"})
    assert response.status_code == 422 and twofactor.is_enrolled(bob)
    assert client.post("/account/2fa/remove", {"proof": PASSWORD}).status_code == 302
    assert not twofactor.is_enrolled(bob) and not StaticToken.objects.filter(device__user=bob).exists()
    assert SecurityEvent.objects.filter(action="2fa.removed", subject=bob).exists()


def test_removing_with_a_recovery_code(enrolled):
    bob, codes = enrolled
    client = client_from()
    client.force_login(bob)
    assert client.post("/account/2fa/remove", {"proof": codes[3]}).status_code == 302
    assert not twofactor.is_enrolled(bob)


# -- ALIASDESK_2FA_REQUIRED ---------------------------------------------------------------


def test_a_required_admin_without_a_device_must_enrol_first_and_can_do_nothing_else(alice: User, settings):
    settings.TWO_FACTOR_REQUIRED = "admins"
    client = client_from()
    response = sign_in(client, "alice")
    assert response["Location"] == "/account/2fa/"
    for path in ("/domains/", "/users/", "/audit/", "/password/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/account/2fa/", path
    assert client.post("/users/new", {"username": "mallory"}).status_code == 302
    assert not User.objects.filter(username="mallory").exists()
    page = client.get("/account/2fa/").content.decode()
    assert "requires two-factor login for you" in page
    enrol(client, alice)
    assert client.get("/domains/").status_code == 200


def test_admins_mode_leaves_other_roles_alone(bob: User, settings):
    settings.TWO_FACTOR_REQUIRED = "admins"
    client = client_from()
    assert sign_in(client, "bob")["Location"] == "/domains/"
    assert client.get("/domains/").status_code == 200


def test_all_mode_requires_everyone(bob: User, settings):
    settings.TWO_FACTOR_REQUIRED = "all"
    client = client_from()
    sign_in(client, "bob")
    assert client.get("/domains/")["Location"] == "/account/2fa/"


def test_an_open_session_of_a_required_user_without_a_second_factor_is_sent_to_enrol(alice: User, settings):
    client = client_from()
    sign_in(client, "alice")
    settings.TWO_FACTOR_REQUIRED = "admins"  # switched on while alice is signed in
    assert client.get("/domains/")["Location"] == "/account/2fa/"
    assert client.post("/logout/").status_code == 302  # signing out stays possible


def test_an_unverified_session_of_an_enrolled_required_user_is_signed_out(alice: User, settings):
    settings.TWO_FACTOR_REQUIRED = "admins"
    first = client_from()
    sign_in(first, "alice")
    enrol(first, alice)
    other = client_from("10.0.0.2")
    other.force_login(alice)  # a session that never gave a code
    response = other.get("/users/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not signed_in(other)
    assert first.get("/users/").status_code == 200


# -- an administrator's reset ---------------------------------------------------------------


def test_an_administrator_resets_a_lost_device(enrolled, alice: User):
    bob, _ = enrolled
    admin = client_from()
    admin.force_login(alice)
    page = admin.get(f"/users/{bob.pk}/").content.decode()
    assert "Reset two-factor login" in page
    assert admin.post(f"/users/{bob.pk}/2fa-reset").status_code == 302
    assert not twofactor.is_enrolled(bob)
    event = SecurityEvent.objects.get(action="2fa.reset")
    assert event.actor == alice and event.subject == bob
    client = client_from()
    assert sign_in(client, "bob")["Location"] == "/domains/"  # no code asked any more


def test_only_administrators_reset(enrolled):
    bob, _ = enrolled
    other = User.objects.create(username="erin", role=User.Role.EDITOR)
    client = client_from()
    client.force_login(other)
    assert client.post(f"/users/{bob.pk}/2fa-reset").status_code == 404
    assert twofactor.is_enrolled(bob)


def test_the_command_resets(enrolled):
    bob, _ = enrolled
    out = StringIO()
    call_command("user", "reset-2fa", "bob", stdout=out)
    assert "two-factor login of bob reset" in out.getvalue() and not twofactor.is_enrolled(bob)
    out = StringIO()
    call_command("user", "reset-2fa", "bob", stdout=out)
    assert "bob had no two-factor login" in out.getvalue()


def test_a_user_of_any_backend_gets_the_second_step(enrolled, settings):
    """Directory (LDAP) users come through django.contrib.auth.authenticate like local ones:
    the second step only looks at the user row the backend returned."""
    bob, _ = enrolled
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "tests.accounts.test_two_factor.NamedBackend",
    ]
    client = client_from()
    response = client.post("/login/", {"username": "bob", "password": "directory-secret"})
    assert response["Location"] == "/login/code/" and not signed_in(client)
    client.post("/login/code/", {"code": next_code(bob)})
    assert signed_in(client)
    assert client.session["_auth_user_backend"] == "tests.accounts.test_two_factor.NamedBackend"


class NamedBackend:
    """A stand-in for another authentication source (the directory): its own password."""

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        if password == "directory-secret":
            return User.objects.filter(username=username).first()
        return None

    def get_user(self, user_id):  # type: ignore[no-untyped-def]
        return User.objects.filter(pk=user_id).first()


def test_after_a_wrong_code_the_app_code_waits_a_moment_and_says_so(enrolled):
    bob, codes = enrolled
    client = client_from()
    sign_in(client, "bob")
    assert client.post("/login/code/", {"code": "123456"}).status_code == 422
    response = client.post("/login/code/", {"code": next_code(bob)})
    assert response.status_code == 429 and "wait 1 second and try again" in response.content.decode()
    assert not signed_in(client)
    # a recovery code is not held up by the app's wait
    client.post("/login/code/", {"code": codes[1]})
    assert signed_in(client)
