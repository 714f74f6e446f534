"""Add many aliases at once, each given as fields (the API's bulk creation and desired sets).

The checks are those of ``services.add_pasted`` (the same clean_* functions, key ownership,
limits, duplicates), all of them or none; the rows go in through the importer's bulk insert
(``importer.bulk_insert_aliases``), which writes each alias and its "created" history record
in a few statements: thousands of aliases in well under a second, where one
``create_alias`` per row takes milliseconds each.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.accounts.models import User
from aliasdesk.aliases.bulk_insert import bulk_insert_aliases
from aliasdesk.aliases.limits import LimitExceeded, check_destinations, check_room, limits_of
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import KeyNotAllowed, Owners, authorize_key, claim_mail_domains, require_editor
from aliasdesk.aliases.services import AliasError, bump_serial, clean_alias
from aliasdesk.postfix.maps.virtual import Entry

MAX_ITEMS = 100_000


@dataclass(frozen=True)
class NewAlias:
    key: str
    destinations: list[str] | str
    enabled: bool = True
    comment: str = ""


@dataclass(frozen=True)
class ItemProblem:
    """Why item ``index`` (counted from 0) cannot be added; ``field`` as AliasError's."""

    index: int
    field: str
    message: str
    refused: bool = False  # the key is not this user's to write (KeyNotAllowed), not a bad input


class BulkRefused(AliasError):
    """Some items cannot be added; nothing was. ``problems`` lists every one."""

    def __init__(self, problems: list[ItemProblem]) -> None:
        first = problems[0]
        problem = first.message
        if first.index >= 0:
            problem = _("item {index}: {message}").format(index=first.index, message=first.message)
        if len(problems) > 1:
            message = ngettext("nothing was added: {problem} (and {count} more problem)",
                               "nothing was added: {problem} (and {count} more problems)",
                               len(problems) - 1).format(problem=problem, count=len(problems) - 1)
        else:
            message = _("nothing was added: {problem}").format(problem=problem)
        super().__init__(message)
        self.problems = problems


@dataclass
class Added:
    added: int
    claimed: list[str]


@dataclass(frozen=True)
class CleanAlias:
    key: str
    destinations: str
    enabled: bool
    comment: str


def clean_new_aliases(domain: Domain, items: list[NewAlias]) -> tuple[list[CleanAlias], list[ItemProblem]]:
    """Each item as it would be stored (the services' clean_* functions), and every problem."""
    clean: list[CleanAlias] = []
    problems: list[ItemProblem] = []
    for index, item in enumerate(items):
        try:
            key, dests, comment = clean_alias(domain, item.key, item.destinations, item.comment)
        except AliasError as exc:
            problems.append(ItemProblem(index, exc.field, str(exc)))
            continue
        clean.append(CleanAlias(key, dests, item.enabled, comment))
    return clean, problems


@transaction.atomic
def add_aliases(
    domain: Domain,
    items: list[NewAlias],
    *,
    user: User | None,
    reason: str = "added in bulk",
    lines: list[int] | None = None,
    what: str = "",
) -> Added:
    """Add ``items`` to the domain: all of them, or none (BulkRefused lists every problem).

    ``lines``: where each item was written (a paste's line numbers), for the messages about
    repeated keys; ``what`` says what the whole adds, in the message about the domain's room
    (see ``limits.check_room``; "the request adds {count} more" when not given).
    """
    require_editor(user, domain)
    if not items:
        raise BulkRefused([ItemProblem(-1, "", _("nothing to add: give at least one alias"))])
    if len(items) > MAX_ITEMS:
        raise BulkRefused([ItemProblem(-1, "", _("at most {count} aliases in one request").format(
            count=f"{MAX_ITEMS:,}"))])
    clean, problems = clean_new_aliases(domain, items)
    bad = {p.index for p in problems}
    indexes = [i for i in range(len(items)) if i not in bad] if problems else None
    # Locks the domain row first, as create_alias does: adds to one domain serialize.
    serial = bump_serial(domain, user=user, rows=True)
    limits = limits_of(domain, lock=True)
    live = set(Alias.objects.filter(domain=domain, deleted_at__isnull=True).values_list("key_folded", flat=True))
    seen: dict[str, int] = {}
    owners = Owners()
    claims: list[str] = []
    for position, row in enumerate(clean):
        index = indexes[position] if indexes is not None else position
        try:
            check_destinations(domain, row.destinations, limits=limits, key=row.key)
            claim = authorize_key(user, domain, row.key, owners=owners)
        except AliasError as exc:
            problems.append(ItemProblem(index, exc.field or "key", str(exc), isinstance(exc, KeyNotAllowed)))
            continue
        if claim and claim not in claims:
            claims.append(claim)
        folded = row.key.lower()
        if folded in live:
            problems.append(ItemProblem(index, "key", _("{key} exists already in {domain}").format(
                key=row.key, domain=domain.name)))
        elif folded in seen:
            if lines:
                message = _("{key} is on line {line} already").format(key=row.key, line=lines[seen[folded]])
            else:
                message = _("{key} is item {index} already").format(key=row.key, index=seen[folded])
            problems.append(ItemProblem(index, "key", message))
        seen.setdefault(folded, index)
    try:
        check_room(domain, len(items), limits=limits, what=what or _("the request adds {count} more"))
    except LimitExceeded as exc:
        problems.append(ItemProblem(-1, "", str(exc)))
    if problems:
        raise BulkRefused(sorted(problems, key=lambda p: p.index))
    claimed = claim_mail_domains(domain, claims, user=user, reason="keys of it added in bulk") if claims else []
    entries = [Entry(r.key, r.destinations, r.enabled, r.comment, i + 1) for i, r in enumerate(clean)]
    bulk_insert_aliases(domain, entries, user, reason, serial)
    return Added(len(entries), claimed)
