"""Whole-map alias expansion: loops, Postfix's expansion limits, catch-alls over mailboxes.

Keys are nodes; there is an edge wherever a destination is itself found as a key, looked
up in Postfix's order (exact, without extension, local part on local domains, catch-all;
see ``resolve``). Findings come back as ``(node, code, message)``; ``validate`` turns them
into ``Finding`` objects. What decides whether a cycle of aliases is a loop:

- An address that maps to itself keeps a copy and is not expanded again, so a cycle
  through such a key ends there - and so does a cycle that enters a catch-all with one
  of the catch-all's own values.
- A destination found only without its extension (``b+y@d`` finding ``b@d``) hands the
  extension on to every result: around a cycle the address grows each round and never
  repeats, so that cycle is a loop even through copy-keeping keys, unless a catch-all on
  it (which drops extensions) resets it.
- A catch-all ``@p @q`` maps ``user@p`` to ``user@q``: edges run straight through it.

Built for maps of 500,000 entries: ordinary entries are read all at once from one token
list, and most nodes hold one int rather than a list (fewer objects for the garbage
collector). Edges into catch-alls and local-part keys are followed only from entries those
keys lead back to, the only places they can close a loop. Loops that exist only for some
extension (where ``user+ext`` finds a different key than ``user``) are left to ``resolve``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, islice, repeat
from operator import contains, not_, sub

from aliasdesk.postfix.maps.resolve import quote_local, split_extension, unquote_local
from aliasdesk.postfix.maps.virtual import Entry, split_destinations
from aliasdesk.postfix.text import _, ngettext

__all__ = ["ExpansionGraph", "destinations", "last_at", "listed_names"]

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def destinations(value: str) -> list[str]:
    """The addresses of a value, split as ``split_destinations`` does (faster without quotes)."""
    return value.replace(",", " ").split() if '"' not in value else split_destinations(value)


def last_at(text: str) -> int:
    """Index of the last '@' outside quotes, or -1."""
    return _QUOTED.sub(lambda m: "x" * len(m.group()), text).rfind("@")


class ExpansionGraph:
    """The alias graph of one map's enabled entries (``active``), with ``folded`` keys.

    ``suspects`` are entries read one by one (odd syntax, quotes, ``@domain`` values and
    every catch-all); ``dead`` are duplicates postmap ignores.
    """

    def __init__(self, active: Sequence[Entry], folded: list[str], keyset: set[str], fold: Callable[[str], str],
                 local_domains: Iterable[str], delimiter: str, suspects: set[int], dead: set[int]) -> None:
        self.active, self.folded, self.keyset, self.fold = active, folded, keyset, fold
        self.delimiter, self.suspects, self.skip = delimiter, suspects, suspects | dead
        self.index = {folded[i]: i for i in suspects}  # key -> node (the first of equal keys), filled as needed
        self.complete = False
        self.local = {fold(domain) for domain in local_domains}
        self.one: dict[int, int] = {}  # node -> its first found target
        self.more: dict[int, list[int]] = {}  # node -> its other targets, in order
        self.first: dict[int, int] = {}  # node -> where its first destination leads (Postfix's "left branch")
        self.kinds: dict[tuple[int, int], str] = {}  # edges found without extension or by a catch-all
        self.counts: list[int] = [1] * len(active)  # node -> number of destinations
        self.sinks: set[int] = set()  # nodes that keep a copy of themselves
        self.growing: list[tuple[int, str]] = []  # (node, destination) that come back to it as another address
        self.returning: list[tuple[int, str]] = []  # (node, destination) that come back to it as itself
        self.in_loop: set[int] = set()
        self._components: tuple[list[int], list[list[int]]] | None = None
        self.catchalls: dict[str, int] = {}  # domain -> its catch-all
        self.own: dict[int, set[str]] = {}  # catch-all -> its values: entered with one, it stops there
        self.aliases: dict[int, str] = {}  # catch-all "@p @q" -> q
        for node in suspects - dead:
            if folded[node].startswith("@"):
                self.catchalls[folded[node][1:]] = node
                self.own[node] = set(self._canonical(node))
                if len(self.own[node]) == 1 and next(iter(self.own[node])).startswith("@"):
                    self.aliases[node] = next(iter(self.own[node]))[1:]

    def _canonical(self, node: int) -> list[str]:
        """A value's destinations folded and quoted the way Postfix looks them up."""
        dests = destinations(self.active[node].value)
        if dests and dests[0].startswith("@"):  # "@other": the same user in another domain, one address
            key = self.active[node].key
            dests = [dests[0] if key.startswith("@") else key[: last_at(key)] + dests[0] if "@" in key
                     else key + dests[0]]
        return [self.fold(dest if dest.startswith("@") else quote_local(unquote_local(dest))) for dest in dests]

    def targets(self, node: int) -> list[int]:
        return [self.one[node], *self.more.get(node, ())] if node in self.one else []

    def _forms(self, folded: str, near: bool = False) -> list[tuple[str, str]]:
        """The keys Postfix tries after the exact one, in order, each with how it matches.

        ``near`` leaves out local-part and catch-all keys (see the module docstring).
        """
        stripped = split_extension(folded, self.delimiter) if self.delimiter else None
        forms = [(stripped[0], "extension")] if stripped else []
        at = folded.rfind("@")
        if near or at < 0:
            return forms
        if at > 0 and folded[at + 1 :] in self.local:
            forms.append((folded[:at], "exact"))
            if stripped:
                forms.append((stripped[0][: stripped[0].rfind("@")], "extension"))
        if folded[at + 1 :] in self.catchalls:
            forms.append((folded[at:], "catch-all"))
        return forms

    def _index(self, addresses: Iterable[str], near: bool = False, keys: Iterable[str] = ()) -> None:
        """Learn, in one pass, the nodes of ``keys`` and of every key ``addresses`` may find."""
        wanted = {form for address in addresses for form, _ in [(address, ""), *self._forms(address, near)]}
        wanted = (wanted.union(keys) & self.keyset) - self.index.keys()
        if wanted and not self.complete:
            pairs = zip(reversed(self.folded), range(len(self.folded) - 1, -1, -1), strict=True)
            self.index.update(compress(pairs, map(wanted.__contains__, reversed(self.folded))))

    def node(self, key: str) -> int | None:
        if key not in self.keyset:
            return None
        if key not in self.index:  # not foreseen by _index: learn them all, once
            self.index = dict(zip(reversed(self.folded), range(len(self.folded) - 1, -1, -1), strict=True))
            self.complete = True
        return self.index[key]

    def lookup(self, folded: str, near: bool = False) -> tuple[int | None, str, str]:
        """The node Postfix finds for a folded address, how, and the address it got there with.

        A catch-all ``@p @q`` is passed straight through: ``user@p`` is looked up as ``user@q``.
        """
        seen: set[int] = set()
        while True:
            found: tuple[int | None, str] = (self.node(folded), "exact")
            if found[0] is None:
                found = next(((self.node(form), how) for form, how in self._forms(folded, near)
                              if form in self.keyset), (None, ""))
            target, how = found
            if how != "catch-all" or target not in self.aliases or target in seen:
                return target, how, folded
            seen.add(target)
            folded = f"{folded[: folded.rfind('@')]}@{self.aliases[target]}"

    def add_tokens(self, tokens: list[str], text: str | None = None) -> None:
        """Edges of all ordinary entries at once: their folded destinations, each value after a ``\\x00``.

        ``text``, the text the tokens were split from, lets a map without any delimiter skip
        looking for extensions.
        """
        span = range(len(tokens))
        values = len(self.active)
        per_value, rest = divmod(len(tokens) - 1, values) if values else (0, 1)
        if not rest and per_value and tokens[::per_value].count("\x00") == values + 1:
            # Every value has as many addresses (one, mostly): the marks are where they must be.
            boundaries: Sequence[int] = range(0, len(tokens), per_value)
            self.counts = [per_value - 1] * values
        else:
            boundaries = list(compress(span, map("\x00".__eq__, tokens)))
            self.counts = [gap - 1 for gap in map(sub, islice(boundaries, 1, None), boundaries)]
        hits = self.keyset.intersection(tokens)  # few, mostly: the rest are looked up in a small set
        found = set(compress(span, map(hits.__contains__, tokens))) if hits else set()
        extended: list[int] = []
        delimiters = [mark for mark in self.delimiter if text is None or mark in text]
        if delimiters:  # an address with an extension may find its key without it
            pattern = re.compile(f"[{re.escape(self.delimiter)}][^@\n]*")
            marked = sorted({p for mark in delimiters for p in compress(span, map(contains, tokens, repeat(mark)))})
            bare = pattern.sub("", "\n".join(map(tokens.__getitem__, marked))).split("\n")
            extended = list(compress(marked, map(self.keyset.__contains__, bare)))
        aliased = set(compress(span, map(self._aliased().__contains__, tokens))) if self.aliases else set()
        self._index(map(tokens.__getitem__, extended), near=True, keys=map(tokens.__getitem__, found))
        for position in sorted(found.union(extended, aliased)):
            node = bisect_right(boundaries, position) - 1
            if node not in self.skip and tokens[position] != "\x00":
                self._add(node, tokens[position], position == boundaries[node] + 1, position not in aliased)

    def _aliased(self) -> set[str]:
        """Addresses that a chain of ``@p @q`` catch-alls turns into a key: ``u@p`` for each key ``u@q``."""
        chains: dict[str, list[str]] = {}
        for domain in self.catchalls:
            node, chain = self.catchalls[domain], []
            while node in self.aliases and self.aliases[node] not in chain:
                chain.append(self.aliases[node])
                node = self.catchalls.get(self.aliases[node], -1)
            if chain:
                chains[domain] = chain
        ends = tuple({f"@{d}" for chain in chains.values() for d in chain})
        keys = compress(self.folded, map(str.endswith, self.folded, repeat(ends)))
        by_domain: dict[str, list[str]] = {}
        for key in keys:
            by_domain.setdefault(key[key.rfind("@") + 1 :], []).append(key[: key.rfind("@")])
        return {f"{user}@{source}" for source, chain in chains.items() for d in chain for user in by_domain.get(d, ())}

    def add_entries(self, bare_keys: bool = True) -> None:
        """Edges of the suspects, and of entries that catch-alls or local-part keys lead back to.

        ``bare_keys=False``: the caller knows that every key has an "@" (no local-part keys).
        """
        self._add_entries(self.suspects)
        starts = set(self.catchalls.values())
        if self.local and bare_keys:  # and the local-part keys
            starts.update(compress(range(len(self.folded)), map(not_, map(contains, self.folded, repeat("@")))))
        reached: set[int] = set()
        todo = list(starts - (self.skip - self.suspects))  # not the duplicates
        while todo:
            node = todo.pop()
            if node in reached:
                continue
            reached.add(node)
            if node not in self.suspects:  # read it again, following every kind of edge
                for edges in (self.one, self.more, self.first):
                    edges.pop(node, None)
                self.growing = [(n, dest) for n, dest in self.growing if n != node]
                self.returning = [(n, dest) for n, dest in self.returning if n != node]
                self.kinds = {pair: how for pair, how in self.kinds.items() if pair[0] != node}
                self._add_entries({node})
            todo.extend(self.targets(node))

    def _add_entries(self, nodes: set[int]) -> None:
        dests_of = {node: self._canonical(node) for node in nodes}
        for node, dests in dests_of.items():
            self.counts[node] = len(dests)
        self._index(dest for dests in dests_of.values() for dest in dests)
        for node, dests in dests_of.items():
            for position, dest in enumerate(dests):
                self._add(node, dest, position == 0)

    def _add(self, node: int, folded: str, first: bool, near: bool = False) -> None:
        target = self.index.get(folded)  # the usual case, without the lookup's machinery
        how, address = "exact", folded
        if target is None:
            target, how, address = self.lookup(folded, near)
        if target is None or (how == "catch-all" and address in self.own[target]):
            return
        if target == node:
            if how == "exact" and address == folded:  # a copy it keeps
                self.sinks.add(node)
            elif how == "exact":  # back as itself through a catch-all "@p @q": a loop, unless it keeps a copy
                self.returning.append((node, folded))
            else:  # back with an extension added, or as another address
                self.growing.append((node, folded))
            return
        if node not in self.one:
            self.one[node] = target
        else:
            self.more.setdefault(node, []).append(target)
        if how != "exact":
            self.kinds.setdefault((node, target), how)
        if first:
            self.first[node] = target

    def components(self) -> tuple[list[int], list[list[int]]]:
        """Nodes with targets, successors first: those whose targets lead nowhere, then the
        strongly connected components of the rest (a loop is one with several nodes)."""
        if self._components is None:
            inner: dict[int, list[int]] = {}
            alone: list[int] = []
            for node in self.one:
                onward = [m for m in self.targets(node) if m in self.one]
                if onward:
                    inner[node] = onward
                else:
                    alone.append(node)
            self._components = alone, _components(inner)
        return self._components

    def loops(self) -> Iterator[tuple[int, str, str]]:
        for node, dest in self.growing + [(n, d) for n, d in self.returning if n not in self.sinks]:
            key = self.active[node].key
            yield node, "loop", _("loop: {key} -> {dest} leads back to {key}, as an address it never keeps a copy "
                                  "of, again and again until Postfix defers the mail").format(key=key, dest=dest)
        self.in_loop = {node for node, _ in self.growing} | {n for n, _ in self.returning if n not in self.sinks}
        for component in self.components()[1]:
            if len(component) < 2:
                continue
            members = set(component)
            succ = {n: [m for m in self.targets(n) if m in members] for n in component}
            keeping = {n: [m for m in succ[n] if self.kinds.get((n, m)) != "catch-all"] for n in component}
            growing = [(n, m) for part in _components(keeping) if len(part) > 1 for n in part for m in keeping[n]
                       if m in part and self.kinds.get((n, m)) == "extension"]
            if growing:  # the address grows every round, no copy it keeps ever matches again
                self.in_loop.update(component)
                yield self._loop_finding(component, keeping, growing[0])
                continue
            succ = {n: targets for n, targets in succ.items() if n not in self.sinks}  # a copy-keeping key ends it
            for loop in _components(succ) if members & self.sinks else [component]:
                if len(loop) > 1:
                    self.in_loop.update(loop)
                    yield self._loop_finding(loop, succ)

    def _loop_finding(self, component: list[int], succ: dict[int, list[int]],
                      through: tuple[int, int] | None = None) -> tuple[int, str, str]:
        """A loop message spelling out the shortest cycle through one edge of the component."""
        members = set(component)
        if through is None:
            first = min(component, key=lambda n: self.active[n].line)
            through = first, next(m for m in succ[first] if m in members)
        start, after = through
        parents, frontier = {after: after}, [after]
        while start not in parents:  # breadth first from ``after`` back to ``start``
            following = []
            for node in frontier:
                for target in succ.get(node, ()):
                    if target in members and target not in parents:
                        parents[target] = node
                        following.append(target)
            frontier = following
        cycle = [start]
        while cycle[-1] != after:
            cycle.append(parents[cycle[-1]])
        cycle = [start, *reversed(cycle)]
        text = " -> ".join(self.active[n].key for n in cycle)
        if len(component) > len(cycle) - 1:
            message = _("loop: {cycle} ({count} keys are caught in it); Postfix defers mail to these addresses, and "
                        "to any alias that leads here, after virtual_alias_recursion_limit lookups").format(
                            cycle=text, count=len(component))
        else:
            message = _("loop: {cycle}; Postfix defers mail to these addresses, and to any alias that leads here, "
                        "after virtual_alias_recursion_limit lookups").format(cycle=text)
        return start, "loop", message

    def limits(self, recursion_limit: int, expansion_limit: int) -> Iterator[tuple[int, str, str]]:
        """Aliases whose expansion Postfix refuses: too many addresses, or nested too deep.

        Each problem is reported where it starts, not again for every alias above it.
        """
        counts = self.counts
        over = compress(range(len(counts)), map(expansion_limit.__lt__, counts)) if counts else ()
        for node in over if max(counts, default=0) > expansion_limit else ():
            if node not in self.one and node not in self.skip - self.suspects:
                yield node, "expansion-limit", _too_many(counts[node], expansion_limit)
        size: dict[int, int] = {}  # addresses an alias expands to (capped), loops counted as one
        depth: dict[int, int] = {}  # nested lookups along the first destinations
        alone, groups = self.components()
        for group in [alone, *groups]:
            if len(group) > 1 and group is not alone:
                size.update(dict.fromkeys(group, 1))
                continue
            for node in group:
                if node in self.in_loop:
                    size[node] = 1
                    continue
                children = [size.get(m) or counts[m] for m in self.targets(node)]
                total = counts[node] - len(children) + sum(children)
                size[node] = min(total, expansion_limit + 1)
                depth[node] = 1 + depth.get(self.first[node], 1) if node in self.first else 1
                if total > expansion_limit and max(children) <= expansion_limit:
                    yield node, "expansion-limit", _too_many(total, expansion_limit)
                if depth[node] == recursion_limit:
                    yield node, "recursion-limit", _(
                        "{key} starts a chain of {limit} nested aliases (virtual_alias_recursion_limit): Postfix "
                        "defers mail to it and to every alias that leads to it").format(
                            key=self.active[node].key, limit=recursion_limit)

    def shadowed_mailboxes(self, mailbox_addresses: Iterable[str]) -> Iterator[tuple[int, str, str]]:
        """Mailboxes a catch-all takes over because they have no alias line of their own."""
        if not self.catchalls:
            return
        boxes = {address.strip(): self.fold(address.strip()) for address in mailbox_addresses}
        self._index(boxes.values())
        shadowed: dict[int, list[str]] = {}
        for address, folded in boxes.items():
            target, how, _ = self.lookup(folded)
            if how == "catch-all" and target is not None:
                shadowed.setdefault(target, []).append(address)
        for node, names in shadowed.items():
            entry = self.active[node]
            yield node, "catchall-shadows-mailbox", ngettext(
                'catch-all {key} also takes the mail of {count} mailbox without an alias line of its own: {listed}; '
                'add a line such as "{first} {first}", or its mail goes to {value}',
                'catch-all {key} also takes the mail of {count} mailboxes without an alias line of their own: '
                '{listed}; add a line such as "{first} {first}" for each, or their mail goes to {value}',
                len(names)).format(key=entry.key, count=len(names), listed=listed_names(names), first=names[0],
                                   value=entry.value)


def listed_names(names: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``names``, and how many more there are."""
    listed = ", ".join(names[:shown])
    if len(names) <= shown:
        return listed
    return _("{names} and {count} more").format(names=listed, count=len(names) - shown)


def _too_many(total: int, limit: int) -> str:
    if total <= limit + 1:
        return _("expands to {count} addresses, over virtual_alias_expansion_limit {limit}: Postfix defers mail to "
                 "it, and to every alias that includes it").format(count=total, limit=limit)
    return _("expands to more than {limit} addresses, over virtual_alias_expansion_limit {limit}: Postfix defers "
             "mail to it, and to every alias that includes it").format(limit=limit)


def _components(succ: dict[int, list[int]]) -> list[list[int]]:
    """Strongly connected components (Tarjan, iterative), successors before predecessors.

    Only nodes with successors take part: a node without any cannot be on a cycle.
    """
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    for root in succ:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in succ:
                    continue
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    break
                if child in on_stack and order[child] < low[node]:
                    low[node] = order[child]
            else:
                work.pop()
                if work and low[node] < low[work[-1][0]]:
                    low[work[-1][0]] = low[node]
                if low[node] == order[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components
