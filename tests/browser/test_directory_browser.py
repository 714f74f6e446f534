"""Directory login in a real browser against a real slapd: the refusal message for someone in
no role group, a directory user's pages, and the admin's view of sources (screenshots)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from tests.accounts.slapd import Slapd, pki, slapd  # noqa: F401  (fixtures)
from tests.browser.conftest import BROWSER_TEST, PASSWORD, UI

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def form_sign_in(ui: UI, name: str, password: str) -> None:
    ui.open("/login/")
    ui.page.get_by_label("User name").fill(name)
    ui.page.get_by_label("Password").fill(password)
    ui.page.get_by_role("button", name="Sign in").click()


def test_directory_sign_in_and_the_pages_that_say_so(
    ui: UI, slapd: Slapd, settings: Any, aliasdesk_settings: Any  # noqa: F811
) -> None:
    from aliasdesk.accounts.ldapconf import directory_settings
    from aliasdesk.aliases.services import create_domain

    for name, value in directory_settings(slapd.env()).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "aliasdesk.accounts.backends.LocalBackend",
        "aliasdesk.accounts.directory.DirectoryBackend",
    ]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    create_domain("example.com", map_path=settings.MAP_DIR / "example.com")
    add_user("root", User.Role.ADMIN, password=PASSWORD)

    form_sign_in(ui, "dan", "dan-pass")
    expect(ui.page.get_by_role("alert")).to_contain_text("in no aliasdesk group")
    ui.shot("login-directory-no-group")

    form_sign_in(ui, "ben", "ben-pass")
    expect(ui.page).to_have_url(re.compile(r"/domains/$"))
    expect(ui.page.get_by_role("link", name="example.com")).to_be_visible()
    ui.open("/password/")
    expect(ui.page.get_by_text("managed by the directory")).to_be_visible()
    ui.shot("password-directory-user")
    ui.page.context.clear_cookies()

    form_sign_in(ui, "root", PASSWORD)
    expect(ui.page).to_have_url(re.compile(r"/domains/$"))
    ui.open("/users/")
    expect(ui.page.locator("tr", has_text="ben").get_by_text("directory")).to_be_visible()
    ui.shot("users-with-sources")
    ui.open(f"/users/{User.objects.get(username='ben').pk}/")
    expect(ui.page.get_by_role("button", name="Make it a local account")).to_be_visible()
    ui.shot("user-edit-directory")
