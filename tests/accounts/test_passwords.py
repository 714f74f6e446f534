"""Every place that sets a password runs Django's validators, the similarity to the user
name and the all-digits check included, and shows their messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aliasdesk.accounts.models import User
from tests.accounts.conftest import PASSWORD, client_from, sign_in

pytestmark = pytest.mark.django_db

SIMILAR = "The password is too similar to the username."
NUMERIC = "This password is entirely numeric."


@pytest.fixture
def admin(alice: User):  # type: ignore[no-untyped-def]
    client = client_from()
    sign_in(client, "alice")
    return client


@pytest.mark.parametrize(
    ("password", "message"),
    [("frankenstein1", SIMILAR), ("8401739265", NUMERIC), ("short", "too short"), ("password123", "too common")],
)
def test_the_create_page_refuses_and_says_why(admin, password: str, message: str):
    response = admin.post("/users/new", {"username": "frankenstein", "role": "viewer", "password": password,
                                         "password2": password})
    assert response.status_code == 422 and message in response.content.decode()
    assert not User.objects.filter(username="frankenstein").exists()


@pytest.mark.parametrize(("password", "message"), [("bob12", SIMILAR), ("8401739265", NUMERIC)])
def test_the_administrators_set_password_page_refuses_and_says_why(admin, bob: User, password: str, message: str):
    response = admin.post(f"/users/{bob.pk}/password", {"password": password, "password2": password})
    assert response.status_code == 422 and message in response.content.decode()
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)


@pytest.mark.parametrize(("password", "message"), [("alice1234", SIMILAR), ("8401739265", NUMERIC)])
def test_ones_own_password_page_refuses_and_says_why(admin, alice: User, password: str, message: str):
    response = admin.post("/password/", {"old_password": PASSWORD, "new_password1": password,
                                         "new_password2": password})
    assert response.status_code == 200 and message in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_good_password_is_taken_everywhere(admin, bob: User):
    assert admin.post(f"/users/{bob.pk}/password", {"password": "long and odd 7", "password2": "long and odd 7"}
                      ).status_code == 302
    bob.refresh_from_db()
    assert bob.check_password("long and odd 7")


@pytest.mark.parametrize(("password", "message"), [("henrietta9", SIMILAR), ("8401739265", NUMERIC)])
def test_the_command_refuses_and_says_why(tmp_path, password: str, message: str):
    # The command on its own SQLite file: the suite's database (a test database) is not its.
    env = {k: v for k, v in __import__("os").environ.items() if k != "ALIASDESK_DATABASE_URL"}
    env["ALIASDESK_DATA_DIR"] = str(tmp_path)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aliasdesk", *args], env=env, input=stdin,
                              capture_output=True, text=True)

    assert run("migrate", "--verbosity", "0").returncode == 0
    result = run("user", "add", "henrietta", "--role", "viewer", "--password-stdin", stdin=password + "\n")
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
