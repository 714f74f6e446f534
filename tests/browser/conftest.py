"""Browser fixtures: Debian's chromium, driven by Playwright, against pytest-django's live_server.

Only /usr/bin/chromium is used (Playwright never downloads a browser here); without it, or
without the playwright package, every browser test skips and says why. live_server serves
static files through django.contrib.staticfiles' handler (the finders, no collectstatic),
and ``UI.open`` checks on every page that Pico, app.css and htmx really arrived.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias, Domain
from scripts import chromium  # Debian's chromium and how it starts, as the screenshots start it

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "screenshots"
CHROMIUM = Path(chromium.CHROMIUM)
CHROMIUM_ARGS = chromium.CHROMIUM_ARGS
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery-9"
TIMEOUT_MS = 5000
# Every browser test module: ``pytestmark = BROWSER_TEST``. Its own database transactions (the
# live server is another thread), one xdist worker for all (one chromium), and quiet about
# the static root that the finders make unnecessary.
BROWSER_TEST = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One chromium for the package. Sync Playwright keeps an asyncio loop running in this
    thread, which Django's ORM takes for async code: the ORM check is off meanwhile."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            try:
                chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            except Exception as exc:  # a broken install: say so rather than fail every test
                pytest.skip(f"{CHROMIUM} does not start under Playwright: {exc}")
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Desk:
    """The people and domains of a browser test."""

    users: dict[str, User]
    domains: dict[str, Domain]

    def alias(self, key: str) -> Alias:
        return Alias.objects.get(key=key, deleted_at__isnull=True)


@pytest.fixture
def desk(aliasdesk_settings, settings) -> Desk:  # type: ignore[no-untyped-def]
    """alice admin, bob editor and dave viewer of example.com; example.com with a handful of
    aliases (sales@ and sales-emea@ for searching), example.org with two."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice, _ = add_user("alice", "admin", password=PASSWORD)
    com = services.create_domain("example.com", user=alice)
    org = services.create_domain("example.org", user=alice)
    for key, destinations, comment in [
        ("info@example.com", "anna@example.net, ben@example.net", "OPS-1 front desk"),
        ("sales@example.com", "carla@example.net", ""),
        ("sales-emea@example.com", "dario@example.net", "EMEA team"),
        ("jobs@example.com", "hr@example.net", ""),
        ("press@example.com", "erik@example.net", "OPS-7"),
        ("team@example.com", "anna@example.net, carla@example.net, dario@example.net", ""),
    ]:
        services.create_alias(com, key, destinations, user=alice, comment=comment)
    services.create_alias(org, "info@example.org", "olga@example.net", user=alice)
    services.create_alias(org, "billing@example.org", "paul@example.net", user=alice)
    users = {
        "alice": alice,
        "bob": add_user("bob", "editor", domains=["example.com"], password=PASSWORD)[0],
        "dave": add_user("dave", "viewer", domains=["example.com"], password=PASSWORD)[0],
    }
    return Desk(users, {"example.com": com, "example.org": org})


@dataclass
class UI:
    """A chromium tab on the live server, and what went wrong while loading things."""

    page: Any
    base_url: str
    problems: list[str] = field(default_factory=list)

    def sign_in(self, user: User) -> None:
        """Sign in without the form (the login test uses the form)."""
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": self.base_url}])

    def open(self, path: str, status: int = 200) -> Any:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == status, f"GET {path}: {response and response.status}"
        self.check_assets()
        return response

    def check_assets(self) -> None:
        """Pico, app.css and htmx 2 are loaded and applied on the page shown."""
        # After a click that navigates, the new page may still be loading its deferred scripts.
        self.page.wait_for_load_state("load")
        self.page.wait_for_function("() => window.htmx !== undefined", timeout=10_000)
        loaded = self.page.evaluate(
            """() => ({
                htmx: window.htmx ? String(window.htmx.version) : null,
                pico: getComputedStyle(document.documentElement).getPropertyValue('--pico-primary').trim(),
                app: getComputedStyle(document.querySelector('.topbar')).backgroundColor,
            })"""
        )
        assert loaded["htmx"] and loaded["htmx"].startswith("2"), f"htmx did not load: {loaded}"
        assert loaded["pico"], f"pico.min.css did not load: {loaded}"
        assert loaded["app"] == "rgb(251, 252, 253)", f"app.css did not load: {loaded}"
        assert not self.problems, "\n".join(self.problems)

    def shot(self, name: str) -> Path:
        """A screenshot of what is shown, as screenshots/<name>.png."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        assert not self.problems, "\n".join(self.problems)
        return path


def _ui(browser: Any, live_server: Any, viewport: dict[str, int]) -> Iterator[UI]:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    ui = UI(page, live_server.url)

    def on_response(response: Any) -> None:
        if "/static/" in response.url and response.status >= 400:
            ui.problems.append(f"{response.url}: {response.status}")

    def on_console(message: Any) -> None:
        # A 403/404/409 page is a "failed resource" for chromium, and that is the point of some tests
        # (so are 422, a form sent back with its error, and 429, the lockout page);
        # htmx logs a request superseded by a newer one (hx-sync replace) as an error.
        expected = r"Failed to load resource.*\b(40[349]|422|429)\b|^htmx:(afterRequest|sendAbort)\b"
        if message.type == "error" and not re.search(expected, message.text):
            ui.problems.append(f"console error: {message.text}")

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: ui.problems.append(f"page error: {error}"))
    def on_request_failed(request: Any) -> None:
        # A request the browser cancels because the page moved on (a click that navigates before
        # the favicon came) is net::ERR_ABORTED; a missing or broken file is a status, caught above.
        if "/static/" in request.url and "ERR_ABORTED" not in str(request.failure):
            ui.problems.append(f"{request.url}: {request.failure}")

    page.on("requestfailed", on_request_failed)
    yield ui
    context.close()


@pytest.fixture
def ui(browser: Any, live_server: Any) -> Iterator[UI]:
    """A desktop tab, 1280×900."""
    yield from _ui(browser, live_server, DESKTOP)


@pytest.fixture
def phone(browser: Any, live_server: Any) -> Iterator[UI]:
    """A phone-sized tab, 390×844."""
    yield from _ui(browser, live_server, PHONE)
