"""The mail counts the alias grid shows, supplied by mail-log ingestion (the maillog app).

maillog counts mail per alias, so it depends on aliases and not the reverse: it hands
its :class:`TrafficColumns` to :func:`provide` when Django starts
(``MaillogConfig.ready``), and the grid reads them through :func:`traffic_columns`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

if TYPE_CHECKING:
    from aliasdesk.aliases.models import Alias


@dataclass(frozen=True)
class TrafficColumns:
    """What the grid needs to show an alias's mail and to find the unused ones."""

    days: int
    """How many days the counts cover."""
    max_unused_days: int
    """The longest "unused for N days" the grid accepts."""
    attach: Callable[[Iterable[Alias]], None]
    """Sets ``alias.traffic`` on each alias, in one query."""
    unused: Callable[[int], Q]
    """A filter on aliases: those that route mail but had none logged for N days."""
    received: Callable[[], Any]
    """An expression on aliases: the mail received in the last ``days`` days (the grid sorts by it)."""
    last_seen: str
    """The field path from an alias to the last time mail for it was logged (NULL: never)."""


_columns: TrafficColumns | None = None


def provide(columns: TrafficColumns) -> None:
    global _columns
    _columns = columns


def traffic_columns() -> TrafficColumns:
    if _columns is None:
        raise ImproperlyConfigured("the traffic columns of the alias grid come from the maillog app: install it")
    return _columns
