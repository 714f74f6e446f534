"""Ticket references in alias comments as links to the ticket system (ALIASDESK_TICKET_URL).

An administrator gives the ticket URL with ``{ref}`` where the reference goes, and what a
reference looks like (ALIASDESK_TICKET_PATTERN, a regular expression; by default Jira's
``OPS-1234``). A pattern with a group named ``ref``, or with one group, puts only that group
in the URL (``#(\\d+)`` links ``#42`` to ``…/42``). Without a URL, comments stay plain text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core import checks
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

DEFAULT_PATTERN = r"\b[A-Z][A-Z0-9]+-\d+\b"


@lru_cache(maxsize=4)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        found = re.compile(pattern)
    except re.error:
        return None
    # A pattern that matches nothing at all would loop over every character.
    return None if found.match("") else found


def ticket_pattern() -> re.Pattern[str] | None:
    """The reference pattern when ticket links are on and both settings are sound, else None."""
    url = settings.TICKET_URL
    if not url or "{ref}" not in url or urlsplit(url).scheme not in ("http", "https"):
        return None
    return _compiled(settings.TICKET_PATTERN or DEFAULT_PATTERN)


def _ref(match: re.Match[str]) -> str:
    if "ref" in match.re.groupindex:
        return match.group("ref") or match.group(0)
    if match.re.groups == 1:
        return match.group(1) or match.group(0)
    return match.group(0)


def link_tickets(text: str) -> SafeString:
    """``text`` escaped for HTML, each ticket reference in it a link to its ticket."""
    pattern = ticket_pattern()
    if pattern is None:
        return escape(text)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        if match.end() == match.start():
            continue
        href = settings.TICKET_URL.replace("{ref}", quote(_ref(match), safe=""))
        parts += [
            escape(text[last : match.start()]),
            f'<a href="{escape(href)}" class="ticket" rel="noopener noreferrer" target="_blank">'
            f"{escape(match.group(0))}</a>",
        ]
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))  # every piece of text is escaped above


def check_ticket_links(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A system check: ticket links are set up so that they can work (runserver, migrate, check)."""
    url, pattern = settings.TICKET_URL, settings.TICKET_PATTERN or DEFAULT_PATTERN
    errors: list[checks.CheckMessage] = []
    if url and "{ref}" not in url:
        errors.append(checks.Error(
            f"ALIASDESK_TICKET_URL={url!r} has no {{ref}} for the ticket reference",
            hint="For example https://tickets.example/browse/{ref}",
            id="aliasdesk.E101",
        ))
    if url and urlsplit(url).scheme not in ("http", "https"):
        errors.append(checks.Error(
            f"ALIASDESK_TICKET_URL={url!r} is not an http:// or https:// address", id="aliasdesk.E102"
        ))
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        errors.append(checks.Error(
            f"ALIASDESK_TICKET_PATTERN={pattern!r} is not a regular expression: {exc}",
            hint="Ticket references stay plain text until it is fixed.",
            id="aliasdesk.E103",
        ))
    else:
        if compiled.match(""):
            errors.append(checks.Error(
                f"ALIASDESK_TICKET_PATTERN={pattern!r} matches empty text", id="aliasdesk.E104"
            ))
    return errors
