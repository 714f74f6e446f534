"""Patching a deployed map instead of building it again, when few aliases changed.

Every alias row carries the domain serial of its last change, and its history keeps the
serial of every earlier state. So the rows changed since the last good deploy are the
rows above its serial, and what the map on disk holds for each of them is its last
history record at or below that serial. From those the plan finds each changed row's
lines in the file (rows are written in id order), and works out:

- the new text, as splices of the old one: byte for byte what a full render gives;
- the table change: keys to delete and keys to insert or replace, from what Postfix
  answers per folded key (the first enabled entry: header, rows in id order, footer);
- the checks a full deploy makes, for the changed entries: syntax, ownership, duplicates
  against the whole key set, and loops and limits reachable from them.

Whenever the plan is not sure (header or footer changed, a line not where it should be,
a duplicate, an error finding, non-ASCII keys, too many changes), it says why and the
engine builds the whole map instead: that path decides and reports exactly as always.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import map_ownership
from aliasdesk.aliases.postfix_fit import MapFit, map_fit
from aliasdesk.deploys import reasons
from aliasdesk.deploys.reasons import reason
from aliasdesk.postfix.maps.keys import ownership_findings
from aliasdesk.postfix.maps.patch import Splice, ordered, splice_pieces, spliced_lines
from aliasdesk.postfix.maps.resolve import split_extension
from aliasdesk.postfix.maps.validate import Finding, validate_entries
from aliasdesk.postfix.maps.virtual import Entry, Row, parse_virtual, render_block, render_head, render_tail

# Above this many changed rows a full build is as quick and far simpler to trust.
PATCH_MAX = 2000
# Entries reachable from the changed ones that are checked for loops and limits.
CLOSURE_MAX = 5000
SAMPLE = 16


class NoPatch(Exception):
    """The change cannot be applied as a patch; ``reason`` says why (kept as the deploy's why_full)."""

    def __init__(self, message: str, **values: object) -> None:
        self.reason = reason(message, **values)
        super().__init__(self.reason.english)


@dataclass
class PatchPlan:
    old: bytes
    splices: list[Splice]
    upserts: dict[str, str]  # key as written -> value
    deletes: list[str]  # folded keys
    expected: dict[str, str | None]  # folded key -> what the patched table must answer (None: nothing)
    findings: list[Finding] = field(default_factory=list)
    alias_delta: int = 0  # live rows added minus removed
    changed: int = 0

    def pieces(self) -> list[bytes | memoryview]:
        """The new text in pieces: written and hashed without joining 45 MB first."""
        return splice_pieces(self.old, self.splices)

    @cached_property
    def new(self) -> bytes:
        return b"".join(self.pieces())

    @property
    def size(self) -> int:
        return len(self.old) + sum(len(s.text) - (s.end - s.start) for s in self.splices)

    @property
    def unchanged(self) -> bool:
        return all(self.old[s.start : s.end] == s.text for s in self.splices)


@dataclass
class _Change:
    id: int
    old: Row | None  # as the map on disk holds it, None when not there
    new: Row | None  # as the map must hold it now

    @property
    def same(self) -> bool:  # changed and changed back: nothing to write, but it still marks a place
        return self.old == self.new


def _is_comment_line(data: bytes, pos: int) -> bool:
    return data[pos : pos + 2] in (b"# ", b"#\n")


def plan_patch(domain: Domain, old: bytes) -> PatchPlan:
    """The patch that turns ``old`` (the map as last deployed) into the map of the rows now."""
    head = render_head(domain.header).encode("utf-8")
    tail = render_tail(domain.footer).encode("utf-8")
    if len(old) < len(head) + len(tail) or not old.startswith(head) or not old.endswith(tail):
        raise NoPatch(reasons.HEAD_OR_TAIL)
    r0, r1 = len(head), len(old) - len(tail)
    every = _changes(domain)
    changes = [c for c in every if not c.same]
    if not changes:
        return PatchPlan(old, [], {}, [], {})
    splices: list[Splice] = []
    spans: dict[int, tuple[int, int]] = {}
    for change in every:
        if change.old is not None:
            spans[change.id] = _locate(old, r0, r1, change.old)
    inserts: dict[int, list[bytes]] = {}
    for change in changes:
        if change.old is not None:
            text = render_block(change.new, first=False).encode("utf-8") if change.new is not None else b""
            splices.append(Splice(*spans[change.id], text))
        elif change.new is not None:
            at = _insert_at(domain, old, r0, r1, change.id, spans)
            inserts.setdefault(at, []).append(render_block(change.new, first=False).encode("utf-8"))
    removed_at_r0 = any(s.start == r0 and s.end > r0 for s in splices)
    for at, blocks in inserts.items():
        text = b"".join(blocks)
        if at == r0 and not removed_at_r0 and r0 < r1 and _is_comment_line(old, r0):
            text += b"\n"  # the old first block had no blank line above it: now it follows others
        splices.append(Splice(at, at, text))
    splices = _strip_leading_blank(old, r0, r1, ordered(splices))
    plan = PatchPlan(old, splices, {}, [], {}, changed=len(changes))
    plan.alias_delta = sum((c.new is not None) - (c.old is not None) for c in changes)
    _table_changes(domain, changes, plan)
    plan.findings = _check(domain, changes, plan)
    return plan


def _changes(domain: Domain) -> list[_Change]:
    if Alias.objects.filter(domain=domain, serial=0).exists():
        raise NoPatch(reasons.SERIAL_ZERO)
    rows = list(
        Alias.objects.filter(domain=domain, serial__gt=domain.deployed_serial)
        .order_by("id")
        .values_list("id", "key", "destinations", "enabled", "comment", "deleted_at")[: PATCH_MAX + 1]
    )
    if len(rows) > PATCH_MAX:
        raise NoPatch(reasons.TOO_MANY, max=PATCH_MAX)
    if not rows:
        return []
    history = Alias.history.model
    before: dict[int, Row | None] = {}
    records = (
        history.objects.filter(id__in=[r[0] for r in rows], serial__lte=domain.deployed_serial)
        .order_by("id", "-history_id")
        .values_list("id", "key", "destinations", "enabled", "comment", "deleted_at", "history_type")
    )
    for pk, key, dests, enabled, comment, deleted_at, kind in records:
        if pk not in before:
            live = kind != "-" and deleted_at is None
            before[pk] = (key, dests, bool(enabled), comment) if live else None
    changes = []
    for pk, key, dests, enabled, comment, deleted_at in rows:
        now: Row | None = (key, dests, bool(enabled), comment) if deleted_at is None else None
        changes.append(_Change(pk, before.get(pk), now))
    return changes


def _locate(old: bytes, r0: int, r1: int, row: Row) -> tuple[int, int]:
    """Where the block of ``row`` is in the rows part of the old file: (start, end)."""
    core = render_block(row, first=True).encode("utf-8")
    if old[r0 : r0 + len(core)] == core:
        return r0, r0 + len(core)
    found = old.find(b"\n" + core, r0, r1)
    if found < 0:
        raise NoPatch(reasons.MISPLACED, key=row[0])
    start = found + 1
    end = start + len(core)
    if row[3]:  # a commented block has a blank line above it (not the first one, handled above)
        if old[start - 2 : start] != b"\n\n":
            raise NoPatch(reasons.NO_BLANK, key=row[0])
        start -= 1
    return start, end


def _insert_at(domain: Domain, old: bytes, r0: int, r1: int, pk: int, spans: dict[int, tuple[int, int]]) -> int:
    """Where a row that is not in the old file goes: after the last row before it by id."""
    changed_before = max((i for i in spans if i < pk), default=None)
    unchanged = (
        Alias.objects.filter(
            domain=domain, deleted_at__isnull=True, serial__lte=domain.deployed_serial, id__lt=pk
        )
        .order_by("-id")
        .values_list("id", "key", "destinations", "enabled", "comment")
        .first()
    )
    if unchanged is not None and (changed_before is None or unchanged[0] > changed_before):
        _pk, key, dests, enabled, comment = unchanged
        return _locate(old, r0, r1, (key, dests, bool(enabled), comment))[1]
    if changed_before is not None:
        return spans[changed_before][1]
    return r0


def _strip_leading_blank(old: bytes, r0: int, r1: int, splices: list[Splice]) -> list[Splice]:
    """The first block never has a blank line above it: drop the one the new first block brings."""
    pos = r0
    for index, splice in enumerate(splices):
        if splice.start != pos:
            break
        if splice.text:
            if splice.text.startswith(b"\n"):
                splices[index] = Splice(splice.start, splice.end, splice.text[1:])
            return splices
        pos = splice.end
    if pos < r1 and old[pos : pos + 1] == b"\n":
        splices = ordered([*splices, Splice(pos, pos + 1, b"")])
    return splices


def _live_with_keys(domain: Domain, keys: list[str], *fields: str) -> list[tuple[object, ...]]:
    """The domain's live, enabled rows holding any of the folded ``keys``, in id order.

    Asked by key alone, so the key index answers: with the domain in the query SQLite
    may walk the domain's whole index instead.
    """
    found: list[tuple[object, ...]] = []
    for start in range(0, len(keys), 500):
        rows = Alias.objects.filter(key_folded__in=keys[start : start + 500]).values_list(
            "id", "domain_id", "deleted_at", "enabled", *fields
        )
        found += [r for r in rows if r[1] == domain.pk and r[2] is None and r[3]]
    found.sort(key=lambda r: r[0])  # type: ignore[arg-type, return-value]
    return [(r[0], *r[4:]) for r in found]


def _ascii(text: str) -> bool:
    return text.isascii() and '"' not in text


def _touched_keys(changes: list[_Change]) -> tuple[set[str], dict[str, str]]:
    """The folded keys the changes touch, and what the old table answered for those the
    changed rows held."""
    old_answer: dict[str, str] = {}
    keys: set[str] = set()
    for change in changes:
        for row in (change.old, change.new):
            if row is not None and row[2]:
                if not _ascii(row[0]):
                    raise NoPatch(reasons.NOT_ASCII_KEY, key=row[0])
                keys.add(row[0].lower())
        if change.old is not None and change.old[2]:
            old_answer[change.old[0].lower()] = change.old[1]
    return keys, old_answer


def _holders(
    domain: Domain, keys: set[str], changed_ids: set[int]
) -> tuple[dict[str, list[tuple[str, bool]]], dict[str, str]]:
    """Who holds each key now, in map order: (value, steady). A steady holder (header, footer,
    an unchanged row) answered the same in the old table. Also each key as a row writes it."""
    holders: dict[str, list[tuple[str, bool]]] = {}
    for text in (domain.header, domain.footer):
        for entry in parse_virtual(text).entries if text else []:
            if entry.enabled and entry.key.lower() in keys:
                holders.setdefault(entry.key.lower(), []).append((entry.value, True))
    written: dict[str, str] = {}
    for pk, folded, key, dests in _live_with_keys(domain, sorted(keys), "key_folded", "key", "destinations"):
        holders.setdefault(str(folded), []).append((str(dests), pk not in changed_ids))
        written.setdefault(str(folded), str(key))
    return holders, written


def _table_changes(domain: Domain, changes: list[_Change], plan: PatchPlan) -> None:
    """What Postfix must answer for every key a change touches, and the table edits for it."""
    keys, old_answer = _touched_keys(changes)
    if not keys:
        return
    holders, written = _holders(domain, keys, {c.id for c in changes})
    for folded in sorted(keys):
        found = holders.get(folded, [])
        if len(found) > 1:
            raise NoPatch(reasons.DUPLICATE, key=folded, count=len(found))
        new = found[0][0] if found else None
        plan.expected[folded] = new
        before = old_answer.get(folded) or (new if found and found[0][1] else None)
        if new is None and before is not None:
            plan.deletes.append(folded)
        elif new is not None and new != before:
            plan.upserts[written.get(folded, folded)] = new


def _check(domain: Domain, changes: list[_Change], plan: PatchPlan) -> list[Finding]:
    """The checks of a full deploy for the changed entries; any error means: build fully."""
    rows = [c.new for c in changes if c.new is not None]
    if not rows:
        return []
    text = b"".join(render_block(r, first=True).encode("utf-8") for r in rows).decode("utf-8")
    parsed = parse_virtual(text)
    if [(e.key, e.value, e.enabled) for e in parsed.entries] != [(r[0], r[1], r[2]) for r in rows] or [
        p for p in parsed.problems if p.severity == "error"
    ]:
        raise NoPatch(reasons.READ_BACK)
    lines = _line_numbers(plan, [r[0] for r in rows])
    changed = [Entry(r[0], r[1], r[2], r[3], lines.get(r[0], 0)) for r in rows]
    for entry in changed:
        if entry.enabled and not all(_ascii(d) for d in entry.value.replace(",", " ").split()):
            raise NoPatch(reasons.NOT_ASCII_DESTINATION, key=entry.key)
    closure = _closure(domain, [e for e in changed if e.enabled])
    fit = map_fit(domain)
    findings = validate_entries(closure, local_domains=fit.local_domains)
    context = map_ownership(domain, rows)
    findings += ownership_findings(changed, context.owned, context.tolerated, context.shared)
    if any(f.severity == "error" for f in findings):
        raise NoPatch(reasons.ERROR)
    return findings + _catchall_check(domain, changes, fit) + list(fit.findings)


def _catchall_check(domain: Domain, changes: list[_Change], fit: MapFit) -> list[Finding]:
    """Catch-alls against mailboxes: a change to a catch-all, or to the own line of a mailbox
    a catch-all would take, is checked by the full build; the tables that could not be
    listed are said here as there."""
    if fit.config is None or not fit.config.tables("virtual_mailbox_maps"):
        return []
    keys = {row[0].lower() for c in changes for row in (c.old, c.new) if row is not None}
    if any(key.startswith("@") for key in keys):
        raise NoPatch(reasons.CATCH_ALL)
    texts = [parse_virtual(t).entries for t in (domain.header, domain.footer) if t]
    catchalls = [e for entries in texts for e in entries if e.enabled and e.key.startswith("@")]
    rows = Alias.objects.filter(domain=domain, deleted_at__isnull=True, enabled=True, key_folded__startswith="@")
    catchalls += [Entry(key, value, True) for key, value in rows.values_list("key", "destinations")]
    mailboxes, not_checked = fit.mailboxes_for(catchalls)
    if keys & {m.lower() for m in mailboxes}:
        raise NoPatch(reasons.MAILBOX_LINE)
    return not_checked


def _line_numbers(plan: PatchPlan, keys: list[str]) -> dict[str, int]:
    """Where the changed entries stand in the new text (for the findings)."""
    keys = keys[:50]
    needles = [f"{prefix}{key}\t".encode() for key in keys for prefix in ("", "#")]
    found = spliced_lines(plan.old, plan.splices, needles)
    lines = {}
    for key in keys:
        at = [found[n] for n in (f"{key}\t".encode(), f"#{key}\t".encode()) if n in found]
        if at:
            lines[key] = min(at)
    return lines


def _candidates(address: str) -> list[str]:
    folded = address.lower()
    found = [folded]
    at = folded.rfind("@")
    if at >= 0:
        split = split_extension(folded, settings.RECIPIENT_DELIMITER)
        if split is not None:
            found.append(split[0])
        found.append(folded[at:])
    return found


def _closure(domain: Domain, start: list[Entry]) -> list[Entry]:
    """The changed entries and every entry their destinations reach in this map, in map order."""
    header = parse_virtual(domain.header).entries if domain.header else []
    footer = parse_virtual(domain.footer).entries if domain.footer else []
    fixed = {e.key.lower(): e for e in [*footer[::-1], *header[::-1]] if e.enabled}  # header wins
    reached: dict[str, Entry] = {e.key.lower(): e for e in start}
    frontier = list(start)
    while frontier:
        wanted: set[str] = set()
        for entry in frontier:
            for dest in entry.value.replace(",", " ").split():
                wanted.update(c for c in _candidates(dest) if c not in reached)
        frontier = []
        for key in sorted(wanted):
            if key in fixed:
                reached[key] = fixed[key]
                frontier.append(fixed[key])
        rest = sorted(k for k in wanted if k not in fixed)
        for row in _live_with_keys(domain, rest, "key", "destinations", "comment"):
            if str(row[1]).lower() not in reached:
                entry = Entry(str(row[1]), str(row[2]), True, str(row[3]))
                reached[entry.key.lower()] = entry
                frontier.append(entry)
        if len(reached) > CLOSURE_MAX:
            raise NoPatch(reasons.FAR_REACH, max=CLOSURE_MAX)
    return list(reached.values())


def sample_lines(data: bytes, start: int, end: int, count: int = SAMPLE) -> dict[str, str]:
    """Enabled entries at random places of ``data[start:end]``: what the table must answer for them."""
    found: dict[str, str] = {}
    if end <= start:
        return found
    rng = random.Random()
    for _n in range(count * 3):
        if len(found) >= count:
            break
        pos = rng.randrange(start, end)
        line_start = data.rfind(b"\n", 0, pos) + 1
        line_end = data.find(b"\n", pos)
        line = data[line_start : line_end if line_end >= 0 else len(data)].decode("utf-8", "replace")
        key, tab, value = line.partition("\t")
        if tab and key and not key.startswith("#") and _ascii(key):
            found.setdefault(key.lower(), value.strip())
    return found
