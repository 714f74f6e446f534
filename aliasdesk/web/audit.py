"""The audit log: every recorded change to aliases and domains, and every security event
(sign-ins, lockouts, users, grants, two-factor), newest first, with before/after.

Three tables (Alias.history, Domain.history, SecurityEvent) are read newest first, each by
its primary key, and merged by date. A page is described by where it stands in each table
(keyset paging): every page is a few indexed queries however large the history (an
import writes hundreds of thousands of rows at one instant), and paging never skips or
repeats a change.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext, gettext_lazy

from aliasdesk.accounts.display import show_value
from aliasdesk.accounts.events import ACTIONS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
from aliasdesk.accounts.models import SecurityEvent, User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.offboard import CHANGE_ID, offboarding_reason_prefix

PAGE_SIZE = 50
KINDS = {
    "all": gettext_lazy("Everything"),
    "alias": gettext_lazy("Aliases"),
    "domain": gettext_lazy("Domain settings"),
    "security": gettext_lazy("Sign-ins and accounts"),
}
KIND_ORDER = ("alias", "domain", "security")  # at the same instant, the later kind is shown first
TRACKED = {
    "alias": ["key", "destinations", "enabled", "comment", "valid_until", "deleted_at"],
    "domain": [
        "name", "map_path", "map_type", "header", "footer", "localpart_pattern",
        "allowed_destination_domains", "max_aliases", "max_destinations", "deleted_at",
    ],
}
_NO_LIMIT = 2**63 - 1

# Where a page stands in each table: a history_id (SecurityEvent: id) per kind (see audit_page).
Cursor = dict[str, int]


def encode_cursor(cursor: Cursor) -> str:
    return ".".join(str(cursor[kind]) for kind in KIND_ORDER)


def decode_cursor(text: str) -> Cursor | None:
    try:
        values = [int(part) for part in text.split(".")]
    except ValueError:
        return None
    if len(values) != len(KIND_ORDER) or not all(0 <= v <= _NO_LIMIT for v in values):
        return None
    return dict(zip(KIND_ORDER, values, strict=True))


def read_day(text: str) -> date | None:
    """A day as the reader's language writes it (03.12.2026 in German), or as an ISO date."""
    for form in get_format("DATE_INPUT_FORMATS"):  # ISO included
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


@dataclass
class AuditFilter:
    """What the reader asked for; unknown values are ignored rather than refused."""

    user: str = ""  # a user name (who acted, or whom a security event concerns), or "-": no user
    domain: str = ""
    since: date | None = None
    until: date | None = None
    kind: str = "all"
    change: str = ""  # an offboarding's change id: only the alias changes it made
    unreadable: dict[str, str] = field(default_factory=dict)  # "since"/"until": text that is no date

    @classmethod
    def from_params(cls, params: Any) -> AuditFilter:
        unreadable: dict[str, str] = {}

        def day(name: str) -> date | None:
            text = params.get(name, "").strip()[:40]
            found = read_day(text) if text else None
            if text and found is None:
                unreadable[name] = text
            return found

        kind = params.get("kind", "all")
        return cls(
            user=params.get("user", "").strip()[:150],
            domain=params.get("domain", "").strip().lower()[:253],
            since=day("since"),
            until=day("until"),
            unreadable=unreadable,
            kind=kind if kind in KINDS else "all",
            change=change if CHANGE_ID.fullmatch(change := params.get("change", "").strip().lower()) else "",
        )

    @property
    def params(self) -> dict[str, str]:
        """The filter as query parameters, for links to other pages."""
        values = {
            "user": self.user,
            "domain": self.domain,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "kind": "" if self.kind == "all" else self.kind,
            "change": self.change,
        }
        return {k: v for k, v in values.items() if v}

    @property
    def query(self) -> str:
        """The filter as a query string, ending with "&" when not empty, to put a cursor after."""
        text = urlencode(self.params)
        return f"{text}&" if text else ""


@dataclass
class FieldChange:
    name: str
    old: object
    new: object
    lines: list[tuple[str, str]] = field(default_factory=list)  # a small diff for multi-line text

    @property
    def before(self) -> str:
        return show_value(self.old, self.name)

    @property
    def after(self) -> str:
        return show_value(self.new, self.name)


@dataclass
class Change:
    kind: str  # "alias", "domain" or "security"
    record: Any
    domain_name: str
    label: str
    changes: list[FieldChange]
    when: datetime | None = None
    who: str = ""
    action: StrOrPromise = ""  # security events: what happened, in words (translated)


@dataclass
class AuditPage:
    changes: list[Change]
    newer: str = ""  # cursor for the page of newer changes ("" when this is the newest)
    older: str = ""
    unknown: list[str] = field(default_factory=list)  # filter values that match nothing


def _table(kind: str) -> Any:
    """The historical model of aliases or of domains (made by simple-history, so untyped)."""
    if kind == "security":
        return SecurityEvent
    model = Alias if kind == "alias" else Domain
    return model.history.model


def _position_field(kind: str) -> str:
    return "id" if kind == "security" else "history_id"


def _position(kind: str, record: Any) -> int:
    return int(record.pk if kind == "security" else record.history_id)


def _when(kind: str, record: Any) -> datetime:
    return record.at if kind == "security" else record.history_date  # type: ignore[no-any-return]


def _filtered_events(wanted: AuditFilter, user_id: int | None, domain_id: int | None) -> QuerySet[Any]:
    rows = SecurityEvent.objects.select_related("domain")
    if wanted.user == "-":
        rows = rows.filter(actor__isnull=True)
    elif wanted.user:
        rows = rows.filter(Q(actor_id=user_id) | Q(subject_id=user_id))
    if wanted.domain:
        rows = rows.filter(domain_id=domain_id or 0)
    tz = timezone.get_current_timezone()
    if wanted.since:
        rows = rows.filter(at__gte=datetime.combine(wanted.since, time.min, tz))
    if wanted.until:
        rows = rows.filter(at__lt=datetime.combine(wanted.until + timedelta(days=1), time.min, tz))
    return rows


def _filtered(kind: str, wanted: AuditFilter, user_id: int | None, domain_id: int | None) -> QuerySet[Any]:
    if kind == "security":
        return _filtered_events(wanted, user_id, domain_id)
    related = ("history_user", "domain") if kind == "alias" else ("history_user",)
    rows: QuerySet[Any] = _table(kind).objects.select_related(*related)
    if wanted.user == "-":
        rows = rows.filter(history_user__isnull=True)
    elif wanted.user:
        rows = rows.filter(history_user_id=user_id)
    if wanted.domain:
        rows = rows.filter(domain_id=domain_id) if kind == "alias" else rows.filter(id=domain_id)
    if wanted.change:
        rows = rows.filter(history_change_reason__startswith=offboarding_reason_prefix(wanted.change))
    tz = timezone.get_current_timezone()
    if wanted.since:
        rows = rows.filter(history_date__gte=datetime.combine(wanted.since, time.min, tz))
    if wanted.until:
        rows = rows.filter(history_date__lt=datetime.combine(wanted.until + timedelta(days=1), time.min, tz))
    return rows


def _merge(streams: dict[str, list[Any]], size: int, older: bool) -> list[tuple[str, Any]]:
    """Take up to ``size`` rows from the heads of the streams, the newest (or oldest) first.

    Only heads are compared, so each table is consumed in its own order and a page
    always ends at one clean position per table.
    """
    heads = {kind: 0 for kind in streams}
    taken: list[tuple[str, Any]] = []
    while len(taken) < size:
        ready = [kind for kind in streams if heads[kind] < len(streams[kind])]
        if not ready:
            break

        def key(kind: str) -> tuple[datetime, int]:
            return _when(kind, streams[kind][heads[kind]]), KIND_ORDER.index(kind)

        kind = max(ready, key=key) if older else min(ready, key=key)
        taken.append((kind, streams[kind][heads[kind]]))
        heads[kind] += 1
    return taken


def _named(wanted: AuditFilter) -> tuple[int | None, int | None, list[str]]:
    """The ids of the filter's user and domain, and what it names that does not exist."""
    unknown: list[str] = []
    user_id = domain_id = None
    if wanted.user and wanted.user != "-":
        user_id = User.objects.filter(username=wanted.user).values_list("pk", flat=True).first()
        if user_id is None:
            unknown.append(gettext("no user called %(name)s") % {"name": wanted.user})
    if wanted.domain:
        domain_id = Domain.objects.filter(name=wanted.domain).values_list("pk", flat=True).first()
        if domain_id is None:
            unknown.append(gettext("no domain called %(name)s") % {"name": wanted.domain})
    return user_id, domain_id, unknown


def audit_page(
    wanted: AuditFilter, *, before: Cursor | None = None, after: Cursor | None = None, size: int = PAGE_SIZE
) -> AuditPage:
    """One page of changes, newest first: the newest ones, or those just older than
    ``before``, or those just newer than ``after``.

    A cursor holds one position (history_id, or id) per table: ``before`` pages show rows below it,
    ``after`` pages rows above it.
    """
    user_id, domain_id, unknown = _named(wanted)
    if unknown:
        return AuditPage([], unknown=unknown)

    older = after is None
    bound = before or after or {kind: _NO_LIMIT for kind in KIND_ORDER}
    kinds = list(KIND_ORDER) if wanted.kind == "all" else [wanted.kind]
    if wanted.change:  # an offboarding changes aliases only
        kinds = [kind for kind in kinds if kind == "alias"]
    streams: dict[str, list[Any]] = {}
    for kind in kinds:
        rows = _filtered(kind, wanted, user_id, domain_id)
        field = _position_field(kind)
        if older:
            rows = rows.filter(**{f"{field}__lt": bound[kind]}).order_by(f"-{field}")
        else:
            rows = rows.filter(**{f"{field}__gt": bound[kind]}).order_by(field)
        streams[kind] = list(rows[: size + 1])
    taken = _merge(streams, size, older)
    more = len(taken) < sum(len(rows) for rows in streams.values())
    if not older:
        taken.reverse()
    page = AuditPage(_with_changes(taken))
    if not taken:
        return page
    shown: dict[str, list[int]] = {kind: [] for kind in KIND_ORDER}
    for kind, record in taken:
        shown[kind].append(_position(kind, record))
    # For a table without a row on this page, the edge stays where the page started.
    older_edge = {k: min(ids) if ids else (bound[k] if older else bound[k] + 1) for k, ids in shown.items()}
    newer_edge = {k: max(ids) if ids else (bound[k] - 1 if older else bound[k]) for k, ids in shown.items()}
    if older:
        page.older = encode_cursor(older_edge) if more else ""
        page.newer = encode_cursor(newer_edge) if before is not None else ""
    else:
        page.newer = encode_cursor(newer_edge) if more else ""
        page.older = encode_cursor(older_edge)
    return page


def _previous(kind: str, records: list[Any]) -> dict[int, Any]:
    """For each record (by history_id), the record of the same object just before it."""
    if not records:
        return {}
    table = _table(kind)
    earlier = (
        table.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values("history_id")[:1]
    )
    pairs = dict(
        table.objects.filter(history_id__in=[r.history_id for r in records])
        .annotate(prev_id=Subquery(earlier))
        .values_list("history_id", "prev_id")
    )
    prev_rows = {r.history_id: r for r in table.objects.filter(history_id__in=[p for p in pairs.values() if p])}
    return {hid: prev_rows[p] for hid, p in pairs.items() if p in prev_rows}


def _text_diff(old: str, new: str) -> list[tuple[str, str]]:
    lines = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        css = "hunk" if line.startswith("@@") else {"+": "add", "-": "del"}.get(line[:1], "")
        lines.append((css, line))
    return lines


def field_changes(kind: str, record: Any, prev: Any | None) -> list[FieldChange]:
    """Before and after of each tracked field that differs from the previous record."""
    result = []
    for name in TRACKED[kind]:
        new = getattr(record, name)
        if record.history_type == "-":
            continue
        if prev is None:
            # A creation: the label names the alias, and switched on is the default.
            if record.history_type == "+" and (
                new in (None, "") or (kind == "alias" and name == "key") or new is True
            ):
                continue
            old = None
        else:
            old = getattr(prev, name)
            if old == new:
                continue
        lines: list[tuple[str, str]] = []
        if isinstance(new, str) and ("\n" in new or (isinstance(old, str) and "\n" in old)):
            lines = _text_diff(old or "", new)
        result.append(FieldChange(name, old, new, lines))
    return result


def _event_change(event: SecurityEvent) -> Change:
    """A security event as a row of the log: its before/after fields side by side."""
    before, after = event.before or {}, event.after or {}
    fields = [
        FieldChange(name, before.get(name), after.get(name))
        for name in [*before, *(k for k in after if k not in before)]
        if name != "domain" and before.get(name) != after.get(name)
    ]
    domain_name = event.domain.name if event.domain else str(after.get("domain") or before.get("domain") or "")
    return Change(
        "security", event, domain_name, event.subject_name, fields,
        when=event.at, who=event.actor_name, action=ACTIONS.get(event.action, event.action),
    )


def _with_changes(found: list[tuple[str, Any]]) -> list[Change]:
    prevs = {
        kind: _previous(kind, [r for k, r in found if k == kind])
        for kind in {k for k, _ in found} if kind != "security"
    }
    changes = []
    for kind, record in found:
        if kind == "security":
            changes.append(_event_change(record))
            continue
        prev = prevs[kind].get(record.history_id)
        if kind == "alias":
            domain_name = record.domain.name if record.domain_id and record.domain else ""
            label = record.key
        else:
            domain_name = label = record.name
        who = record.history_user.get_username() if record.history_user else ""
        fields = field_changes(kind, record, prev)
        changes.append(Change(kind, record, domain_name, label, fields, when=record.history_date, who=who))
    return changes
