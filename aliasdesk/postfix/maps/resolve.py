"""Where does mail for an address go? Virtual alias expansion as Postfix's cleanup(8) does it.

This mirrors Postfix 3.7 (cleanup_map1n.c, mail_addr_map.c, mail_addr_find.c,
mail_addr_crunch.c) and was checked against a running Postfix 3.7:

- Lookup order for ``user+ext@domain``: ``user+ext@domain``, ``user@domain``, then
  ``user+ext`` and ``user`` only when the domain is local, then ``@domain``. Each
  query goes to every map, in order, before the next query is tried.
- An extension matched only after stripping it (``user@domain`` or ``user``) is
  appended to *every* result address, even one that has an extension of its own
  (``jx@d -> jx.user+x@e`` gives ``jx.user+x+foo@e`` for ``jx+foo@d``). A catch-all
  match does not propagate it. A result ``@other`` becomes ``user@other``.
- The first result replaces the address in place, further results are appended at
  the end; an address that maps to itself keeps one copy and is not expanded again.
- More than ``virtual_alias_expansion_limit`` addresses, ``virtual_alias_recursion_limit``
  nested lookups along one branch, or a result longer than
  ``virtual_alias_address_length_limit`` defers the whole mail (4.6.0); a loop ends that way.
- Final recipients are de-duplicated case-insensitively, the first spelling wins.

Not modelled: regexp/pcre maps, the ``%`` and ``!`` address forms, append_dot_mydomain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import cast

from aliasdesk.postfix.maps.virtual import Entry, parse_virtual
from aliasdesk.postfix.text import _, ngettext

__all__ = ["AliasTable", "Resolution", "Step", "explain", "quote_local", "resolve", "split_extension", "unquote_local"]

_SPECIALS = frozenset('()<>@,;:\\"[]')
_OPCHARS = frozenset('|"(),.:;<>@[]%!')  # Postfix's tok822 operator characters
_BLANKS = frozenset(" \t\r\n")
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_ascii(text: str) -> str:
    """Postfix's case folding when smtputf8_enable is off (compatibility_level 0)."""
    return text.translate(_ASCII_FOLD)


def folder(utf8: bool = True) -> Callable[[str], str]:
    """The case folding postmap applies to keys: full Unicode folding (ß = ss) with SMTPUTF8."""
    return str.casefold if utf8 else fold_ascii


def _is_dot_string(local: str) -> bool:
    if not local or local[0] == "." or local[-1] == "." or ".." in local:
        return False
    return not any(ch in _SPECIALS or ch == " " or ord(ch) < 32 or ord(ch) == 127 for ch in local)


def quote_local(address: str, bare: bool = False) -> str:
    """External (quoted) form, as Postfix builds lookup keys: ``we ird@x`` -> ``"we ird"@x``."""
    at = -1 if bare else address.rfind("@")
    local, rest = (address, "") if at < 0 else (address[:at], address[at:])
    if _is_dot_string(local):
        return address
    escaped = "".join("\\" + ch if ch in '"\\\r' else ch for ch in local)
    return f'"{escaped}"{rest}'


def unquote_local(address: str) -> str:
    """Internal (unquoted) form: ``"we ird"@x`` -> ``we ird@x``. Text after the last bare ``@`` stays."""
    out: list[str] = []
    in_quote = False
    bare_at = source_at = -1
    i = 0
    while i < len(address):
        ch = address[i]
        if ch == '"':
            in_quote = not in_quote
        elif ch == "\\" and i + 1 < len(address):
            out.append(address[i + 1])
            i += 2
            continue
        else:
            if ch == "@" and not in_quote:
                bare_at, source_at = len(out), i
            out.append(ch)
        i += 1
    return "".join(out[:bare_at]) + address[source_at:] if bare_at >= 0 else "".join(out)


def split_extension(address: str, delimiters: str) -> tuple[str, str] | None:
    """``user+ext@d`` -> (``user@d``, ``+ext``), or None when Postfix would not split it.

    Postfix never splits postmaster, mailer-daemon or double-bounce, nor (when ``-`` is a
    delimiter) owner-* and *-request, nor a local part that would become empty.
    """
    at = address.rfind("@")
    local = address if at < 0 else address[:at]
    if len(delimiters) == 1:
        cut = local.find(delimiters)
    else:
        cut = min((i for i in map(local.find, delimiters) if i >= 0), default=-1)
    if cut <= 0:
        return None
    lower = local.lower()
    if lower in ("postmaster", "mailer-daemon", "double-bounce"):
        return None
    if "-" in delimiters and (lower.startswith("owner-") or (len(lower) > 8 and lower.endswith("-request"))):
        return None
    return local[:cut] + ("" if at < 0 else address[at:]), local[cut:]


def _tokens(text: str) -> list[tuple[str, str]]:
    """Postfix's RFC 822 tokenizer, reduced to what virtual(5) values use. Comments vanish."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _BLANKS:
            i += 1
        elif ch == "(":
            level, i = 1, i + 1
            while i < n and level:
                level += {"(": 1, ")": -1}.get(text[i], 0)
                i += 2 if text[i] == "\\" else 1
        elif ch in '"[':
            close, buf, i = '"' if ch == '"' else "]", [], i + 1
            while i < n and text[i] != close:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            out.append(("q", "".join(buf)) if ch == '"' else ("w", "[" + "".join(buf) + "]"))
            i += 1
        elif ch in _OPCHARS:
            out.append(("o", ch))
            i += 1
        else:
            buf = []
            while i < n and text[i] not in _BLANKS and text[i] not in _OPCHARS:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            out.append(("w", "".join(buf)))
    return out


def parse_value(value: str) -> list[str]:
    """Addresses in a lookup result, in internal form, as Postfix reads them.

    Commas or white space between words separate addresses; ``Name <a@b>`` is ``a@b``;
    ``(comments)`` are dropped. ``a@y # note`` is three addresses: ``a@y``, ``#``, ``note``.
    """
    addresses: list[str] = []
    pending: list[str] = []  # addresses since the last comma: a phrase, should a <route> follow
    current: list[tuple[str, str]] = []
    angle: list[tuple[str, str]] | None = None
    for token in _tokens(value):
        if angle is not None:
            if token == ("o", ">"):
                addresses.append("".join(text for _, text in angle))
                angle = None
            else:
                angle.append(token)
        elif token == ("o", "<"):
            pending, current, angle = [], [], []
        elif token == ("o", ","):
            addresses += [*pending, "".join(text for _, text in current)]
            pending, current = [], []
        else:
            if token[0] != "o" and current and current[-1][0] != "o":  # two words in a row: two addresses
                pending.append("".join(text for _, text in current))
                current = []
            current.append(token)
    addresses += [*pending, "".join(text for _, text in current), "".join(text for _, text in angle or [])]
    return [address for address in addresses if address]


class AliasTable:
    """One or more virtual maps, looked up as Postfix does: case-folded, first map with a hit wins.

    Build it from a list of entries (one map) or a list of lists (several maps, in
    ``virtual_alias_maps`` order). Disabled entries are not in the table; within one
    map a duplicate key keeps the first value, as postmap does.
    """

    def __init__(self, maps: Sequence[Entry] | Sequence[Sequence[Entry]] = (), *, utf8: bool = True) -> None:
        self.fold = folder(utf8)
        if maps and not isinstance(maps[0], Entry):
            groups = cast("Sequence[Sequence[Entry]]", maps)
        else:
            groups = [cast("Sequence[Entry]", maps)]
        self.maps: list[dict[str, Entry]] = []
        for entries in groups:
            table: dict[str, Entry] = {}
            for entry in entries:
                if entry.enabled:
                    table.setdefault(self.fold(entry.key), entry)
            self.maps.append(table)

    @classmethod
    def from_text(cls, *texts: str, utf8: bool = True) -> AliasTable:
        """A table from virtual(5) file contents, one text per map."""
        return cls([parse_virtual(text).entries for text in texts], utf8=utf8)

    def find(self, query: str) -> tuple[int, Entry] | None:
        """The (map index, entry) for a query key, or None."""
        folded = self.fold(query)
        for index, table in enumerate(self.maps):
            entry = table.get(folded)
            if entry is not None:
                return index, entry
        return None

    def __len__(self) -> int:
        return sum(len(table) for table in self.maps)


@dataclass(frozen=True)
class Step:
    """One query sent to the maps while expanding ``address`` (external form)."""

    address: str
    query: str
    form: str  # "user+ext@domain", "user@domain", "user+ext", "user" or "@domain"
    hit: bool
    value: str = ""
    depth: int = 0  # 0 for the original address, 1 for its results, ...
    map_index: int | None = None
    line: int = 0
    results: tuple[str, ...] = ()
    extension: str = ""  # the unmatched extension propagated to the results

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Resolution:
    """The final recipients of one address, and how Postfix got there."""

    address: str
    recipients: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    deferred: bool = False  # Postfix refuses the mail with "4.6.0 Alias expansion error"
    rejected: bool = False  # no key matches an address of a virtual alias domain: "User unknown"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _Deferred(Exception):
    pass


class _Expander:
    def __init__(self, table: AliasTable, local_domains: Iterable[str], delimiter: str, myorigin: str,
                 propagate: bool, steps: list[Step]) -> None:
        self.table, self.delimiter, self.myorigin, self.propagate = table, delimiter, myorigin, propagate
        self.local = {table.fold(d.strip().rstrip(".")) for d in local_domains}
        if myorigin:
            self.local.add(table.fold(myorigin))
        self.steps = steps

    def canonical(self, address: str) -> str:
        """What trivial-rewrite makes of a result: ``name`` -> ``name@$myorigin``, no trailing dot."""
        at = address.rfind("@")
        if at < 0:
            return f"{address}@{self.myorigin}" if self.myorigin else address
        return address.rstrip(".") if address.endswith(".") and at < len(address) - 1 else address

    def queries(self, address: str) -> list[tuple[str, str, str]]:
        """(query, key form, extension) in Postfix's lookup order."""
        stripped = split_extension(address, self.delimiter)
        bare, extension = stripped if stripped else (None, "")
        at = address.rfind("@")
        if at < 0:  # a bare name: only myorigin-less setups let one get this far
            out = [(quote_local(address), "user+ext" if stripped else "user", "")]
            if bare is not None:
                out.append((quote_local(bare), "user", extension))
            return out
        out = [(quote_local(address), "user+ext@domain" if stripped else "user@domain", "")]
        if bare is not None:
            out.append((quote_local(bare), "user@domain", extension))
        if self.table.fold(address[at + 1 :]) in self.local:
            out.append((quote_local(address[:at], bare=True), "user+ext" if stripped else "user", ""))
            if bare is not None:
                out.append((quote_local(bare[: bare.rfind("@")], bare=True), "user", extension))
        out.append((address[at:], "@domain", ""))
        return out

    def expand_once(self, address: str, depth: int) -> list[str] | None:
        """One mail_addr_map() call: the results for ``address``, or None when no key matches."""
        shown = quote_local(address)
        for query, form, extension in self.queries(address):
            found = self.table.find(query)
            if found is None:
                self.steps.append(Step(shown, query, form, False, depth=depth))
                continue
            index, entry = found
            value = entry.value
            if value.startswith("@"):
                local = address[: address.rfind("@")] if "@" in address else address
                value = quote_local((local[: -len(extension)] if extension else local) + value)
            results = []
            for result in parse_value(value):
                result = self.canonical(result)
                if extension and self.propagate:
                    at = result.rfind("@")
                    result = result + extension if at < 0 else result[:at] + extension + result[at:]
                results.append(result)
            propagated = extension if self.propagate else ""
            self.steps.append(Step(shown, query, form, True, entry.value, depth, index, entry.line,
                                   tuple(quote_local(r) for r in results), propagated))
            if not results:
                raise _Deferred(_('virtual_alias_maps lookup of {query} returns non-address result "{value}"').format(
                    query=query, value=entry.value))
            return results
        return None


def resolve(  # noqa: C901 (the loop of Postfix's cleanup_map1n.c, kept in one piece to compare with it)
    address: str, table: AliasTable, *, local_domains: Iterable[str] = (), recipient_delimiter: str = "+",
    recursion_limit: int = 1000, expansion_limit: int = 1000, address_length_limit: int = 1000,
    myorigin: str = "", propagate_extension: bool = True, alias_domains: Iterable[str] = (),
) -> Resolution:
    """Expand ``address`` through ``table`` exactly as Postfix's cleanup(8) would.

    ``local_domains`` stands for $mydestination, $myorigin and the interface addresses:
    only there are the ``user`` forms tried. With ``myorigin`` set, a bare name in a
    result (``devnull``) becomes ``devnull@myorigin``, as with append_at_myorigin=yes.
    When Postfix would defer the mail, ``deferred`` is set, ``recipients`` is empty and
    ``problems`` says why (a loop shows up as the recursion or length limit).
    ``alias_domains`` are virtual alias domains (virtual_alias_domains, no mailboxes): the
    SMTP server rejects an address there that no key matches ("User unknown in virtual alias
    table"), so ``rejected`` is set and ``recipients`` is empty.
    """
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    resolution = Resolution(address=text)
    expander = _Expander(table, local_domains, recipient_delimiter, myorigin, propagate_extension, resolution.steps)
    start = expander.canonical(unquote_local(text))
    argv, depths = [start], [0]
    paths: list[tuple[str, ...]] = [()]  # the keys that led to each address, to name a loop
    loop: list[str] = []
    fixed: set[str] = set()
    fold = table.fold
    try:
        arg = 0
        while arg < len(argv):
            if len(argv) > expansion_limit:
                raise _Deferred(_("unreasonable virtual_alias_maps map expansion size for {address}: more than "
                                  "{limit} addresses (virtual_alias_expansion_limit)").format(
                    address=text, limit=expansion_limit))
            for count in range(recursion_limit + 1):
                current = argv[arg]
                if fold(current) in fixed:
                    break
                if count >= recursion_limit:
                    raise _Deferred(_("unreasonable virtual_alias_maps map nesting for {address}: {limit} nested "
                                      "lookups (virtual_alias_recursion_limit)").format(
                        address=text, limit=recursion_limit))
                results = expander.expand_once(current, depths[arg])
                if results is None:
                    break
                key = fold(resolution.steps[-1].query)
                if key in paths[arg] and not loop:
                    loop = [*paths[arg][paths[arg].index(key) :], key]
                paths[arg] += (key,)
                for i, result in enumerate(results):
                    if len(result) > address_length_limit:
                        raise _Deferred(_("unreasonable virtual_alias_maps result {result}...: longer than "
                                          "{limit} characters (virtual_alias_address_length_limit)").format(
                            result=result[:60], limit=address_length_limit))
                    if i == 0:
                        argv[arg] = result
                    else:
                        argv.append(result)
                        depths.append(depths[arg] + 1)
                        paths.append(paths[arg])
                    if fold_ascii(result) == fold_ascii(current):  # strcasecmp(): ASCII only
                        fixed.add(fold(current))
                depths[arg] += 1
            arg += 1
    except _Deferred as exc:
        resolution.deferred = True
        if loop:
            resolution.problems.append(_("loop: {path}").format(path=" -> ".join(loop)))
        resolution.problems.append(_("{reason}; Postfix defers the mail (4.6.0 Alias expansion error)").format(
            reason=exc))
        return resolution
    alias_set = {fold(d.strip().rstrip(".")) for d in alias_domains}
    domain = start[start.rfind("@") + 1 :] if "@" in start else ""
    if domain and fold(domain) in alias_set and not any(s.hit for s in resolution.steps if s.depth == 0):
        resolution.rejected = True
        resolution.problems.append(_("{address}: no key matches, and {domain} is an alias domain: Postfix rejects "
                                     "the address (550 5.1.1 User unknown in virtual alias table)").format(
            address=text, domain=domain))
        return resolution
    seen: set[str] = set()
    for recipient in argv:
        if fold(recipient) not in seen:
            seen.add(fold(recipient))
            resolution.recipients.append(quote_local(recipient))
    return resolution


def address_problem(text: str) -> str | None:
    """Why ``text`` is no mail address to look up (``user@domain``), or None.

    The expansion itself takes anything, and would list "not an address" as its own final
    recipient: a resolver asks this first.
    """
    from aliasdesk.postfix.maps.expansion import last_at  # both build on this module
    from aliasdesk.postfix.maps.validate import check_destination

    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    at = last_at(text)
    if at <= 0 or at == len(text) - 1:
        return _("write it as name@domain")
    return check_destination(text)


def explain(resolution: Resolution, *, max_lines: int = 400) -> str:
    """A step-by-step account for people (``aliasdesk resolve ADDRESS``, the resolver page), in
    their language; the key forms (``user+ext@domain``…) and Postfix's replies stay as Postfix
    writes them."""
    lines = [_("Where mail for {address} goes:").format(address=resolution.address)]
    current: tuple[str, int] | None = None
    for step in resolution.steps:
        indent = "  " * (step.depth + 1)
        if (step.address, step.depth) != current:
            current = (step.address, step.depth)
            lines.append(f"{indent[2:]}{step.address}")
        if not step.hit:
            lines.append(indent + _("lookup {query} ({form}): not found").format(query=step.query, form=step.form))
            continue
        number = (step.map_index or 0) + 1
        where = (_("map {number}, line {line}").format(number=number, line=step.line) if step.line
                 else _("map {number}").format(number=number))
        lines.append(indent + _("lookup {query} ({form}): found in {where}: {value}").format(
            query=step.query, form=step.form, where=where, value=step.value))
        note = ""
        if step.extension:
            note = "  " + _("(unmatched extension {extension} added)").format(extension=step.extension)
        lines.append(f"{indent}-> {', '.join(step.results)}{note}")
        if any(r.lower() == step.address.lower() for r in step.results):
            lines.append(indent + "   " + _("{address} maps to itself: Postfix keeps that copy and stops there").format(
                address=step.address))
    if len(lines) > max_lines:
        hidden = len(lines) - max_lines
        lines = [*lines[:max_lines], "... " + ngettext("{count} more line", "{count} more lines", hidden).format(
            count=hidden)]
    if resolution.deferred:
        lines.append(_("Result: Postfix would not accept this mail (deferred, 4.6.0 Alias expansion error)."))
    elif resolution.rejected:
        lines.append(_("Result: not accepted: Postfix rejects this address (550 5.1.1 User unknown in virtual alias "
                       "table)."))
    else:
        lines.append(_("Final recipients ({count}):").format(count=len(resolution.recipients)))
        lines.extend(f"  {recipient}" for recipient in resolution.recipients)
    lines.extend(_("Problem: {problem}").format(problem=problem) for problem in resolution.problems)
    return "\n".join(lines) + "\n"
