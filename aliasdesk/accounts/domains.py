"""Domains, as far as accounts needs them: supplied by the aliases app, which owns them.

A grant joins a user to a domain. Domains are the aliases app's, and aliases is built on
accounts, so accounts never imports it. The few places here that name domains
(``aliasdesk user add --domain``, the directory's domain groups, the domains offered on a
user's page) call the functions aliases hands to :func:`provide` when Django starts
(``AliasesConfig.ready``), through :func:`domain_grants`. Granting and revoking one domain
by hand is ``aliasdesk.aliases.grants``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from aliasdesk.accounts.models import User


@dataclass(frozen=True)
class DomainGrants:
    """What accounts asks of the app that owns domains."""

    grantable: Callable[[], Sequence[Model]]
    """Every live domain, by name: what a user's page offers to grant."""
    missing: Callable[[Sequence[str]], list[str]]
    """The names, as given, that are no live domain (letter case aside)."""
    grant_named: Callable[[User, Sequence[str], str], None]
    """Grants a new user these live domains (by name) in this grant role; records ``grant.added`` for each."""
    sync_directory: Callable[[User, frozenset[str], str], list[str]]
    """Makes a directory user's grants exactly these live domains (by name) in this grant role,
    recording each change; returns the names that are no live domain."""
    grant: Callable[[User, Sequence[str], str | None, User | None], list[str]]
    """Grants a user these live domains (by name) in this grant role (None: the one their role
    allows), all or none, as ``by`` (None: the command line); returns the names granted."""
    revoke: Callable[[User, Sequence[str], User | None], list[str]]
    """Takes these domains (by name) away from a user, all or none; returns those they had."""


_grants: DomainGrants | None = None


def provide(grants: DomainGrants) -> None:
    global _grants
    _grants = grants


def domain_grants() -> DomainGrants:
    if _grants is None:
        raise ImproperlyConfigured("domains come from the aliases app: install it")
    return _grants
