"""What a deploy checks before a map goes live, and the diff it shows."""

from __future__ import annotations

import difflib

from aliasdesk.deploys.render import RenderedMap
from aliasdesk.postfix import postmap as pm
from aliasdesk.postfix.validate import Finding, validate_entries
from aliasdesk.postfix.virtual import Entry, parse_virtual

FULL_DIFF_LINES = 20000
DIFF_SHOWN_LINES = 2000


class VerifyFailed(pm.PostmapError):
    pass


def check_rendered(rendered: RenderedMap, with_expected: bool = False) -> tuple[list[Finding], dict[str, str]]:
    """Parse the rendered text back, compare it with the rows, and validate it.

    Returns the findings and what Postfix must answer for each key (first wins).
    """
    domain = rendered.domain
    findings: list[Finding] = []
    parsed = parse_virtual(rendered.text)
    for problem in parsed.problems:
        if problem.severity == "error":
            findings.append(Finding("error", "unreadable", problem.message, line=problem.line))
    head = parse_virtual(domain.header).entries if domain.header else []
    foot = parse_virtual(domain.footer).entries if domain.footer else []
    wanted = [(e.key, e.value, e.enabled) for e in head]
    wanted += [(key, value, enabled) for key, value, enabled, _ in rendered.rows]
    wanted += [(e.key, e.value, e.enabled) for e in foot]
    got = [(e.key, e.value, e.enabled) for e in parsed.entries]
    if got != wanted:
        findings.append(Finding("error", "render-mismatch", _first_mismatch(wanted, got)))
    findings += validate_entries(parsed.entries)
    expected: dict[str, str] = {}
    if with_expected:
        for entry in parsed.entries:
            if entry.enabled:
                expected.setdefault(entry.key.lower(), entry.value)
    return findings, expected


def _first_mismatch(wanted: list[tuple[str, str, bool]], got: list[tuple[str, str, bool]]) -> str:
    for index, (w, g) in enumerate(zip(wanted, got, strict=False)):
        if w != g:
            return f"the map does not read back as stored at entry {index + 1}: stored {w[0]!r}, read {g[0]!r}"
    return f"the map reads back {len(got)} entries, {len(wanted)} are stored (a value injects a line?)"


def verify_sample(postmap: pm.Postmap, map_type: str, path: object, expected: dict[str, str], sample: int) -> None:
    """Query the freshly built map and compare its answers with what was rendered."""
    keys = list(expected)
    if len(keys) > sample > 0:
        step = len(keys) / sample
        keys = [keys[int(i * step)] for i in range(sample)] + [keys[-1]]
    if not keys:
        return
    found = pm.query_map(postmap, map_type, path, keys)  # type: ignore[arg-type]
    for key in keys:
        if key not in found:
            raise VerifyFailed(f"the built map has no entry for {key}")
        if found[key] != expected[key]:
            raise VerifyFailed(f"the built map answers {found[key]!r} for {key}, expected {expected[key]!r}")


def map_diff(old: str, new: str, name: str) -> str:
    """A unified diff; for very large maps only the changed lines, without context."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if a == b:
        return ""
    if len(a) <= FULL_DIFF_LINES and len(b) <= FULL_DIFF_LINES:
        return "".join(difflib.unified_diff(a, b, f"{name} (on disk)", f"{name} (new)"))
    old_set, new_set = set(a), set(b)
    removed = [ln for ln in a if ln not in new_set]
    added = [ln for ln in b if ln not in old_set]
    lines = [
        f"--- {name} (on disk)\n",
        f"+++ {name} (new)\n",
        f"@@ large map: {len(removed)} lines removed, {len(added)} added @@\n",
    ]
    body = [f"-{ln}" for ln in removed] + [f"+{ln}" for ln in added]
    if len(body) > DIFF_SHOWN_LINES:
        body = body[:DIFF_SHOWN_LINES] + [f"... {len(body) - DIFF_SHOWN_LINES} more changed lines\n"]
    return "".join(lines + [ln if ln.endswith("\n") else ln + "\n" for ln in body])


__all__ = ["Entry", "check_rendered", "map_diff", "verify_sample"]
