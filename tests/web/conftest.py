"""Named users and their domains for the web page tests.

alice is an administrator, bob edits example.com, carol is an auditor, dave reads
example.com, erin has no domain at all. other.org is granted to nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_alias, create_domain


@pytest.fixture
def example(db, aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    domain = create_domain("example.com", map_path=map_dir / "example.com")
    create_alias(domain, "info@example.com", "anna@example.org, ben@example.org", comment="OPS-1")
    create_alias(domain, "sales@example.com", "carla@example.org")
    domain.refresh_from_db()
    return domain


@pytest.fixture
def other(db, aliasdesk_settings, map_dir: Path) -> Domain:  # type: ignore[no-untyped-def]
    domain = create_domain("other.org", map_path=map_dir / "other.org")
    create_alias(domain, "info@other.org", "dora@example.org")
    domain.refresh_from_db()
    return domain


def _user(name: str, role: str) -> User:
    user = User(username=name, role=role, is_staff=role == User.Role.ADMIN)
    user.set_unusable_password()  # tests sign in with force_login; hashing is slow on purpose
    user.save()
    return user


@pytest.fixture
def alice(db) -> User:  # type: ignore[no-untyped-def]
    return _user("alice", User.Role.ADMIN)


@pytest.fixture
def bob(example: Domain) -> User:
    user = _user("bob", User.Role.EDITOR)
    Grant.objects.create(user=user, domain=example, role=Grant.Role.EDITOR)
    return user


@pytest.fixture
def carol(db) -> User:  # type: ignore[no-untyped-def]
    return _user("carol", User.Role.AUDITOR)


@pytest.fixture
def dave(example: Domain) -> User:
    user = _user("dave", User.Role.VIEWER)
    Grant.objects.create(user=user, domain=example, role=Grant.Role.VIEWER)
    return user


@pytest.fixture
def erin(db) -> User:  # type: ignore[no-untyped-def]
    return _user("erin", User.Role.EDITOR)


@pytest.fixture
def everyone(alice: User, bob: User, carol: User, dave: User, erin: User) -> dict[str, User]:
    return {u.username: u for u in (alice, bob, carol, dave, erin)}


@pytest.fixture
def login(everyone: dict[str, User]) -> Callable[[str], Client]:
    """``login("bob")``: a test client signed in as that user."""

    def signed_in(name: str) -> Client:
        client = Client()
        client.force_login(everyone[name])
        return client

    return signed_in
