"""Why a deploy built the whole map instead of patching the deployed one.

``Deploy.why_full`` keeps the reason in English whoever deployed (a German web page, the
agent, the command line), and every page and report shows it in its reader's language
(``shown``). A reason is one of the messages below, filled in with its values; a stored
text that none of them matches (cut at 255 characters, or written by an older version) is
shown as it is.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from django.utils.translation import gettext, gettext_noop

# Why the engine does not even try a patch (deploys.engine).
PATCHING_OFF = gettext_noop("patching is switched off (ALIASDESK_DEPLOY_PATCH)")
FORCED = gettext_noop("a forced deploy builds the whole map")
PREVIEW = gettext_noop("a preview checks the whole map")
TABLE_TYPE = gettext_noop("%(type)s tables are always built whole")
ALIAS_DOMAIN = gettext_noop("an alias domain's map is generated from its target's: built whole")
INTERRUPTED = gettext_noop("a deploy was interrupted since the last good one")
FIRST = gettext_noop("no deploy to patch yet")
REBUILD = gettext_noop("header, footer, settings or an import changed")
DRIFT = gettext_noop("the map on disk is not the one last deployed")
OTHER_TABLE = gettext_noop("the compiled table is not the one last deployed")
# Why a patch plan gave up (deploys.incremental).
HEAD_OR_TAIL = gettext_noop("the header or footer differs from the deployed map")
SERIAL_ZERO = gettext_noop("aliases were written around aliasdesk's services (serial 0)")
TOO_MANY = gettext_noop("more than %(max)s aliases changed")
MISPLACED = gettext_noop("%(key)s: its line is not where the deployed map should have it")
NO_BLANK = gettext_noop("%(key)s: the blank line above its comment is missing")
NOT_ASCII_KEY = gettext_noop("%(key)s: keys beyond ASCII are folded by Postfix's own rules; rebuilt")
DUPLICATE = gettext_noop("%(key)s is defined %(count)s times")
READ_BACK = gettext_noop("a changed alias does not read back as stored")
NOT_ASCII_DESTINATION = gettext_noop("%(key)s: quoted or non-ASCII destinations are checked by a full build")
ERROR = gettext_noop("a changed alias has an error; the full build reports it")
CATCH_ALL = gettext_noop("a catch-all changed; the full build checks it against the mailboxes")
MAILBOX_LINE = gettext_noop("the own alias line of a mailbox under a catch-all changed; the full build checks it")
FAR_REACH = gettext_noop("the changed aliases reach more than %(max)s others; the full build checks them")

REASONS = (
    PATCHING_OFF, FORCED, PREVIEW, TABLE_TYPE, ALIAS_DOMAIN, INTERRUPTED, FIRST, REBUILD, DRIFT, OTHER_TABLE,
    HEAD_OR_TAIL, SERIAL_ZERO, TOO_MANY, MISPLACED, NO_BLANK, NOT_ASCII_KEY, DUPLICATE, READ_BACK,
    NOT_ASCII_DESTINATION, ERROR, CATCH_ALL, MAILBOX_LINE, FAR_REACH,
)


class Reason(NamedTuple):
    """One of REASONS and its values."""

    message: str
    values: dict[str, object]

    @property
    def english(self) -> str:
        """What Deploy.why_full keeps."""
        return self.message % self.values if self.values else self.message

    def __str__(self) -> str:
        return gettext(self.message) % self.values if self.values else gettext(self.message)


def reason(message: str, **values: object) -> Reason:
    return Reason(message, values)


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each reason as a pattern that matches its English text and captures its values."""
    out = []
    for message in REASONS:
        pattern = re.sub(r"%\\\((\w+)\\\)s", r"(?P<\1>.+?)", re.escape(message))
        out.append((re.compile(pattern), message))
    return out


def shown(stored: str) -> str:
    """A stored reason (``Deploy.why_full``) in the reader's language."""
    for pattern, message in _patterns():
        match = pattern.fullmatch(stored)
        if match:
            return str(Reason(message, match.groupdict()))
    return stored
