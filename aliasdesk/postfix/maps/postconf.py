"""What Postfix's own configuration says about the managed maps.

A map aliasdesk deploys only routes mail when main.cf makes Postfix read it and accept
mail for its domains:

- the map must be in ``virtual_alias_maps`` with the type aliasdesk builds (``hash:/x``
  reads ``/x.db``; ``lmdb:/x`` would read a ``/x.lmdb`` nobody writes);
- each of its mail domains must be one Postfix receives mail for: in ``mydestination``,
  ``virtual_alias_domains``, ``virtual_mailbox_domains`` or ``relay_domains`` (by name, or
  as a key of a table listed there: the default ``virtual_alias_domains =
  $virtual_alias_maps`` asks the maps themselves for a bare ``example.com`` line);
- ``virtual_alias_maps`` is searched in its order and the first table with an answer wins,
  so a table aliasdesk does not manage, listed before a managed one, answers first;
- a catch-all ``@example.com`` also takes the mail of the mailboxes of
  ``virtual_mailbox_maps`` that have no alias line of their own (``mailboxes.py``).

``postconf`` is asked once for all parameters (``postconf -x a b c``) and the answer kept
until main.cf changes.
Pure Python: the programs run through ``postmap.py``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aliasdesk.postfix.maps.postmap import Postmap, PostmapError, run_postconf, run_postmap
from aliasdesk.postfix.maps.validate import WARNING, Finding
from aliasdesk.postfix.text import _

__all__ = [
    "DOMAIN_CLASSES",
    "PARAMETERS",
    "ManagedMap",
    "PostfixConfig",
    "fit_findings",
    "parse_postconf",
    "read_config",
    "split_list",
    "table_lookup",
    "table_parts",
]

# The address classes whose domains Postfix accepts mail for (virtual aliasing applies to all).
DOMAIN_CLASSES = ("mydestination", "virtual_alias_domains", "virtual_mailbox_domains", "relay_domains")
PARAMETERS = ("virtual_alias_maps", "virtual_mailbox_maps", "myorigin", *DOMAIN_CLASSES)
# Parameters where a plain `example.com` also matches its subdomains (parent_domain_matches_subdomains).
_PARENT_MATCHES = ("relay_domains",)

# Tables `postmap -s` can list; texthash and cdb (cdb cannot be listed) are read as text.
LISTED_BY_POSTMAP = frozenset({"hash", "btree", "lmdb", "dbm", "sdbm"})
READ_AS_TEXT = frozenset({"texthash", "cdb"})
COMPILED = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".pag", "sdbm": ".pag"}


@dataclass(frozen=True)
class PostfixConfig:
    """The parameters aliasdesk reads, expanded as Postfix uses them."""

    values: dict[str, str]
    where: str  # the configuration directory, for messages

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def tables(self, name: str) -> list[str]:
        return split_list(self.get(name))

    @property
    def main_cf(self) -> str:
        return str(Path(self.where) / "main.cf")

    def local_domains(self) -> list[str]:
        """$mydestination (names only) and $myorigin: where bare ``user`` keys apply."""
        names = [t for t in self.tables("mydestination") if ":" not in t and not t.startswith(("/", "!"))]
        return [n.lower() for n in [*names, self.get("myorigin")] if n]


def parse_postconf(text: str) -> dict[str, str]:
    """``name = value`` lines of ``postconf`` into a dict."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" = ")
        if not sep and line.endswith(" ="):
            name, sep, value = line[:-2], " =", ""
        if sep:
            values[name.strip()] = value.strip()
    return values


def split_list(value: str) -> list[str]:
    """A Postfix list (commas and/or white space), keeping ``{ … }`` groups whole."""
    items: list[str] = []
    for match in re.finditer(r"(?:[^\s,{]|\{[^}]*\})+", value):
        items.append(match.group())
    return items


def table_parts(table: str) -> tuple[str, str]:
    """``(type, name)`` of a table; ``proxy:`` is only the way to it (``proxy:hash:/x`` is hash:/x)."""
    while table.startswith("proxy:"):
        table = table[len("proxy:") :]
    kind, _, name = table.partition(":")
    return kind, name


# The first line of every table file ``aliasdesk postfix-config`` prints.
OWN_TABLE_MARK = "# virtual_alias_maps table on aliasdesk's database"


def is_own_sql_table(table: str) -> bool:
    """Whether ``table`` is aliasdesk's own lookup table (``postfix-config``): it answers for
    every managed map. Unknown when its file cannot be read here (it is 0640 root:postfix)."""
    kind, name = table_parts(table)
    if kind not in ("sqlite", "pgsql", "mysql") or not name.startswith("/"):
        return False
    try:
        with open(name, encoding="utf-8", errors="replace") as fh:
            return fh.readline().startswith(OWN_TABLE_MARK)
    except OSError:
        return False


def _same_path(a: str, b: str) -> bool:
    if a == b:
        return True
    if not a.startswith("/") or not b.startswith("/"):
        return False
    return os.path.normpath(a) == os.path.normpath(b) or os.path.realpath(a) == os.path.realpath(b)


def file_stamp(path: str) -> tuple[int, int, int, int] | None:
    """Identifies a version of a file: any write, rename into place or touch changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# -- reading the configuration -----------------------------------------------------------

lock = threading.Lock()  # guards the caches here and in mailboxes.py
_configs: dict[tuple[str, str], tuple[object, PostfixConfig | None]] = {}


def read_config(program: str = "postconf", config_dir: str | None = None) -> PostfixConfig | None:
    """The parameters in ``PARAMETERS`` (one postconf call), or None when the configuration
    cannot be read. Kept until main.cf changes (its inode, size and time)."""
    where = config_dir or "/etc/postfix"
    stamp = file_stamp(str(Path(where) / "main.cf"))
    key = (program, where)
    with lock:
        cached = _configs.get(key)
    if cached is not None and cached[0] == stamp and stamp is not None:
        return cached[1]
    text = run_postconf(PARAMETERS, program, config_dir) if stamp is not None else None
    config = PostfixConfig(parse_postconf(text), where) if text is not None else None
    with lock:
        _configs[key] = (stamp, config)
    return config


# -- the managed maps against main.cf ----------------------------------------------------


@dataclass(frozen=True)
class ManagedMap:
    """A map aliasdesk deploys: its name (for messages), table type, file and mail domains
    (each in its Unicode and its ASCII spelling, lower case)."""

    name: str
    map_type: str
    path: str
    mail_domains: tuple[tuple[str, str], ...] = ()

    @property
    def table(self) -> str:
        return f"{self.map_type}:{self.path}"

    def is_table(self, table: str) -> bool:
        return _same_path(table_parts(table)[1], self.path)


class ManagedTables:
    """``table in ManagedTables(maps)``: whether a table of main.cf is one of ``maps``, as
    ``ManagedMap.is_table`` of each would say, in one set lookup instead of a comparison per
    map (a deploy of each of thousands of maps asks for every table before its own).

    A map's file is never a symbolic link (a deploy renames a new file onto its name), so its
    real path is its directory's real path and its name: one ``realpath`` per directory.
    """

    def __init__(self, maps: Iterable[ManagedMap]) -> None:
        self.paths = {m.path for m in maps}
        self._normal: set[str] | None = None
        self._real: set[str] | None = None

    def __contains__(self, table: object) -> bool:
        path = table_parts(str(table))[1]
        if path in self.paths:
            return True
        if not path.startswith("/"):
            return False
        if self._normal is None:
            self._normal = {os.path.normpath(p) for p in self.paths if p.startswith("/")}
        if os.path.normpath(path) in self._normal:
            return True
        if self._real is None:
            dirs = {os.path.dirname(p) for p in self._normal}
            real_dirs = {d: os.path.realpath(d) for d in dirs}
            self._real = {os.path.join(real_dirs[os.path.dirname(p)], os.path.basename(p)) for p in self._normal}
        return os.path.realpath(path) in self._real


Lookup = Callable[[str, Sequence[str]], "set[str] | str"]


def fit_findings(
    config: PostfixConfig, this: ManagedMap, managed: Iterable[ManagedMap], lookup: Lookup
) -> list[Finding]:
    """Where main.cf does not route mail through ``this`` map as aliasdesk means it.

    ``managed``: every managed map (to tell unmanaged tables from managed ones).
    ``lookup(table, keys)``: which of ``keys`` a table has (a set), or why it could not be
    asked (a string); see ``table_lookup``.
    """
    findings: list[Finding] = []
    tables = config.tables("virtual_alias_maps")
    listed = "virtual_alias_maps = " + (", ".join(tables) if tables else "(empty)")
    place = next((i for i, t in enumerate(tables) if this.is_table(t) or is_own_sql_table(t)), None)
    if place is None:
        findings.append(Finding(WARNING, "map-not-in-postfix", _(
            "{table} is not in virtual_alias_maps, so Postfix never reads this map ({listed}); add {table} to "
            "virtual_alias_maps in {main_cf}, then run 'postfix reload'").format(
                table=this.table, listed=listed, main_cf=config.main_cf)))
    else:
        if not is_own_sql_table(tables[place]) and table_parts(tables[place])[0] != this.map_type:
            findings.append(Finding(WARNING, "map-type-differs", _(
                "virtual_alias_maps lists {listed}, but aliasdesk builds this map as {table}: Postfix reads a table "
                "aliasdesk does not write; change it to {table} in {main_cf}").format(
                    listed=tables[place], table=this.table, main_cf=config.main_cf)))
        known = ManagedTables(managed)
        for table in tables[:place]:
            if table not in known and not is_own_sql_table(table):
                findings.append(Finding(WARNING, "unmanaged-table-first", _(
                    "virtual_alias_maps consults {other}, which aliasdesk does not manage, before this map "
                    "({table}): an address that {other} answers never reaches this map; in {main_cf} list {table} "
                    "before {other}, or remove this map's addresses from it").format(
                        other=table, table=this.table, main_cf=config.main_cf)))
    for unicode_name, ascii_name in this.mail_domains:
        verdict = _received(config, (unicode_name, ascii_name), lookup)
        if verdict is True:
            continue
        if verdict is False:
            findings.append(Finding(WARNING, "domain-not-received", _(
                "{domain} is in none of {classes}: Postfix refuses mail for it, so this map's aliases of {domain} "
                "never apply; add {ascii_domain} to virtual_alias_domains in {main_cf}").format(
                    domain=unicode_name, classes=", ".join(DOMAIN_CLASSES), ascii_domain=ascii_name,
                    main_cf=config.main_cf)))
        else:
            findings.append(Finding(WARNING, "domain-check-failed", _(
                "could not check whether Postfix receives mail for {domain}: {reason}; make sure {ascii_domain} is "
                "in virtual_alias_domains (or another of {classes}) in {main_cf}").format(
                    domain=unicode_name, reason=verdict, ascii_domain=ascii_name, classes=", ".join(DOMAIN_CLASSES),
                    main_cf=config.main_cf)))
    return findings


def _received(config: PostfixConfig, spellings: tuple[str, str], lookup: Lookup) -> bool | str:
    """Whether a domain is in one of the address classes: True, False, or why it is not known."""
    unknown = ""
    for parameter in DOMAIN_CLASSES:
        answer = _in_domain_list(config.tables(parameter), spellings, lookup, parameter in _PARENT_MATCHES)
        if answer is True:
            return True
        if isinstance(answer, str) and not unknown:
            unknown = answer
    return unknown or False


def _in_domain_list(items: list[str], spellings: tuple[str, str], lookup: Lookup, parents: bool) -> bool | str:
    """Postfix's match_list for one domain: the first matching item decides, ``!`` negates."""
    names = {s.lower() for s in spellings}
    unknown = ""
    for item in items:
        negated = item.startswith("!")
        item = item.lstrip("!")
        if item.startswith("/"):
            try:
                inner = split_list(Path(item).read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                unknown = unknown or _("{file} cannot be read ({reason})").format(file=item, reason=exc.strerror)
                continue
            answer = _in_domain_list([i for i in inner if not i.startswith("#")], spellings, lookup, parents)
            matched: bool | str = answer
        elif ":" in item:
            found = lookup(item, sorted(names))
            matched = bool(found) if isinstance(found, set) else f"{item}: {found}"
        else:
            pattern = item.lower()
            subdomain = pattern if pattern.startswith(".") else "." + pattern if parents else None
            matched = any(n == pattern or (subdomain is not None and n.endswith(subdomain)) for n in names)
        if matched is True:
            return not negated
        if isinstance(matched, str):
            unknown = unknown or matched
    return unknown or False


_answers: dict[tuple[str, tuple[str, ...]], tuple[object, set[str] | str]] = {}


def table_lookup(postmap: Postmap) -> Lookup:
    """``lookup`` for ``fit_findings``: ``postmap -q -`` on the table. Answers of a table with a
    file are kept while the file is unchanged; others (``pgsql:`` …) are asked each time."""

    def lookup(table: str, keys: Sequence[str]) -> set[str] | str:
        kind, name = table_parts(table)
        if kind in ("static", "inline", "fail", "pipemap", "unionmap", "randmap"):
            return _("{kind}: tables are not checked").format(kind=kind)
        stamp = file_stamp(name + COMPILED.get(kind, "")) if name.startswith("/") else None
        key = (table, tuple(keys))
        with lock:
            cached = _answers.get(key)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        answer: set[str] | str
        try:
            # Straight to the table: proxy: needs a running proxymap, and answers the same.
            direct = f"{kind}:{name}"
            found = run_postmap(postmap, ["-q", "-", direct], stdin="".join(f"{k}\n" for k in keys), timeout=10)
            answer = {line.partition("\t")[0].lower() for line in found.splitlines()}
        except PostmapError as exc:
            answer = str(exc)
        if stamp is not None:
            with lock:
                _answers[key] = (stamp, answer)
        return answer

    return lookup
