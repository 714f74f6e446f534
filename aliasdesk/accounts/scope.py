"""A narrower scope for the work of one request: what an API token allows.

A token never has more than its user; it may have less: read-only, and/or only some of the
user's domains. The API runs each request inside ``limited_to(scope)``, and the functions
that decide access (``accounts.access.can_administer``, ``aliases.access.visible_domains``
and ``can_edit``, ``aliases.ownership.acts_as_admin``) consult ``current_scope()``. So the
services refuse what the token does not allow, whatever the caller checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    read_only: bool = False
    domain_ids: frozenset[int] | None = None  # None: every domain the user has

    def allows_domain(self, domain_id: int) -> bool:
        return self.domain_ids is None or domain_id in self.domain_ids

    @property
    def whole(self) -> bool:
        """Writes anywhere the user may write: what administering needs."""
        return not self.read_only and self.domain_ids is None


_scope: ContextVar[Scope | None] = ContextVar("aliasdesk_scope", default=None)


@contextlib.contextmanager
def limited_to(scope: Scope | None) -> Iterator[None]:
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope() -> Scope | None:
    return _scope.get()


def may_write(domain_id: int | None = None) -> bool:
    """Whether the current scope lets the user write (in that domain)."""
    scope = _scope.get()
    if scope is None:
        return True
    if scope.read_only:
        return False
    return domain_id is None or scope.allows_domain(domain_id)


def may_administer() -> bool:
    """Administrators' work (settings, purge, users, keys of other maps) needs a whole scope."""
    scope = _scope.get()
    return scope is None or scope.whole
