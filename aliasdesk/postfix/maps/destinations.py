"""Destinations as Postfix compares them: one address, however it is spelled in a map value.

``Bob@Example.org``, ``bob@example.org`` and ``"bob"@example.org`` are the same recipient to
Postfix: the value is read into the internal (unquoted) form, and table lookups fold case.
A trailing dot after the domain goes too (trivial-rewrite drops it). Offboarding compares
destinations in this form, so it finds every spelling of the address it replaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from aliasdesk.postfix.maps.resolve import unquote_local

__all__ = ["destination_form", "replace_destination"]


def destination_form(address: str) -> str:
    """The form in which two destinations are the same recipient: unquoted, case-folded."""
    text = unquote_local(address.strip())
    at = text.rfind("@")
    if at >= 0 and text.endswith(".") and at < len(text) - 1:
        text = text.rstrip(".")
    return text.casefold()


def replace_destination(tokens: Sequence[str], old: str, new: str | None) -> list[str] | None:
    """``tokens`` with every spelling of ``old`` replaced by ``new`` (or removed when None).

    ``new`` takes the place of the first ``old``, unless the list holds it already (then
    ``old`` just goes: a destination is not listed twice). None when ``old`` is not there.
    """
    wanted = destination_form(old)
    if not any(destination_form(t) == wanted for t in tokens):
        return None
    present = new is not None and any(destination_form(t) == destination_form(new) for t in tokens)
    out: list[str] = []
    placed = present or new is None
    for token in tokens:
        if destination_form(token) != wanted:
            out.append(token)
        elif not placed and new is not None:
            out.append(new)
            placed = True
    return out
