"""Reports on what happened: the audit log for a period (who changed what, before → after)
and a domain's deploys. Each is one function that builds a Report with lazily read rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from aliasdesk.aliases.models import Domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.deploys.reasons import shown
from aliasdesk.web.audit import KINDS, AuditFilter, Change, Cursor, audit_page, decode_cursor
from aliasdesk.web.reports.formats import Cell, Report

AUDIT_COLUMNS = (
    gettext_lazy("When"), gettext_lazy("Who"), gettext_lazy("Domain"), gettext_lazy("Kind"), gettext_lazy("Subject"),
    gettext_lazy("Action"), gettext_lazy("Field"), gettext_lazy("Before"), gettext_lazy("After"),
    gettext_lazy("Details"),
)
AUDIT_WIDTHS = (20, 14, 20, 10, 32, 18, 16, 36, 36, 30)
AUDIT_BATCH = 500
KIND_NAMES = {"alias": gettext_lazy("alias"), "domain": gettext_lazy("domain settings"),
              "security": gettext_lazy("security")}
HISTORY_ACTIONS = {"+": gettext_lazy("created"), "~": gettext_lazy("changed"), "-": gettext_lazy("removed for good")}


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
        where = _("from %(address)s") % {"address": record.address} if record.address else ""
        details = " · ".join(part for part in (where, record.detail) if part)
        return str(change.action), details
    return str(HISTORY_ACTIONS.get(record.history_type, record.history_type)), record.history_change_reason or ""


def audit_rows(wanted: AuditFilter) -> Iterator[tuple[Cell, ...]]:
    """One row per changed field (before and after side by side); a change without one,
    such as a sign-in, is one row with the field left empty."""
    for change in audit_changes(wanted):
        action, details = _action_and_details(change)
        head: tuple[Cell, ...] = (
            change.when, change.who, change.domain_name, str(KIND_NAMES[change.kind]), change.label, action,
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
        since = wanted.since.isoformat() if wanted.since else _("the beginning")
        until = wanted.until.isoformat() if wanted.until else _("today")
        notes.append(_("from %(since)s to %(until)s") % {"since": since, "until": until})
    if wanted.user:
        notes.append(_("changes without a user") if wanted.user == "-" else _("by or about %(user)s") % {
            "user": wanted.user
        })
    if wanted.kind != "all":
        notes.append(str(KINDS[wanted.kind]).lower())
    scope = wanted.domain or _("all domains")
    stem = "-".join(part for part in ("audit", wanted.domain, wanted.user.strip("-")) if part)
    return Report(gettext_lazy("Audit log"), scope, AUDIT_COLUMNS, audit_rows(wanted), stem,
                  notes=notes or [_("everything")],
                  widths=AUDIT_WIDTHS)


DEPLOY_COLUMNS = (
    pgettext_lazy("report column: the deploy's number", "Deploy"), gettext_lazy("When"), gettext_lazy("Who"),
    gettext_lazy("Mail host"),
    gettext_lazy("Outcome"), gettext_lazy("Forced"), gettext_lazy("Method"), gettext_lazy("Aliases"),
    gettext_lazy("Seconds"), "SHA-256", gettext_lazy("Why a full build"), gettext_lazy("Error"),
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
        command_line, yes = _("command line"), _("yes")
        for pk, created, who, node, status, forced, method, count, timings, sha, why, error in rows.iterator(500):
            took = (timings or {}).get("total")
            yield (
                pk, created, who or command_line, node, str(STATUS.get(status, status)), yes if forced else "",
                str(METHOD.get(method, method)), count, f"{took:.2f}" if isinstance(took, int | float) else "", sha,
                shown(why), error,
            )

    return Report(gettext_lazy("Deploys"), domain.name, DEPLOY_COLUMNS, lines(), f"deploys-{domain.name}",
                  widths=(8, 20, 14, 12, 12, 7, 10, 9, 8, 66, 24, 40))
