"""How pflogsumm condenses log text into report keys: hosts, reasons, addresses.

The summary's detail lists (reject reasons, deferral and bounce reasons, sending
hosts) group lines under the same keys pflogsumm prints, so the two reports can
be read side by side. Everything works on bytes with ASCII-only case folding,
as pflogsumm (Perl on undecoded input) does.
"""

from __future__ import annotations

import re

__all__ = [
    "CLIENT_DOMAINS",
    "client_domain",
    "host_sort_key",
    "lower_domain",
    "perl_number",
    "said_trim",
    "smtpd_reject_detail",
    "trim",
]

_CLIENT_IPV4 = re.compile(rb"([^\[]*)\[((?:\d{1,3}\.){3}\d{1,3})\]")
_CLIENT_SLASH = re.compile(rb"([^/]*)/([0-9a-f.:]+)", re.IGNORECASE)
_CLIENT_LOOSE = re.compile(rb"([^\[(/]*)[\[(/]([^\])]+)[\])]:?\d*$")
_PARENT_DOMAIN = re.compile(rb"(.*)\.([^.]+)\.([^.]{3}|[^.]{2,3}\.[^.]{2})$")


def client_domain(client: bytes) -> bytes | None:
    """The host a client is counted under: its parent domain, or its IP address when unnamed.

    ``mail.example.com[192.0.2.1]`` -> ``example.com``; ``unknown[192.0.2.1]`` ->
    ``192.0.2.1``. None when the text has no recognisable address (pflogsumm's
    undef, which makes the message count as received without an origin).
    """
    if client in CLIENT_DOMAINS:
        return CLIENT_DOMAINS[client]
    if len(CLIENT_DOMAINS) > 50_000:
        CLIENT_DOMAINS.clear()
    m = _CLIENT_IPV4.match(client) or _CLIENT_SLASH.match(client) or _CLIENT_LOOSE.match(client)
    if m is None:
        domain = None
    else:
        domain, address = m.groups()
        if not domain or domain == b"unknown":
            domain = address
        else:
            parent = _PARENT_DOMAIN.match(domain)
            if parent is not None:
                domain = (parent.group(2) + b"." + parent.group(3)).lower()
    CLIENT_DOMAINS[client] = domain
    return domain


CLIENT_DOMAINS: dict[bytes, bytes | None] = {}  # a cache: the same clients come back all day


def lower_domain(address: bytes) -> bytes:
    """Fold the part from the first ``@`` on to lower case; the local part keeps its case."""
    at = address.find(b"@")
    if 0 <= at < len(address) - 1:
        return address[:at] + address[at:].lower()
    return address


def trim(text: bytes, limit: int) -> bytes:
    if len(text) > limit:
        return text[: limit - 3] + b"..."
    return text


_SAID = re.compile(rb".* said: ")
_UP_TO_COLON = re.compile(rb".*?: *")


def said_trim(text: bytes, limit: int) -> bytes:
    """Shorten a remote server's answer: drop "host ... said:" and leading "label:" parts first."""
    while len(text) > limit:
        m = _SAID.match(text) or _UP_TO_COLON.match(text)
        if m is None:
            return text[: limit - 3] + b"..."
        text = text[m.end() :]
    return text


_NUMBER = re.compile(rb"\s*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))")


def perl_number(text: bytes) -> float:
    """A number as Perl reads one from text: its leading numeric part, else 0."""
    if text.replace(b".", b"", 1).isdigit():
        return float(text)
    m = _NUMBER.match(text)
    return float(m.group(1)) if m else 0.0


_OCTETS = re.compile(rb"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
_WHITESPACE = re.compile(rb"\s")
_DOT_OR_AT = re.compile(rb"[.@]")


def host_sort_key(key: bytes) -> str:
    """Order addresses and hosts as pflogsumm does: IPs by octet, names from the top-level domain down."""
    first = _WHITESPACE.split(key, maxsplit=1)[0]
    octets = _OCTETS.match(first)
    if octets is not None:
        return "".join(chr(int(part)) for part in octets.groups())
    parts = _DOT_OR_AT.split(first)
    while parts and not parts[-1]:
        parts.pop()
    return b"".join(reversed(parts)).lower().decode("latin-1")


# smtpd/postscreen reject lines: "... reject: RCPT from host[ip]: 554 5.7.1 <x>: reason; from=<a> to=<b> ..."
# pflogsumm takes the last "reject:" (or hold/discard) whose remainder fits.
_REJECT_PARTS = re.compile(rb".* \b(?:reject(?:_warning)?|hold|discard): (\S+) from (\S+?): (.*)$")
_REJECT_TAIL = re.compile(rb"(?:reject(?:_warning)?|hold|discard): (\S+) from (\S+?): (.*)$")
_AFTER_CODE_ADDRESS = re.compile(rb"^(\d{3} <).*?(>:)")
_PROTOCOL_ERROR = re.compile(rb"^(?:\d{3} \d\.\d\.\d )(Protocol error);.*$")
_FIRST_CLAUSE = re.compile(rb"^(?:.*?[:;] )(?:\[[^\]]+\] )?([^;,]+)[;,].*$")
_ADDRESS_REJECTED = re.compile(rb"^((?:Sender|Recipient) address rejected: [^:]+):.*$")
_BLOCKED = re.compile(rb"(client|Client host|Sender address) .+? blocked")
_MAIL_REASON = re.compile(rb"^\d{3} (?:<.+>: )?([^;:]+)[;:]?.*$")
_OTHER_REASON = re.compile(rb"^(?:.*[:;] )?([^,]+).*$")
_TO = re.compile(rb"to=<([^>]+)>")
_UNKNOWN_USER = re.compile(rb"\d{3} <([^>]+)>: User unknown ")
_TO_LOOSE = re.compile(rb"to=<(.*?)(?:[, ]|$)")
_FROM = re.compile(rb"from=<([^>]+)>")
_RECIPIENT_REASON = re.compile(rb"(?:Recipient address rejected:|User unknown(?: |$))")
_PIPELINING = re.compile(rb".*?\d{3} (Improper use of SMTP command pipelining);.*$")
_SIZE_LIMIT = re.compile(rb".*?\d{3} (Message size exceeds fixed limit);.*$")
_LOCAL_CONFIG = re.compile(rb".*?\d{3} (Server configuration (?:error|problem));.*$")
_SOURCE = re.compile(rb".+? from (\S+?):.*$")


def smtpd_reject_detail(text: bytes) -> tuple[bytes, bytes, bytes]:  # noqa: C901 (pflogsumm's substitutions, in order)
    """(SMTP stage, reason, who) for one smtpd reject/hold/discard line, as pflogsumm groups it.

    ``text`` is the line from the program name on. The stage is RCPT, MAIL,
    CONNECT, DATA...; "who" is the rejected sender or recipient address, or the
    client's domain, depending on the reason. (pflogsumm edits the reason with
    a series of anchored substitutions; each is a match and a slice here.)
    """
    last = max(text.rfind(b" reject"), text.rfind(b" hold: "), text.rfind(b" discard: "))
    parts = _REJECT_TAIL.match(text, last + 1) if last >= 0 else None
    if parts is None:  # not the last keyword's remainder: let the regex search backwards
        parts = _REJECT_PARTS.match(text)
        if parts is None:
            return b"", b"", b""
    stage, client, remainder = parts.groups()
    reason = remainder
    if stage == b"RCPT" or stage == b"DATA" or stage == b"CONNECT":
        if reason[4:5] == b"<" and (m := _AFTER_CODE_ADDRESS.match(reason)) is not None:
            reason = m.group(1) + m.group(2) + reason[m.end() :]
        if b"Protocol error" in reason and (m := _PROTOCOL_ERROR.match(reason)) is not None:
            reason = m.group(1)
        if (m := _FIRST_CLAUSE.match(reason)) is not None:
            reason = m.group(1)
        if b"address rejected: " in reason and (m := _ADDRESS_REJECTED.match(reason)) is not None:
            reason = m.group(1)
        if b" blocked" in reason and (m := _BLOCKED.search(reason)) is not None:
            reason = reason[: m.start()] + b"blocked" + reason[m.end() :]
    elif stage == b"MAIL":
        if (m := _MAIL_REASON.match(reason)) is not None:
            reason = m.group(1)
    elif (m := _OTHER_REASON.match(reason)) is not None:
        reason = m.group(1)

    if reason.startswith(b"Sender address rejected:"):
        m = _FROM.search(remainder)
        return stage, reason, m.group(1) if m else b"<>"
    if _RECIPIENT_REASON.match(reason):
        m = _TO.search(remainder) or _UNKNOWN_USER.search(remainder) or _TO_LOOSE.search(remainder)
        return stage, reason, m.group(1) if m else b"<>"
    if b"pipelining" in reason and (m := _PIPELINING.match(reason)) is not None:
        source = _SOURCE.match(text)
        return stage, m.group(1), source.group(1) if source else b""
    if b"Message size" in reason and (m := _SIZE_LIMIT.match(reason)) is not None:
        reason = m.group(1)
    elif b"Server configuration" in reason and (m := _LOCAL_CONFIG.match(reason)) is not None:
        reason = b"(Local) " + m.group(1)
    return stage, reason, client_domain(client) or b""
