"""What a deploy checks before a map goes live, and the diff it shows."""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.aliases.render import RenderedMap
from aliasdesk.postfix.maps import postmap as pm
from aliasdesk.postfix.maps.columns import EntryColumns, read_back_columns
from aliasdesk.postfix.maps.keys import ownership_findings
from aliasdesk.postfix.maps.validate import Finding, validate_entries
from aliasdesk.postfix.maps.virtual import Entry, Problem, parse_virtual

FULL_DIFF_LINES = 20000
DIFF_SHOWN_LINES = 2000


class VerifyFailed(pm.PostmapError):
    pass


def check_rendered(
    rendered: RenderedMap, with_expected: bool = False, sample: int = 0
) -> tuple[list[Finding], dict[str, str]]:
    """Parse the rendered text back, compare it with the rows, and validate it.

    Returns the findings and, with ``with_expected``, what Postfix must answer for an
    evenly spread sample of the enabled keys (all of them when ``sample`` is 0 or larger
    than the map). Duplicate keys are errors, so each sampled key's value is the one
    postmap keeps.
    """
    domain = rendered.domain
    # Rows that read back verbatim need no parse (read_back proves it); otherwise the
    # whole text is parsed and compared with the rows.
    back = read_back_columns(domain.header, rendered.columns, domain.footer)
    mismatch = ""
    problems: list[Problem] = []
    if back is not None:
        entries = back.entries
    else:
        parsed = parse_virtual(rendered.text)
        head = parse_virtual(domain.header).entries if domain.header else []
        foot = parse_virtual(domain.footer).entries if domain.footer else []
        wanted = [(e.key, e.value, e.enabled) for e in head]
        wanted += [(key, value, enabled) for key, value, enabled, _ in rendered.rows]
        wanted += [(e.key, e.value, e.enabled) for e in foot]
        got = [(e.key, e.value, e.enabled) for e in parsed.entries]
        if got != wanted:
            mismatch = _first_mismatch(wanted, got)
        entries = EntryColumns.of(parsed.entries)
        problems = parsed.problems
    findings = [
        Finding("error", "unreadable", problem.message, line=problem.line)
        for problem in problems
        if problem.severity == "error"
    ]
    if mismatch:
        findings.append(Finding("error", "render-mismatch", mismatch))
    fit = rendered.fit
    mailboxes = fit.mailboxes() if fit is not None else None  # listed only for a map with a catch-all
    local_domains = fit.local_domains if fit is not None else ()
    findings += validate_entries(entries, local_domains=local_domains, mailbox_addresses=mailboxes or ())
    findings += (mailboxes.not_checked() if mailboxes is not None else []) + list(fit.findings if fit else ())
    findings += ownership_findings(entries, rendered.owned, rendered.tolerated, rendered.shared)
    findings += rendered.notes
    expected: dict[str, str] = {}
    if with_expected:
        enabled = entries.enabled_only()
        picked: Iterable[int] = range(len(enabled))
        if len(enabled) > sample > 0:
            step = len(enabled) / sample
            picked = [int(i * step) for i in range(sample)] + [len(enabled) - 1]
        for index in picked:
            expected.setdefault(enabled.keys[index].lower(), enabled.values[index])
    return findings, expected


MAX_FINDINGS = 1000


class BackgroundCheck:
    """check_rendered in a thread, while postmap builds the table in its own process.

    postmap takes one core, the check the other; the deploy itself only writes the diff
    meanwhile and waits. A thread rather than a forked child: a child touching 500,000
    rows copies every page they sit on (reference counts are writes), which cost more
    than the check itself, and a thread cannot outlive a killed deploy.
    """

    def __init__(self, rendered: RenderedMap, sample: int) -> None:
        self.rendered, self.sample = rendered, sample
        self._answer: tuple[list[Finding], dict[str, str]] | BaseException | None = None
        self._thread = threading.Thread(target=self._keep, name="aliasdesk-check", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        try:
            self._answer = self._run()
        except BaseException as exc:  # handed to the deploy by result()
            self._answer = exc

    def _run(self) -> tuple[list[Finding], dict[str, str]]:
        findings, expected = check_rendered(self.rendered, with_expected=True, sample=self.sample)
        if len(findings) > MAX_FINDINGS:
            extra = len(findings) - MAX_FINDINGS
            errors = [f for f in findings if f.severity == "error"][:MAX_FINDINGS]
            findings = (errors + [f for f in findings if f.severity != "error"])[:MAX_FINDINGS]
            more = ngettext("%(count)s more finding not listed", "%(count)s more findings not listed", extra)
            findings.append(Finding("warning", "more-findings", more % {"count": extra}))
        return findings, expected

    def result(self) -> tuple[list[Finding], dict[str, str]]:
        self._thread.join()
        answer = self._answer
        if isinstance(answer, BaseException):
            raise answer
        assert answer is not None
        return answer

    def cancel(self) -> None:
        """Nothing to stop: a failed deploy just does not wait for the answer."""


def _first_mismatch(wanted: list[tuple[str, str, bool]], got: list[tuple[str, str, bool]]) -> str:
    for index, (w, g) in enumerate(zip(wanted, got, strict=False)):
        if w != g:
            return _("the map does not read back as stored at entry %(entry)s: stored %(stored)s, read %(read)s") % {
                "entry": index + 1, "stored": repr(w[0]), "read": repr(g[0])
            }
    return _("the map reads back %(got)s entries, %(wanted)s are stored (a value injects a line?)") % {
        "got": len(got), "wanted": len(wanted)
    }


def verify_sample(postmap: pm.Postmap, map_type: str, path: object, expected: dict[str, str]) -> None:
    """Query the freshly built map for the sampled keys and compare with what was rendered."""
    keys = list(expected)
    if not keys:
        return
    found = pm.query_map(postmap, map_type, path, keys)  # type: ignore[arg-type]
    for key in keys:
        if key not in found:
            raise VerifyFailed(_("the built map has no entry for %(key)s") % {"key": key})
        if found[key] != expected[key]:
            raise VerifyFailed(_("the built map answers %(got)s for %(key)s, expected %(want)s") % {
                "got": repr(found[key]), "key": key, "want": repr(expected[key])
            })


def map_diff(old: str, new: str, name: str) -> str:
    """A unified diff of the old and the new file.

    Large maps usually change in a few lines: the common head and tail are cut off in
    one pass first, so only the changed middle goes through difflib.
    """
    if old == new:
        return ""
    if not old:
        # A new file: its first lines say enough, and a large map costs nothing to show.
        first = new.split("\n", DIFF_SHOWN_LINES)
        shown, more = first[:DIFF_SHOWN_LINES], len(first) > DIFF_SHOWN_LINES
        if not more and shown and shown[-1] == "":
            shown.pop()
        total = new.count("\n") + (0 if new.endswith("\n") else 1)
        span = "+1" if total == 1 else f"+1,{total}"
        lines = [f"--- {name} (on disk)\n", f"+++ {name} (new)\n", f"@@ -0,0 {span} @@\n"]
        lines += [f"+{ln}\n" for ln in shown]
        if more:
            lines.append(f"... {total - DIFF_SHOWN_LINES} more lines\n")
        return "".join(lines)
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    head = _common_prefix(a, b)
    tail = _common_prefix(a[head:][::-1], b[head:][::-1])
    context = 3
    start = max(0, head - context)
    a_mid, b_mid = a[start : len(a) - max(0, tail - context)], b[start : len(b) - max(0, tail - context)]
    if len(a_mid) + len(b_mid) > 2 * FULL_DIFF_LINES:
        return _summary_diff(a_mid, b_mid, name)
    lines = list(difflib.unified_diff(a_mid, b_mid, f"{name} (on disk)", f"{name} (new)", n=context))
    # difflib numbers lines from the slice: shift the hunk headers to the file's lines.
    shifted = [_shift_hunk(line, start) if line.startswith("@@") else line for line in lines]
    return "".join(ln if ln.endswith("\n") else ln + "\n" for ln in shifted)


def _common_prefix(a: list[str], b: list[str]) -> int:
    """How many leading lines two lists share (binary search on slice equality, done in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


_HUNK_RE = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _shift_hunk(line: str, offset: int) -> str:
    match = _HUNK_RE.match(line)
    if not match or offset == 0:
        return line
    old_start, old_len, new_start, new_len = match.groups()
    return (
        f"@@ -{int(old_start) + offset}{old_len or ''} +{int(new_start) + offset}{new_len or ''} @@"
        + line[match.end() :]
    )


def _summary_diff(a: list[str], b: list[str], name: str) -> str:
    """Changed lines only, without context, the first DIFF_SHOWN_LINES of them."""
    old_set, new_set = set(a), set(b)
    removed = [ln for ln in a if ln not in new_set]
    added = [ln for ln in b if ln not in old_set]
    lines = [
        f"--- {name} (on disk)\n",
        f"+++ {name} (new)\n",
        f"@@ large change: {len(removed)} lines removed, {len(added)} added @@\n",
    ]
    shown = [f"-{ln}" for ln in removed[:DIFF_SHOWN_LINES]]
    shown += [f"+{ln}" for ln in added[: max(0, DIFF_SHOWN_LINES - len(shown))]]
    hidden = len(removed) + len(added) - len(shown)
    if hidden:
        shown.append(f"... {hidden} more changed lines\n")
    return "".join(lines + [ln if ln.endswith("\n") else ln + "\n" for ln in shown])


__all__ = ["Entry", "check_rendered", "map_diff", "verify_sample"]
