"""Which way a change came in: the web (the default), the API or the command line.

The API and the command line run their work inside ``via("API")`` / ``via("CLI")``; every
history record written meanwhile says so in its reason ("via API", or "restored · via API"),
through one receiver of django-simple-history's ``pre_create_historical_record``. Writers
that insert history rows themselves (the bulk importer) take ``with_channel(reason)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_channel: ContextVar[str] = ContextVar("aliasdesk_channel", default="")

CHANNELS = ("API", "CLI")


@contextlib.contextmanager
def via(channel: str) -> Iterator[None]:
    """Mark the changes made inside as coming ``via`` the API or the command line."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    token = _channel.set(channel)
    try:
        yield
    finally:
        _channel.reset(token)


def current_channel() -> str:
    """"API", "CLI", or "" (the web, or code that did not say)."""
    return _channel.get()


def with_channel(reason: str | None) -> str:
    """A history reason with the channel added: "via API", "restored · via CLI"."""
    reason = reason or ""
    channel = _channel.get()
    if not channel:
        return reason
    note = f"via {channel}"
    if note in reason:
        return reason
    return f"{reason} · {note}" if reason else note


def mark_history(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    """pre_create_historical_record receiver: the channel goes into the record's reason."""
    if _channel.get():
        history_instance.history_change_reason = with_channel(history_instance.history_change_reason)
