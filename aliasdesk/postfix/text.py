"""Translation of the messages this package gives to people, without importing Django.

Messages are marked ``_("...")`` (``ngettext`` for counts), so Django's makemessages finds
them; the web application installs its translator once at start-up (``set_translator``).
Until then, and for plain library use, messages stay English. Translate a message before
filling it in: ``_("the key {key} is empty").format(key=key)``.

``gettext_noop`` marks a message that is translated later, where it is shown (a cached
check keeps the English message and its values, not one language's sentence).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["_", "gettext_noop", "ngettext", "set_translator"]


def _identity(message: str) -> str:
    return message


def _plural_identity(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


_translate: Callable[[str], str] = _identity
_translate_plural: Callable[[str, str, int], str] = _plural_identity


def set_translator(gettext: Callable[[str], str],
                   ngettext: Callable[[str, str, int], str] | None = None) -> None:
    """Translate messages with ``gettext`` (and plural ones with ``ngettext``) from now on."""
    global _translate, _translate_plural
    _translate = gettext
    _translate_plural = ngettext or _plural_identity


def _(message: str) -> str:
    """``message`` in the current language."""
    return _translate(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message for ``count`` things, in the current language."""
    return _translate_plural(singular, plural, count)


def gettext_noop(message: str) -> str:
    """``message`` itself, marked for the catalogue: it is translated where it is shown."""
    return message
