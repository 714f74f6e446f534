"""Check virtual(5) entries before they go live: what Postfix would misread, refuse or loop on.

Postfix accepts nearly any text as a key or an address, so syntax problems are warnings;
what breaks a map (control characters, empty values, duplicate keys postmap silently
drops) are errors. Graph checks follow the lookup order and limits that ``resolve``
reproduces: loops, expansion depth and size, and catch-alls that swallow mailboxes.

A deploy of 500,000 entries must not wait on validation, so ``validate_entries`` first
screens the whole map in a few passes in C and runs the exact per-entry checks only on
the entries the screens flag; the graph is built from the destinations that are keys.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import chain, compress
from operator import attrgetter

import idna

from aliasdesk.postfix.maps.columns import EntryColumns
from aliasdesk.postfix.maps.expansion import ExpansionGraph, destinations, last_at
from aliasdesk.postfix.maps.resolve import folder, quote_local, unquote_local
from aliasdesk.postfix.maps.virtual import Entry, split_destinations
from aliasdesk.postfix.text import _, gettext_noop, ngettext

__all__ = ["ERROR", "WARNING", "Finding", "check_destination", "check_key", "check_value_text", "validate_entries"]

ERROR = "error"
WARNING = "warning"

# Never meaningful in a map: C0 (TAB aside, it separates addresses), DEL, C1, line separators.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_OR_TAB = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_LOCAL_SPECIALS = '()<>[]:;@\\"'


@dataclass(frozen=True)
class Finding:
    """One problem in a map. ``error`` findings must stop a deploy; warnings need a look."""

    severity: str  # "error" or "warning"
    code: str
    message: str
    key: str = ""
    line: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# Whole sentences for keys and for addresses (other languages inflect them differently).
_TEXT_PROBLEMS = {
    "key": {
        "empty": gettext_noop("the key is empty"),
        "control": gettext_noop("the key contains the control character {char}; remove it"),
        "hash": gettext_noop("the key cannot start with '#': postmap reads such a line as a comment"),
        "comma": gettext_noop("a comma in the key separates addresses for Postfix; give each address on its own"),
        "quote": gettext_noop('the key has an unbalanced double quote (")'),
        "space": gettext_noop('white space in the key splits it in two for Postfix; remove it, or quote the local '
                              'part ("first last"@example.com)'),
    },
    "address": {
        "empty": gettext_noop("the address is empty"),
        "control": gettext_noop("the address contains the control character {char}; remove it"),
        "hash": gettext_noop("the address cannot start with '#': postmap reads such a line as a comment"),
        "comma": gettext_noop("a comma in the address separates addresses for Postfix; give each address on its "
                              "own"),
        "quote": gettext_noop('the address has an unbalanced double quote (")'),
        "space": gettext_noop('white space in the address splits it in two for Postfix; remove it, or quote the '
                              'local part ("first last"@example.com)'),
    },
}


def _check_text(text: str, what: str) -> str | None:
    """Refusals shared by keys and addresses (``what``): things that change how postmap splits a line."""
    problems = _TEXT_PROBLEMS[what]
    if not text:
        return _(problems["empty"])
    bad = _CONTROL_OR_TAB.search(text)
    if bad:
        return _(problems["control"]).format(char=f"U+{ord(bad.group()):04X}")
    if text.startswith("#"):
        return _(problems["hash"])
    if "," in text:
        return _(problems["comma"])
    outside = _QUOTED.sub(lambda m: '"' + "x" * (len(m.group()) - 2) + '"', text)
    if outside.count('"') % 2:
        return _(problems["quote"])
    if _SPACE.search(outside):
        return _(problems["space"])
    return None


def _check_local(local: str) -> str | None:
    if not local:
        return _("there is nothing before the '@'")
    if len(local.encode()) > 64:
        return _("the local part is longer than 64 bytes (RFC 5321); many mail servers refuse it")
    if local.startswith('"'):
        return None if _QUOTED.fullmatch(local) else _("quote the whole local part, not only a piece of it")
    for ch in local:
        if ch in _LOCAL_SPECIALS:
            return _("'{char}' is not allowed in a local part unless it is quoted (\"...\"@example.com)").format(
                char=ch)
    if local[0] == "." or local[-1] == "." or ".." in local:
        return _("a local part cannot start or end with '.' or contain '..' unless it is quoted")
    return None


# A problem as the cached checks keep it: the English message (translated where it is
# shown, in the language of that moment) and the values to fill in.
_Problem = tuple[str, tuple[tuple[str, str], ...]]


def _check_domain(domain: str) -> str | None:
    problem = _domain_problem(domain)
    return _(problem[0]).format(**dict(problem[1])) if problem else None


@lru_cache(maxsize=4096)
def _domain_problem(domain: str) -> _Problem | None:
    if not domain:
        return gettext_noop("there is nothing after the '@'"), ()
    if domain.startswith("["):
        inner = domain[1:-1] if domain.endswith("]") else ""
        try:
            ipaddress.ip_address(inner[5:] if inner.lower().startswith("ipv6:") else inner)
        except ValueError:
            return gettext_noop("{domain} is not an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]"), (
                ("domain", domain),)
        return None
    if domain.endswith("."):
        return gettext_noop("remove the trailing dot from the domain: Postfix strips it from addresses, so it "
                            "never matches"), ()
    if len(domain) > 253:
        return gettext_noop("the domain is longer than 253 characters"), ()
    labels = domain.split(".")
    if all(label.isdigit() for label in labels):
        return gettext_noop("{domain} looks like an IP address: write it as [{domain}]"), (("domain", domain),)
    for label in labels:
        if not label:
            return gettext_noop("the domain {domain} has an empty label ('..' or a leading dot)"), (
                ("domain", domain),)
        problem = _label_problem(label)
        if problem:
            return problem
    return None


def _label_problem(label: str) -> _Problem | None:
    try:
        ascii_label = label.encode("ascii").decode() if label.isascii() else idna.encode(label, uts46=True).decode()
        if ascii_label.lower().startswith("xn--"):
            idna.decode(ascii_label)
    except (idna.IDNAError, UnicodeError) as exc:
        return gettext_noop("'{label}' is not a valid internationalised domain label ({reason})"), (
            ("label", label), ("reason", str(exc)))
    if len(ascii_label) > 63:
        return gettext_noop("the domain label '{label}…' is longer than 63 characters"), (("label", label[:20]),)
    if label.isascii() and not re.fullmatch(r"[A-Za-z0-9-]+", label):
        bad = next(ch for ch in label if not (ch.isalnum() or ch == "-"))
        return gettext_noop("'{char}' is not allowed in a domain name"), (("char", bad),)
    if label.startswith("-") or label.endswith("-"):
        return gettext_noop("the domain label '{label}' starts or ends with '-'"), (("label", label),)
    return None


def check_key(key: str) -> str | None:
    """Why Postfix would never match ``key`` (or postmap would misread it), or None.

    Accepts ``user@domain``, ``@domain`` (catch-all), ``user`` (local part only),
    ``domain.tld`` (a virtual alias domain line) and quoted local parts.
    """
    problem = _check_text(key, "key")
    if problem:
        return problem
    if key.startswith("@"):
        problem = _check_domain(key[1:])
        return _("catch-all {key}: {problem}").format(key=key, problem=problem) if problem else None
    at = last_at(key)
    if at < 0:
        if _check_local(key) is None or _check_domain(key) is None:
            return _canonical_quoting(key, bare=True)
        return _check_local(key)
    problem = _check_local(key[:at]) or _check_domain(key[at + 1 :])
    return problem or _canonical_quoting(key, bare=False)


def _canonical_quoting(key: str, bare: bool) -> str | None:
    """Postfix looks keys up in its own quoting; a key quoted differently never matches."""
    if '"' not in key and "\\" not in key:
        return None
    wanted = quote_local(unquote_local(key), bare=bare)
    if wanted.lower() != key.lower():
        return _("Postfix looks this address up as {wanted}, so the key {key} never matches; write it as "
                 "{wanted}").format(wanted=wanted, key=key)
    return None


def check_destination(address: str) -> str | None:
    """Why ``address`` is not a usable virtual(5) destination, or None.

    A destination is ``user@domain``, a bare local name (``devnull``, delivered on this
    host) or ``@otherdomain`` (the same user in another domain).
    """
    problem = _check_text(address, "address")
    if problem:
        return problem
    if address[0] in "|/" or address.startswith(":include:"):
        return _("virtual(5) cannot deliver to a command or a file; only the local aliases(5) file can")
    if address.startswith("@"):
        return _check_domain(address[1:])
    at = last_at(address)
    if at < 0:
        return _check_local(address)
    return _check_local(address[:at]) or _check_domain(address[at + 1 :])


def check_value_text(value: str) -> list[Finding]:
    """Ways Postfix would read a value differently from what its author meant."""
    findings = []
    tokens = split_destinations(value)
    if not tokens:
        findings.append(Finding(ERROR, "empty-value",
                                _("the value has no address; postmap skips a key without a value")))
    bad = _CONTROL.search(value)
    if bad:
        findings.append(Finding(ERROR, "control-character",
                                _("the value contains the control character {char}; remove it").format(
                                    char=f"U+{ord(bad.group()):04X}")))
    if any(token.startswith("#") for token in tokens):
        listed = ", ".join(tokens[:6]) + (", ..." if len(tokens) > 6 else "")
        findings.append(Finding(WARNING, "hash-in-value",
                                ngettext("'#' inside a value is not a comment: Postfix reads the {count} address "
                                         "{listed}; move the note to a comment line above the entry",
                                         "'#' inside a value is not a comment: Postfix reads the {count} addresses "
                                         "{listed}; move the note to a comment line above the entry",
                                         len(tokens)).format(count=len(tokens), listed=listed)))
    if any(token.startswith("@") for token in tokens) and len(tokens) > 1:
        findings.append(Finding(WARNING, "at-domain-not-alone",
                                _("an @domain result (same user in another domain) only works as the whole value; "
                                  "with other addresses Postfix builds one broken address")))
    return findings


def validate_entries(entries: Sequence[Entry], *, local_domains: Iterable[str] = (),
                     mailbox_addresses: Iterable[str] = (), recipient_delimiter: str = "+",
                     recursion_limit: int = 1000, expansion_limit: int = 1000, utf8: bool = True) -> list[Finding]:
    """All findings for the enabled entries of one map: per entry in line order, then the graph's.

    ``local_domains`` ($mydestination, $myorigin) decide where ``user`` keys apply;
    ``mailbox_addresses`` (from virtual_mailbox_maps) let a catch-all be checked against
    the mailboxes it would swallow. ``utf8`` folds keys as postmap does with SMTPUTF8.
    ``entries`` given as columns (``EntryColumns``: a deploy's whole map) are read as such.
    """
    fold = folder(utf8)
    active = EntryColumns.of(entries).enabled_only()
    keys = active.keys
    joined = active.joined_keys
    folded = keys if fold(joined) == joined else list(map(fold, keys))  # most maps are lower case already
    findings: list[Finding] = []
    dead: set[int] = set()
    keyset = set(folded)
    if len(keyset) < len(folded):
        first: dict[str, int] = {}
        for position, key in enumerate(folded):
            if first.setdefault(key, position) != position:
                dead.add(position)
                entry, earlier = active[position], active[first[key]]
                message = _('duplicate key "{key}": line {line} has "{earlier}" already; postmap keeps the first '
                            'and ignores this one').format(key=entry.key, line=earlier.line, earlier=earlier.key)
                findings.append(Finding(ERROR, "duplicate-key", message, entry.key, entry.line))
    suspects, blob = _suspects(keys, active.values, joined, active.joined_values)
    plain = not suspects
    suspects -= dead
    checked: dict[str, str | None] = {}
    for position in sorted(suspects):
        findings.extend(_entry_findings(active[position], checked))
    findings.sort(key=attrgetter("line"))
    graph = ExpansionGraph(active, folded, keyset, fold, local_domains, recipient_delimiter, suspects, dead)
    folded_blob = fold(blob)
    graph.add_tokens(_tokens(folded_blob, blob, active.values, plain), folded_blob)
    graph.add_entries(bare_keys=not active.one_at)
    for node, code, message in chain(graph.loops(), graph.limits(recursion_limit, expansion_limit),
                                     graph.shadowed_mailboxes(mailbox_addresses)):
        findings.append(Finding(WARNING, code, message, active[node].key, active[node].line))
    return findings


def _tokens(folded_blob: str, blob: str, values: list[str], plain: bool) -> list[str]:
    """``folded_blob.split()``: the values' addresses, folded, each value after a ``\\x00``.

    Where no screen flagged anything (``plain``: every value is made of plain ASCII
    addresses, none empty) and the text has no blank but those around the marks and
    nothing to fold, each value is one address, as it is: no need to split 500,000 of them.
    """
    count = len(values)
    if plain and count and blob.count(" ") == 2 * count + 2 and folded_blob == blob:
        tokens = ["\x00"] * (2 * count + 1)
        tokens[1::2] = values
        return tokens
    return folded_blob.split()


def _entry_findings(entry: Entry, checked: dict[str, str | None]) -> list[Finding]:
    """The exact per-entry checks: the key, the value as text, and each destination."""
    findings = []
    problem = check_key(entry.key)
    if problem:
        control = _CONTROL_OR_TAB.search(entry.key) is not None
        findings.append(Finding(ERROR if control else WARNING, "control-character" if control else "bad-key",
                                problem, entry.key, entry.line))
    for finding in check_value_text(entry.value):
        findings.append(Finding(finding.severity, finding.code, finding.message, entry.key, entry.line))
    for dest in destinations(entry.value):
        if dest[0] == "#" or _CONTROL.search(dest):
            continue  # reported for the whole value
        if dest not in checked:
            checked[dest] = check_destination(dest)
        if checked[dest]:
            findings.append(Finding(WARNING, "bad-destination", f"{dest}: {checked[dest]}", entry.key, entry.line))
    return findings


# The screens read the map's text reduced to a "shape": a=letter 9=digit +=[+_] and . @ -
# as they are, blank=separator, |=value boundary, !=anything else. An entry that no screen
# flags holds plain ASCII addresses the exact checks accept (tests/postfix/test_validate.py).
def _shape_table(separators: bytes, marks: bytes) -> bytes:
    table = bytearray(b"!" * 256)
    for chars, shape in ((b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", b"a"), (b"0123456789", b"9"),
                         (b"+_", b"+"), (b".", b"."), (b"@", b"@"), (b"-", b"-"), (separators, b" "), (marks, b"|")):
        for char in chars:
            table[char] = shape[0]
    return bytes(table)


_KEY_SHAPE = _shape_table(b"\n", b"")
_VALUE_SHAPE = _shape_table(b" ,\t", b"\x00")
_COARSE = bytes.maketrans(b"@-9+", b"..aa")  # . @ - alike: to find them at either end of a word or doubled
_SCREENS = [re.compile(p) for p in (rb"!", rb"\+[a9+.\-]* ", rb"@(?:[9.]+ |[^ @|]*@)", rb"\| *\|")]
_KEY_SCREENS = [re.compile(rb"  ")]
_COARSE_SCREENS = [re.compile(p) for p in (rb" \.", rb"\. ", rb"\.\.")]
# Quick tests that a screen cannot match (False), for the screens that are slow to run over
# a whole map: each is True wherever its screen matches. The "@" screen scans every domain;
# its two halves show as "@9" or "@." and, with all but blanks, "@" and "|" taken out, "@@".
_AT_DIGITS = re.compile(rb"@[9.]")
_NOT_AT_OR_BREAK = bytes(c for c in range(256) if c not in b" @|")
_MAY_MATCH: dict[bytes, Callable[[bytes], bool]] = {
    rb"!": lambda shape: b"!" in shape,
    rb"\+[a9+.\-]* ": lambda shape: b"+" in shape,
    rb"\| *\|": lambda shape: b"|" in shape,  # keys have no marks
    rb"@(?:[9.]+ |[^ @|]*@)": lambda shape: bool(
        _AT_DIGITS.search(shape) or b"@@" in shape.translate(None, _NOT_AT_OR_BREAK)
    ),
}
_LONGEST_PLAIN = 64  # a longer address may break the limits for a local part (64) or a label (63)


def _suspects(
    keys: list[str], values: list[str], joined_keys: str | None = None, joined_values: str | None = None
) -> tuple[set[int], str]:
    """Entries whose key or value needs the exact checks, and all values as one text.

    In that text each value stands between `` \\x00 `` marks, commas and tabs made spaces.
    ``joined_keys``, ``joined_values``: the keys and values joined by newlines, if known.
    """
    if joined_values is not None and joined_values.count("\n") != len(values) - 1:
        joined_values = None  # a value with a newline in it: its marks would be wrong
    suspects: set[int] = set()
    blob = ""
    for texts, sep, table, extra in ((keys, "\n", _KEY_SHAPE, _KEY_SCREENS), (values, " \x00 ", _VALUE_SHAPE, [])):
        mark = sep.strip(" ")
        if texts is keys:
            blob = sep + (joined_keys if joined_keys is not None else sep.join(texts)) + sep
        else:  # the newlines made marks: quicker than joining the scattered strings again
            blob = sep + (joined_values.replace("\n", sep) if joined_values is not None else sep.join(texts)) + sep
        if not blob.isascii() or blob.count(mark) != len(texts) + 1:
            odd = {i for i, text in enumerate(texts) if mark in text or not text.isascii()}
            suspects |= odd
            texts = ["" if i in odd else text for i, text in enumerate(texts)]
            blob = sep + sep.join(texts) + sep
        shape = blob.encode("ascii").translate(table)
        coarse = shape.translate(_COARSE)
        positions: set[int] = set()
        for screen, text in [(s, shape) for s in _SCREENS + extra] + [(s, coarse) for s in _COARSE_SCREENS]:
            may_match = _MAY_MATCH.get(screen.pattern)
            if (may_match is None or may_match(text)) and screen.search(text):
                positions.update(p for match in screen.finditer(text) for p in (match.start(), match.end() - 1))
        number, start = -1, 0
        for position in sorted(positions):  # an entry's number: the marks before it, less one
            number += blob.count(mark, start, position + 1)
            start = position + 1
            suspects.add(number)
        if max(map(len, texts), default=0) > _LONGEST_PLAIN:
            for i in compress(range(len(texts)), map(_LONGEST_PLAIN.__lt__, map(len, texts))):
                if max(map(len, texts[i].replace(",", " ").split()), default=0) > _LONGEST_PLAIN:
                    suspects.add(i)
    suspects.intersection_update(range(len(keys)))  # the marks around the text belong to no entry
    return suspects, blob.replace(",", " ").replace("\t", " ")
