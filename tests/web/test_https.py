"""ALIASDESK_HTTPS: the deploy checks pass behind TLS, the real server redirects and sends
HSTS, /healthz stays plain HTTP for monitors; admins' sessions are shorter."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from aliasdesk.accounts.models import User

CLI = [sys.executable, "-m", "aliasdesk"]
HTTPS_WARNINGS = ["security.W004", "security.W008", "security.W012", "security.W016"]


def env_for(data_dir: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIASDESK_", "DJANGO_"))}
    env.update(ALIASDESK_DATA_DIR=str(data_dir), ALIASDESK_SECRET_KEY=secrets.token_urlsafe(50), **more)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "check", "--deploy", "--fail-level", "WARNING"], env=env, capture_output=True, text=True, timeout=120
    )


def test_deploy_checks_pass_behind_tls(tmp_path: Path) -> None:
    proc = check_deploy(env_for(tmp_path / "data", ALIASDESK_HTTPS="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout + proc.stderr


def test_deploy_checks_fail_on_the_https_warnings_without_it(tmp_path: Path) -> None:
    """Documented in README: without ALIASDESK_HTTPS, `check --deploy` names what TLS would set."""
    proc = check_deploy(env_for(tmp_path / "data"))
    assert proc.returncode != 0
    for warning in HTTPS_WARNINGS:
        assert warning in proc.stderr, proc.stderr
    assert "security.W018" not in proc.stderr  # DEBUG is off
    assert "security.W009" not in proc.stderr  # the secret key is a real one


def test_debug_on_fails_the_deploy_checks_even_behind_tls(tmp_path: Path) -> None:
    proc = check_deploy(env_for(tmp_path / "data", ALIASDESK_HTTPS="1", ALIASDESK_DEBUG="1"))
    assert proc.returncode != 0 and "security.W018" in proc.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`aliasdesk serve` (gunicorn) with ALIASDESK_HTTPS=1 on a loopback port, as behind nginx."""
    data = tmp_path_factory.mktemp("https-data")
    env = env_for(data, ALIASDESK_HTTPS="1")
    subprocess.run([*CLI, "migrate", "--verbosity", "0"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = open(data / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [*CLI, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env, stdout=log, stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                fetch(base + "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail((data / "serve.log").read_text())
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_healthz_answers_over_plain_http_from_loopback(tls_server: str) -> None:
    status, _, body = fetch(tls_server + "/healthz")
    assert (status, body) == (200, b"ok")


def test_each_response_closes_its_connection(tls_server: str) -> None:
    """Kept-alive connections would stay with one gthread worker (serve.py): each request
    finds whichever worker is free, as it does behind nginx."""
    _, headers, _ = fetch(tls_server + "/healthz")
    assert headers.get("Connection", "").lower() == "close"


def test_metrics_answers_prometheus_on_loopback_over_plain_http(tls_server: str) -> None:
    status, _, body = fetch(tls_server + "/metrics")
    assert status == 200 and b"aliasdesk_" in body
    status, _, _ = fetch(tls_server + "/metrics", **{"X-Forwarded-For": "203.0.113.9"})
    assert status == 403  # through the proxy: the token is needed


def test_pages_over_plain_http_redirect_to_https(tls_server: str) -> None:
    status, headers, _ = fetch(tls_server + "/login/?next=/domains/")
    assert status == 301
    assert headers["Location"] == tls_server.replace("http://", "https://") + "/login/?next=/domains/"


def test_behind_the_proxy_pages_get_hsts_and_secure_cookies(tls_server: str) -> None:
    status, headers, body = fetch(tls_server + "/login/", **{"X-Forwarded-Proto": "https"})
    assert status == 200 and b"csrfmiddlewaretoken" in body
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = headers["Set-Cookie"]
    assert "csrftoken=" in cookie and "Secure" in cookie
    assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_a_forged_proto_header_of_another_value_still_redirects(tls_server: str) -> None:
    status, _, _ = fetch(tls_server + "/login/", **{"X-Forwarded-Proto": "http"})
    assert status == 301


# Session lifetimes, in process.


@pytest.fixture
def people(db) -> dict[str, User]:  # type: ignore[no-untyped-def]
    made = {}
    for name, role in [("alice", User.Role.ADMIN), ("bob", User.Role.EDITOR)]:
        user = User(username=name, role=role)
        user.set_unusable_password()
        user.save()
        made[name] = user
    return made


def _session_expiry(client: Client) -> timedelta:
    key = client.cookies["sessionid"].value
    return Session.objects.get(session_key=key).expire_date - timezone.now()


def test_admin_sessions_end_after_admin_session_minutes(people: dict[str, User], settings) -> None:  # type: ignore[no-untyped-def]
    settings.ADMIN_SESSION_MINUTES = 30
    client = Client()
    client.force_login(people["alice"])
    assert client.get("/domains/").status_code == 200
    assert timedelta(minutes=29) < _session_expiry(client) <= timedelta(minutes=30)
    assert timedelta(minutes=29) < timedelta(seconds=int(client.cookies["sessionid"]["max-age"])) <= timedelta(
        minutes=30
    )
    # Later requests do not move the end on.
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        expire_date=timezone.now() + timedelta(minutes=5)
    )
    client.get("/domains/")
    assert _session_expiry(client) <= timedelta(minutes=5)
    # And when it is over, the admin signs in again.
    Session.objects.all().update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/domains/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_other_sessions_last_session_minutes(people: dict[str, User], settings) -> None:  # type: ignore[no-untyped-def]
    settings.ADMIN_SESSION_MINUTES = 30
    settings.SESSION_COOKIE_AGE = 600 * 60
    client = Client()
    client.force_login(people["bob"])
    assert client.get("/domains/").status_code == 200
    assert timedelta(minutes=599) < _session_expiry(client) <= timedelta(minutes=600)


def test_session_minutes_and_admin_session_minutes_come_from_the_environment(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data", ALIASDESK_SESSION_MINUTES="90", ALIASDESK_ADMIN_SESSION_MINUTES="15")
    code = "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE, s.ADMIN_SESSION_MINUTES)"
    proc = subprocess.run(
        [*CLI, "shell", "--verbosity", "0", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.split() == ["5400", "15"], proc.stderr


def test_healthz_is_exempt_from_the_redirect(settings, db) -> None:  # type: ignore[no-untyped-def]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/login/").status_code == 301
    assert Client().get("/healthz", secure=True).status_code == 200


def test_every_page_sends_the_enforced_policy(db, settings) -> None:  # type: ignore[no-untyped-def]
    """Not report-only, and the directives the issue asks for."""
    alice = User(username="alice", role=User.Role.ADMIN)
    alice.set_unusable_password()
    alice.save()
    client = Client()
    client.force_login(alice)
    for path in ["/login/", "/domains/", "/dashboard/", "/users/", "/audit/", "/resolve/", "/nothing/"]:
        response = client.get(path)
        assert "Content-Security-Policy-Report-Only" not in response.headers, path
        policy = dict(
            ([*part.strip().split(" ", 1), ""])[:2] for part in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'self'", path
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'", path
        assert policy["base-uri"] == "'none'" and policy["object-src"] == "'none'", path
        assert "unsafe" not in response.headers["Content-Security-Policy"], path


TEMPLATES = Path(__file__).resolve().parents[2] / "aliasdesk" / "templates"


def test_no_template_has_inline_script_handler_or_style() -> None:
    """What the policy would block, caught before a browser meets it (json_script's
    <script type="application/json"> is data, and allowed)."""
    import re

    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text, re.I):
            tag = match.group()
            if "src=" not in tag and 'type="application/json"' not in tag:
                found.append(f"{template.name}: {tag}")
        for pattern in (r"\sstyle\s*=", r"\son[a-z]+\s*=", r"<style\b", r"javascript:", r"\shx-on"):
            found += [f"{template.name}: {m.group()}" for m in re.finditer(pattern, text, re.I)]
    assert found == []
