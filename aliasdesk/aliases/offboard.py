"""Offboarding: replace one destination by another, or remove it, in every alias a user may edit.

One function serves the web page, the API and ``aliasdesk offboard``. ``plan_offboarding``
finds the aliases (the search across domains narrows them down; destinations then compare as
Postfix compares them: aliasdesk.postfix.maps.destinations) and says what would happen to
each; ``offboard`` applies the plan in one transaction, every change through
``services.update_alias`` (permission, key ownership, input policy, limits, history), each
history entry with the same reason: ``offboarding #<change id>: old → new``. Either every
planned alias changes or none does.

Aliases the user may see but not change, and changes the domain's policy or limits refuse,
are listed as skipped and never touched. An alias left without destinations (``remove`` of
its only one) is refused, unless the caller asks to switch such aliases off instead.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.accounts.models import User
from aliasdesk.aliases.access import can_edit, visible_domains
from aliasdesk.aliases.across import search_across
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.limits import destinations_problem, limits_of
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import Owners, untouchable_reason
from aliasdesk.aliases.services import clean_destinations, update_alias
from aliasdesk.postfix.maps.destinations import destination_form, replace_destination
from aliasdesk.postfix.maps.expansion import listed_names
from aliasdesk.postfix.maps.virtual import split_destinations

CHANGE = "change"
SWITCH_OFF = "switch off"
EMPTY = "left without destinations"
SKIPPED = "skipped"
# A change's id: eight hex digits, made for each preview; the apply of that preview keeps it.
CHANGE_ID = re.compile(r"[0-9a-f]{8}")


def offboarding_reason_prefix(change_id: str) -> str:
    """How each history reason of one offboarding begins (the audit log filters on it)."""
    return f"offboarding #{change_id}:"


@dataclass
class Item:
    """One alias holding the old destination, and what the offboarding does to it."""

    alias_id: int
    domain: str
    key: str
    version: int
    enabled: bool
    before: list[str]
    after: list[str]
    outcome: str  # CHANGE, SWITCH_OFF, EMPTY (refused) or SKIPPED
    reason: str = ""


@dataclass
class Deploy:
    domain: str
    deploy_on_save: bool
    url: str


@dataclass
class Offboarding:
    """The plan (a dry run) or what was done: every alias found, by what happens to it."""

    old: str
    new: str | None
    change_id: str
    switch_off_empty: bool
    items: list[Item] = field(default_factory=list)
    applied: bool = False
    deploys: list[Deploy] = field(default_factory=list)

    def of(self, outcome: str) -> list[Item]:
        return [i for i in self.items if i.outcome == outcome]

    @property
    def changes(self) -> list[Item]:
        return [i for i in self.items if i.outcome in (CHANGE, SWITCH_OFF)]

    @property
    def refused(self) -> list[Item]:
        return self.of(EMPTY)

    @property
    def skipped(self) -> list[Item]:
        return self.of(SKIPPED)

    @property
    def reason(self) -> str:
        """The history reason every changed alias gets: it ties them together as one change."""
        what = f"{self.old} → {self.new}" if self.new else f"{self.old} removed"
        return f"{offboarding_reason_prefix(self.change_id)} {what}"

    @property
    def domains(self) -> list[str]:
        return sorted({i.domain for i in self.changes})

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "change_id": self.change_id,
            "reason": self.reason,
            "applied": self.applied,
            "switch_off_empty": self.switch_off_empty,
            "changed": [asdict(i) for i in self.changes],
            "refused": [asdict(i) for i in self.refused],
            "skipped": [asdict(i) for i in self.skipped],
            "domains": self.domains,
            "deploys": [asdict(d) for d in self.deploys],
        }


class OffboardRefused(AliasError):
    """Nothing changed: some aliases would be left without destinations. ``plan`` lists them."""

    def __init__(self, plan: Offboarding) -> None:
        keys = listed_names([f"{i.key} ({i.domain})" for i in plan.refused])
        count = len(plan.refused)
        super().__init__(
            ngettext(
                "nothing changed: {count} alias would be left without destinations: {keys}; switch it off instead, "
                "or give it another destination first",
                "nothing changed: {count} aliases would be left without destinations: {keys}; switch them off "
                "instead, or give them another destination first",
                count,
            ).format(count=count, keys=keys),
            "old",
        )
        self.plan = plan


def _address(text: str, what: str) -> str:
    tokens = split_destinations(text.strip())
    if len(tokens) != 1:
        if what == "old":
            raise AliasError(_("old: give one address, e.g. bob@example.org"), what)
        raise AliasError(_("new: give one address, e.g. bob@example.org"), what)
    clean_destinations(tokens)  # the syntax every destination must have
    return tokens[0]


def candidate_words(old: str) -> list[str]:
    """Words every spelling of ``old`` holds (quoted or not, any letter case), for the index."""
    plain = old.replace('"', "").replace("\\", "")
    at = plain.rfind("@")
    local, domain = (plain[:at], plain[at:].rstrip(".")) if at >= 0 else (plain, "")
    return [w for w in re.split(r"\s+", local) if w] + ([domain] if len(domain) > 1 else [])


def plan_offboarding(
    user: User | None, old: str, new: str | None = None, *, switch_off_empty: bool = False, change_id: str = ""
) -> Offboarding:
    """What replacing (``new``) or removing (``new`` None) ``old`` would do to each alias ``user`` may see."""
    old = _address(old, "old")
    new = _address(new, "new") if new is not None else None
    if new is not None and destination_form(new) == destination_form(old):
        raise AliasError(_("the new destination is the old one"), "new")
    change_id = change_id if CHANGE_ID.fullmatch(change_id) else secrets.token_hex(4)
    plan = Offboarding(old, new, change_id, switch_off_empty)
    domains = Domain.objects.filter(deleted_at__isnull=True) if user is None else visible_domains(user)
    rows = search_across(domains, candidate_words(old)).select_related("domain").order_by("domain__name", "id")
    owners = Owners()
    editable: dict[int, bool] = {}
    limits: dict[int, Any] = {}
    # A plain read, not .iterator(): PostgreSQL plans a server-side cursor for its first rows,
    # and leaves the text index for a walk of every domain (seconds instead of milliseconds).
    for alias in rows:
        before = split_destinations(alias.destinations)
        after = replace_destination(before, old, new)
        if after is None:
            continue  # the words matched, the address did not (another address holds them)
        domain = alias.domain
        item = Item(alias.pk, domain.name, alias.key, alias.version, alias.enabled, before, after, CHANGE)
        plan.items.append(item)
        if domain.pk not in editable:
            editable[domain.pk] = user is None or can_edit(user, domain)
        if not editable[domain.pk]:
            item.outcome, item.reason = SKIPPED, _("you may not change the aliases of {domain}").format(
                domain=domain.name)
            continue
        locked = untouchable_reason(user, alias, owners)
        if locked:
            item.outcome, item.reason = SKIPPED, locked
            continue
        if not after:
            item.outcome, item.after = (SWITCH_OFF, before) if switch_off_empty else (EMPTY, [])
            continue
        try:
            stored = clean_destinations(after, domain)
        except AliasError as exc:
            item.outcome, item.reason = SKIPPED, str(exc)
            continue
        if domain.pk not in limits:
            limits[domain.pk] = limits_of(domain)
        problem = destinations_problem(limits[domain.pk], stored, alias.key)
        if problem:
            item.outcome, item.reason = SKIPPED, problem
    return plan


def offboard(
    user: User | None,
    old: str,
    new: str | None = None,
    *,
    switch_off_empty: bool = False,
    dry_run: bool = False,
    expected: dict[int, int] | None = None,
    change_id: str = "",
) -> Offboarding:
    """Plan the offboarding and, unless ``dry_run``, apply it: all of it or nothing.

    ``expected`` (alias id -> version, from a preview the user confirmed) refuses the apply
    when the plan differs: an alias changed since (StaleEdit) or one more holds the address;
    ``change_id`` is that preview's, so the history names the change the user saw.
    OffboardRefused when aliases would be left without destinations.
    """
    with transaction.atomic():
        plan = plan_offboarding(user, old, new, switch_off_empty=switch_off_empty, change_id=change_id)
        if dry_run:
            return plan
        if plan.refused:
            raise OffboardRefused(plan)
        if expected is not None:
            _check_expected(plan, expected)
        for item in plan.changes:
            alias = Alias(pk=item.alias_id)
            version = item.version if expected is None else expected[item.alias_id]
            if item.outcome == SWITCH_OFF and not item.enabled:
                continue  # off already: nothing to write
            if item.outcome == SWITCH_OFF:
                update_alias(alias, version=version, user=user, reason=plan.reason, enabled=False)
            else:
                update_alias(alias, version=version, user=user, reason=plan.reason, destinations=item.after)
        plan.applied = True
    plan.deploys = deploys_for(plan.domains)
    return plan


def _check_expected(plan: Offboarding, expected: dict[int, int]) -> None:
    planned = {i.alias_id for i in plan.changes}
    if planned - set(expected):
        raise AliasError(
            _("nothing changed: more aliases hold the address than the preview showed; look at the preview again"),
            "old",
        )


def deploys_for(names: list[str]) -> list[Deploy]:
    """Where each changed domain is deployed: its deploy page (done already with deploy on save)."""
    domains = Domain.objects.filter(name__in=names).order_by("name")
    return [Deploy(d.name, d.deploy_on_save, reverse("deploy-preview", args=[d.name])) for d in domains]
