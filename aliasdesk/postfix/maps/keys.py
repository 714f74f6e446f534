"""Which part of the mail system a map key speaks for.

Postfix asks every table in ``virtual_alias_maps`` about every address, whatever file
the table came from: a key ``info@b.example`` in a.example's map catches b.example's
mail. So what a key can catch is decided by its form alone:

- ``local@domain``: that address of ``domain`` (and ``local+ext@domain``);
- ``@domain``: every address of ``domain`` that no other key names (a catch-all);
- ``local``: that name in every domain Postfix treats as local ($myorigin,
  $mydestination, ...), for all of them at once;
- ``domain.tld``: a line that declares ``domain.tld`` a virtual alias domain.

Mail domains are compared in one canonical form: the Unicode form of the IDNA name,
lower case, without a trailing dot, so ``Bücher.example``, ``xn--bcher-kva.example``
and ``bücher.example.`` are one mail domain (postmap treats the UTF-8 and punycode keys
as different keys, but both belong to the same domain's mail).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import contains, itemgetter

import idna

from aliasdesk.postfix.maps.columns import EntryColumns
from aliasdesk.postfix.maps.expansion import last_at
from aliasdesk.postfix.maps.resolve import unquote_local
from aliasdesk.postfix.maps.validate import ERROR, WARNING, Finding
from aliasdesk.postfix.maps.virtual import Entry
from aliasdesk.postfix.text import _

__all__ = [
    "ADDRESS",
    "BARE_DOMAIN",
    "BARE_LOCAL",
    "CATCH_ALL",
    "ROLE_ADDRESSES",
    "KeyForm",
    "ascii_domain",
    "key_form",
    "mail_domain",
    "ownership_findings",
]

ADDRESS = "address"
CATCH_ALL = "catch-all"
BARE_LOCAL = "local name"
BARE_DOMAIN = "domain line"

# RFC 2142: every mail domain must take mail for these; who may reroute them is an admin matter.
ROLE_ADDRESSES = frozenset({"postmaster", "abuse"})


@dataclass(frozen=True)
class KeyForm:
    """A key's form, its local part (unquoted, as written) and its canonical mail domain."""

    kind: str
    local: str
    domain: str

    @property
    def bare(self) -> bool:
        """A key without a domain part: it reaches beyond any one mail domain."""
        return self.kind in (BARE_LOCAL, BARE_DOMAIN)

    @property
    def role_address(self) -> bool:
        return self.kind == ADDRESS and self.local.casefold() in ROLE_ADDRESSES


@lru_cache(maxsize=65536)
def mail_domain(text: str) -> str:
    """The canonical form of a mail domain (see the module text); text idna refuses is only folded."""
    text = text.strip().rstrip(".")
    if text.isascii() and "xn--" not in text.lower():
        return text.lower()
    try:
        return idna.decode(idna.encode(text, uts46=True))
    except (idna.IDNAError, UnicodeError):
        return text.casefold()


def ascii_domain(name: str) -> str:
    """The punycode (ASCII) spelling of a mail domain; the name itself where idna refuses it."""
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return name


def _looks_like_domain(text: str) -> bool:
    if "." not in text.strip("."):
        return False
    try:
        idna.encode(text.rstrip("."), uts46=True)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def key_form(key: str) -> KeyForm:
    """The form of a map key. Quoted local parts are read as Postfix reads them."""
    key = key.strip()
    at = key.rfind("@") if '"' not in key else last_at(key)
    if at < 0:
        if _looks_like_domain(key):
            return KeyForm(BARE_DOMAIN, "", mail_domain(key))
        return KeyForm(BARE_LOCAL, unquote_local(key) if '"' in key or "\\" in key else key, "")
    local, domain = key[:at], mail_domain(key[at + 1 :])
    if not local:
        return KeyForm(CATCH_ALL, "", domain)
    if '"' in local or "\\" in local:
        local = unquote_local(local)
    return KeyForm(ADDRESS, local, domain)


def ownership_findings(
    entries: Iterable[Entry],
    owned: Iterable[str],
    tolerated: Iterable[str] = (),
    shared: Mapping[str, str] | None = None,
) -> list[Finding]:
    """What a map's keys say about mail that is not the map's own.

    ``owned``: the canonical mail domains the map may hold keys of. A key of any other
    mail domain is an error, unless its domain is ``tolerated`` (keys that were there
    before ownership was enforced, waiting for an admin: a warning). Bare local names and
    bare domain lines are warnings. ``shared`` maps folded keys that other managed maps
    define to a sentence saying which map Postfix consults first: each such key of this
    map is a warning. Only enabled entries count: a disabled one is a comment to Postfix.
    """
    owned_set, tolerated_set = set(owned), set(tolerated)
    shared = shared or {}
    active = EntryColumns.of(entries).enabled_only()
    if not shared and _all_owned(active, owned_set):
        return []
    findings: list[Finding] = []
    verdicts: dict[str, str] = {}  # domain part as written -> "", "tolerated" or "foreign"
    for entry in active:
        key = entry.key
        at = key.rfind("@") if '"' not in key else last_at(key)
        if at < 0:
            findings.append(_bare_finding(entry))
        else:
            part = key[at + 1 :]
            verdict = verdicts.get(part)
            if verdict is None:
                name = mail_domain(part)
                verdict = "" if name in owned_set else "tolerated" if name in tolerated_set else "foreign"
                verdicts[part] = verdict
            if verdict:
                findings.append(_foreign_finding(entry, mail_domain(part), verdict == "tolerated"))
        if shared:
            sentence = shared.get(key.lower())
            if sentence:
                findings.append(Finding(WARNING, "shared-key", sentence, key, entry.line))
    return findings


def _all_owned(entries: EntryColumns, owned: set[str]) -> bool:
    """Whether every key is ``…@owned`` of one of the ``owned`` domains.

    A deploy of 500,000 keys must not wait on a Python loop per key: the keys' distinct
    domain parts (after their last ``@``) are collected in C and each is looked up. Any
    doubt (quotes) is left to the loop.
    """
    keys = entries.keys
    if '"' in entries.joined_keys or not (entries.one_at or all(map(contains, keys, repeat("@")))):
        return False
    parts = set(map(itemgetter(2), map(str.rpartition, keys, repeat("@"))))
    spellings = set(owned) | {ascii_domain(name) for name in owned}
    return all(part.lower() in spellings for part in parts)


def _bare_finding(entry: Entry) -> Finding:
    form = key_form(entry.key)
    if form.kind == BARE_DOMAIN:
        message = _("{key} is a bare domain line: it declares {domain} a virtual alias domain").format(
            key=entry.key, domain=form.domain)
        return Finding(WARNING, "bare-domain-line", message, entry.key, entry.line)
    message = _(
        "{key} is a bare local name: it catches {key}@ of every domain Postfix treats as local, whatever map it "
        "stands in"
    ).format(key=entry.key)
    return Finding(WARNING, "bare-local-name", message, entry.key, entry.line)


def _foreign_finding(entry: Entry, domain: str, tolerated: bool) -> Finding:
    if tolerated:
        message = _(
            "{key} belongs to {domain}, which another map owns; it was here before keys were tied to their "
            "domains and waits for an administrator (aliasdesk check)"
        ).format(key=entry.key, domain=domain)
        return Finding(WARNING, "foreign-key-tolerated", message, entry.key, entry.line)
    message = _(
        "{key} belongs to {domain}, which is not a mail domain of this map: it would catch another domain's mail"
    ).format(key=entry.key, domain=domain)
    return Finding(ERROR, "foreign-key", message, entry.key, entry.line)

