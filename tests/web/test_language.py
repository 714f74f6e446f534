"""The interface language: the browser's Accept-Language chooses, a user's own choice wins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from aliasdesk.accounts.models import User

pytestmark = pytest.mark.django_db


def _lang(html: str) -> str:
    start = html.index('<html lang="') + len('<html lang="')
    return html[start : html.index('"', start)]


def test_the_browser_chooses_before_sign_in() -> None:
    assert _lang(Client().get("/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.8").text) == "de"
    assert _lang(Client().get("/login/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").text) == "en"
    assert _lang(Client().get("/login/").text) == "en"


def test_a_users_choice_wins_over_the_browser(login: Callable[[str], Client], bob: User) -> None:
    client = login("bob")
    assert _lang(client.get("/", HTTP_ACCEPT_LANGUAGE="de", follow=True).text) == "de"
    answer = client.post("/account/language", {"language": "en", "next": "/domains/"}, HTTP_ACCEPT_LANGUAGE="de")
    assert answer.status_code == 302 and answer["Location"] == "/domains/"
    bob.refresh_from_db()
    assert bob.language == "en"
    assert _lang(client.get("/", HTTP_ACCEPT_LANGUAGE="de", follow=True).text) == "en"
    client.post("/account/language", {"language": "de"})
    assert _lang(client.get("/", follow=True).text) == "de"
    client.post("/account/language", {"language": ""})  # back to the browser's
    bob.refresh_from_db()
    assert bob.language == ""
    assert _lang(client.get("/", follow=True).text) == "en"


def test_an_unknown_language_or_a_foreign_next_page_is_not_taken(login: Callable[[str], Client], bob: User) -> None:
    client = login("bob")
    answer = client.post("/account/language", {"language": "xx", "next": "https://evil.example/"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    bob.refresh_from_db()
    assert bob.language == ""
    assert client.get("/account/language").status_code == 405
