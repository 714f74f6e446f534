"""Users with real passwords, and a client that signs in through the form from an address.

alice is an administrator, bob edits example.com; both have the password PASSWORD.
The test client's requests come from REMOTE_ADDR 10.0.0.1 unless a test says otherwise
(127.0.0.1, the test client's default, is a trusted proxy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from aliasdesk.accounts.models import User
from aliasdesk.accounts.services import add_user
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_domain

PASSWORD = "correct-horse-battery-9"
ADDRESS = "10.0.0.1"


@pytest.fixture
def fast_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def example(db, aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    return create_domain("example.com", map_path=map_dir / "example.com")


@pytest.fixture
def alice(fast_hashing, example) -> User:  # type: ignore[no-untyped-def]
    return add_user("alice", "admin", password=PASSWORD)[0]


@pytest.fixture
def bob(fast_hashing, example) -> User:  # type: ignore[no-untyped-def]
    return add_user("bob", "editor", domains=["example.com"], password=PASSWORD)[0]


def client_from(address: str = ADDRESS, **headers: str) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/login/", {"username": username, "password": password}, **extra)


def current_code(device: TOTPDevice, offset: int = 0) -> str:
    """What the user's app shows now (offset in 30-second steps)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


# The private slapd of the directory login tests, and its fixtures (see slapd.py).
from tests.accounts.slapd import (  # noqa: E402, F401
    LOCAL_PASSWORD,
    SUFFIX,
    Slapd,
    domains,
    local_admin,
    own_slapd,
    pki,
    slapd,
    use_directory,
)
