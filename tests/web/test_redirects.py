"""Redirect targets (``next``) only to this site: never an open redirect."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain

pytestmark = [pytest.mark.django_db]

FOREIGN = [
    "https://evil.example/",
    "http://evil.example/domains/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "\\/evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(document.domain)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http:evil.example",
    "https://testserver@evil.example/",
]


@pytest.mark.parametrize("target", FOREIGN)
def test_bulk_change_never_goes_off_site(login: Callable[[str], Client], example: Domain, target: str) -> None:
    ids = list(Alias.objects.filter(domain=example).values_list("pk", flat=True))
    response = login("bob").post(
        "/domains/example.com/aliases/bulk", {"action": "disable", "ids": ids, "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == "/domains/example.com/"
    assert not Alias.objects.filter(domain=example, enabled=True).exists()  # the change itself is done


@pytest.mark.parametrize("target", FOREIGN)
def test_bulk_refusal_never_goes_off_site(login: Callable[[str], Client], example: Domain, target: str) -> None:
    response = login("bob").post("/domains/example.com/aliases/bulk", {"action": "disable", "next": target})
    assert response["Location"] == "/domains/example.com/"


def test_bulk_goes_back_to_the_page_of_this_site(login: Callable[[str], Client], example: Domain) -> None:
    ids = list(Alias.objects.filter(domain=example).values_list("pk", flat=True))
    back = "/domains/example.com/?q=info&page=1"
    response = login("bob").post("/domains/example.com/aliases/bulk", {"action": "disable", "ids": ids, "next": back})
    assert response["Location"] == back


@pytest.fixture
def walter(db) -> User:  # type: ignore[no-untyped-def]
    user = User(username="walter", role=User.Role.ADMIN, is_staff=True)
    user.set_password("correct-horse-battery-9")
    user.save()
    return user


@pytest.mark.parametrize("target", FOREIGN)
def test_login_never_goes_off_site(walter: User, settings, target: str) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    walter.set_password("correct-horse-battery-9")
    walter.save()
    client = Client()
    assert client.get("/login/", {"next": target}).status_code == 200
    response = client.post(
        "/login/", {"username": "walter", "password": "correct-horse-battery-9", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == settings.LOGIN_REDIRECT_URL


def test_login_goes_on_to_a_page_of_this_site(walter: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    walter.set_password("correct-horse-battery-9")
    walter.save()
    response = Client().post(
        "/login/", {"username": "walter", "password": "correct-horse-battery-9", "next": "/audit/?page=2"}
    )
    assert response["Location"] == "/audit/?page=2"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "javascript:alert(1)"])
def test_logout_never_goes_off_site(login: Callable[[str], Client], target: str) -> None:
    response = login("bob").post("/logout/", {"next": target})
    assert response.status_code == 302
    assert "evil" not in response["Location"] and "javascript" not in response["Location"]
