"""Reports on what happened: the audit log for a period (who changed what, before → after)
and a domain's deploys. Each is one function that builds a Report with lazily read rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.web.audit import KINDS, AuditFilter, Change, Cursor, audit_page, decode_cursor
from aliasdesk.web.reports.formats import Cell, Report

AUDIT_COLUMNS = ("When", "Who", "Domain", "Kind", "Subject", "Action", "Field", "Before", "After", "Details")
AUDIT_WIDTHS = (20, 14, 20, 10, 32, 18, 16, 36, 36, 30)
AUDIT_BATCH = 500
KIND_NAMES = {"alias": "alias", "domain": "domain settings", "security": "security"}
HISTORY_ACTIONS = {"+": "created", "~": "changed", "-": "removed for good"}


def audit_changes(wanted: AuditFilter) -> Iterator[Change]:
    """Every change the filter selects, newest first: the audit page's own pages, one after
    the other (keyset paging: each a few indexed queries, however long the period)."""
    before: Cursor | None = None
    while True:
        page = audit_page(wanted, before=before, size=AUDIT_BATCH)
        yield from page.changes
        before = decode_cursor(page.older) if page.older else None
        if before is None:
            return


def _action_and_details(change: Change) -> tuple[str, str]:
    record: Any = change.record
    if change.kind == "security":
        where = f"from {record.address}" if record.address else ""
        details = " · ".join(part for part in (where, record.detail) if part)
        return change.action, details
    return HISTORY_ACTIONS.get(record.history_type, record.history_type), record.history_change_reason or ""


def audit_rows(wanted: AuditFilter) -> Iterator[tuple[Cell, ...]]:
    """One row per changed field (before and after side by side); a change without one,
    such as a sign-in, is one row with the field left empty."""
    for change in audit_changes(wanted):
        action, details = _action_and_details(change)
        head: tuple[Cell, ...] = (
            change.when, change.who, change.domain_name, KIND_NAMES[change.kind], change.label, action,
        )
        if not change.changes:
            yield (*head, "", "", "", details)
            continue
        created = change.kind == "security" or change.record.history_type == "+"
        for field in change.changes:
            before = "" if created and field.old is None else field.before
            yield (*head, field.name, before, field.after, details)


def audit_report(wanted: AuditFilter) -> Report:
    notes = []
    if wanted.since or wanted.until:
        since = wanted.since.isoformat() if wanted.since else "the beginning"
        until = wanted.until.isoformat() if wanted.until else "today"
        notes.append(f"from {since} to {until}")
    if wanted.user:
        notes.append("changes without a user" if wanted.user == "-" else f"by or about {wanted.user}")
    if wanted.kind != "all":
        notes.append(KINDS[wanted.kind].lower())
    scope = wanted.domain or "all domains"
    stem = "-".join(part for part in ("audit", wanted.domain, wanted.user.strip("-")) if part)
    return Report("Audit log", scope, AUDIT_COLUMNS, audit_rows(wanted), stem, notes=notes or ["everything"],
                  widths=AUDIT_WIDTHS)


DEPLOY_COLUMNS = (
    "Deploy", "When", "Who", "Mail host", "Outcome", "Forced", "Method", "Aliases", "Seconds", "SHA-256",
    "Why a full build", "Error",
)
STATUS = dict(Deploy.Status.choices)
METHOD = dict(Deploy.Method.choices)


def deploy_report(domain: Domain) -> Report:
    """Every deploy of the domain, newest first."""
    rows = domain.deploys.order_by("-id").values_list(
        "pk", "created_at", "user__username", "node", "status", "forced", "method", "alias_count", "timings",
        "sha256", "why_full", "error",
    )

    def lines() -> Iterator[tuple[Cell, ...]]:
        for pk, created, who, node, status, forced, method, count, timings, sha, why, error in rows.iterator(500):
            took = (timings or {}).get("total")
            yield (
                pk, created, who or "command line", node, STATUS.get(status, status), "yes" if forced else "",
                METHOD.get(method, method), count, f"{took:.2f}" if isinstance(took, int | float) else "", sha,
                why, error,
            )

    return Report("Deploys", domain.name, DEPLOY_COLUMNS, lines(), f"deploys-{domain.name}",
                  widths=(8, 20, 14, 12, 12, 7, 10, 9, 8, 66, 24, 40))
