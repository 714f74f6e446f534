"""Roll a whole domain back to a point in its history (an earlier deploy): its aliases as they
were then, and, for administrators, its header and footer.

The past comes from the history (django-simple-history): each alias's last record at that
point. Every difference becomes a change made through the ordinary services (permission,
key ownership, input policy, limits), all in one transaction: when one change is refused,
nothing is applied and every refusal is listed. Each change carries the same history reason
("rollback to deploy #12 of 2026-12-03 10:00"), and each bumps the domain's serial, so the
next deploy (or deploy on save) installs the rolled-back map.

This app knows nothing of deploys (tests/test_layers.py): the caller names the point as a
``PointInTime``, a serial and a time with a label (aliasdesk/deploys/rollback.py makes one
from a Deploy).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aliasdesk.accounts.models import User
from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import acts_as_admin, require_editor
from aliasdesk.aliases.render import fetch_rows
from aliasdesk.aliases.services import create_alias, restore_alias, soft_delete_alias, update_alias
from aliasdesk.postfix.maps.virtual import render_virtual

FIELDS = ("key", "destinations", "enabled", "comment", "valid_until")
RESTORE, REMOVE, CHANGE = "restore", "remove", "change"
KEPT_TEXT = gettext_lazy("the header and footer are for administrators: they stay as they are now")


@dataclass(frozen=True)
class PointInTime:
    """Where to go back to: the domain's serial then and the time, and how to name it.

    History records that carry a serial are placed by it (exact: a change saved while a
    deploy ran is after it even if it committed before the deploy finished); records
    without one (written before serials existed, purges, the domain's own settings) by
    ``when``.
    """

    serial: int
    when: datetime.datetime
    label: str  # in the reader's language, for pages
    record: str = ""  # the label in English, for the history reason (default: label)

    @property
    def reason(self) -> str:
        """What each changed alias's history records: in English, whoever rolled back."""
        return f"rollback to {self.record or self.label}"


@dataclass(frozen=True)
class AliasState:
    key: str
    destinations: str
    enabled: bool
    comment: str
    valid_until: datetime.date | None

    def row(self) -> tuple[str, str, bool, str]:
        return (self.key, self.destinations, self.enabled, self.comment)


@dataclass
class Step:
    """One alias to change: ``restore`` (deleted or purged since), ``remove`` (created since),
    ``change`` (fields differ; ``fields`` names them)."""

    kind: str
    alias_id: int
    key: str
    target: AliasState | None
    fields: tuple[str, ...] = ()


@dataclass
class RollbackPlan:
    domain: Domain
    point: PointInTime
    steps: list[Step]
    text_now: str
    text_then: str
    header: str  # what the header and footer become (the current ones when they are kept)
    footer: str
    header_footer_changed: bool = False
    header_footer_kept: bool = False  # an editor's rollback: they differ but stay
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for s in self.steps if s.kind == kind)

    @property
    def restored(self) -> int:
        return self.count(RESTORE)

    @property
    def removed(self) -> int:
        return self.count(REMOVE)

    @property
    def changed(self) -> int:
        return self.count(CHANGE)

    @property
    def empty(self) -> bool:
        return not self.steps and not self.header_footer_changed

    def summary(self) -> str:
        counts = {"restored": self.restored, "removed": self.removed, "changed": self.changed}
        if self.header_footer_changed:
            return _("{restored} restored, {removed} removed, {changed} changed, header and footer as then").format(
                **counts)
        return _("{restored} restored, {removed} removed, {changed} changed").format(**counts)


class RollbackRefused(AliasError):
    """At least one change of the rollback is refused; nothing was applied."""

    def __init__(self, domain: Domain, problems: list[str]) -> None:
        listed = "; ".join(problems[:3])
        if len(problems) > 3:
            message = _("{domain}: rollback refused, nothing changed: {problems} (and {count} more)").format(
                domain=domain.name, problems=listed, count=len(problems) - 3)
        else:
            message = _("{domain}: rollback refused, nothing changed: {problems}").format(
                domain=domain.name, problems=listed)
        super().__init__(message)
        self.problems = problems


def _at_point(point: PointInTime, kind: str, serial: int, date: datetime.datetime) -> bool:
    if kind == "-" or serial == 0 or point.serial == 0:
        return date <= point.when
    return serial <= point.serial


def states_then(domain: Domain, point: PointInTime) -> dict[int, AliasState | None]:
    """Each alias's state at ``point`` by id; None: it did not exist then (or was deleted)."""
    records = (
        Alias.history.model.objects.filter(domain_id=domain.pk)
        .order_by("history_id")
        .values_list("id", "history_type", "serial", "history_date", *FIELDS, "deleted_at")
    )
    then: dict[int, AliasState | None] = {}
    for pk, kind, serial, date, key, dests, enabled, comment, valid_until, deleted_at in records.iterator():
        if _at_point(point, kind, serial, date):
            gone = kind == "-" or deleted_at is not None
            then[pk] = None if gone else AliasState(key, dests, bool(enabled), comment, valid_until)
    return then


def _state(alias: Alias) -> AliasState:
    return AliasState(alias.key, alias.destinations, alias.enabled, alias.comment, alias.valid_until)


def plan_rollback(domain: Domain, point: PointInTime, user: User | None) -> RollbackPlan:
    """What rolling back to ``point`` would change, and the map text now and after; changes nothing."""
    domain = Domain.objects.get(pk=domain.pk)
    then = states_then(domain, point)
    now = {a.pk: a for a in Alias.objects.filter(domain_id=domain.pk).order_by("id")}
    steps: list[Step] = []
    for pk in sorted(set(then) | set(now)):
        target, current = then.get(pk), now.get(pk)
        live = current is not None and current.deleted_at is None
        if target is None:
            if live:
                assert current is not None
                steps.append(Step(REMOVE, pk, current.key, None))
        elif current is None or not live:
            steps.append(Step(RESTORE, pk, target.key, target, _differing(current, target)))
        else:
            differing = _differing(current, target)
            if differing:
                steps.append(Step(CHANGE, pk, current.key, target, differing))
    header, footer = _text_then(domain, point)
    differs = (header, footer) != (domain.header, domain.footer)
    admin = acts_as_admin(user)
    if not admin:
        header, footer = domain.header, domain.footer
    rows_then = [s.row() for _id, s in sorted(then.items()) if s is not None]
    plan = RollbackPlan(
        domain=domain,
        point=point,
        steps=steps,
        text_now=render_virtual(domain.header, fetch_rows(domain.pk), domain.footer),
        text_then=render_virtual(header, rows_then, footer),
        header=header,
        footer=footer,
        header_footer_changed=differs and admin,
        header_footer_kept=differs and not admin,
    )
    if plan.header_footer_kept:
        plan.notes.append(str(KEPT_TEXT))
    return plan


def _differing(current: Alias | None, target: AliasState) -> tuple[str, ...]:
    if current is None:
        return FIELDS
    now = _state(current)
    return tuple(name for name in FIELDS if getattr(now, name) != getattr(target, name))


def _text_then(domain: Domain, point: PointInTime) -> tuple[str, str]:
    record = domain.history.filter(history_date__lte=point.when).order_by("-history_id").first()
    if record is None:
        return domain.header, domain.footer
    return record.header, record.footer


@transaction.atomic
def rollback_domain(
    domain: Domain, point: PointInTime, user: User | None, *, expected_serial: int | None = None
) -> RollbackPlan:
    """Make the domain as it was at ``point``; returns what was done.

    ``expected_serial`` is the serial the user's preview was made at: if the domain changed
    since, nothing is applied (the preview would not be what happens). Raises
    RollbackRefused listing every refused change; PermissionDenied for a user who may not
    change the domain's aliases.
    """
    require_editor(user, domain)
    locked = Domain.objects.select_for_update().get(pk=domain.pk)
    if expected_serial is not None and locked.serial != expected_serial:
        raise RollbackRefused(locked, [_("the domain changed since the preview; look at the preview again")])
    plan = plan_rollback(locked, point, user)
    problems: list[str] = []
    order = {REMOVE: 0, CHANGE: 1, RESTORE: 2}  # free keys first, then take them
    for step in sorted(plan.steps, key=lambda s: (order[s.kind], s.alias_id)):
        try:
            _apply(locked, step, point, user)
        except (AliasError, PermissionDenied) as exc:
            problems.append(str(exc) if step.key in str(exc) else _("{key}: {problem}").format(
                key=step.key, problem=exc))
    if plan.header_footer_changed:
        problems += _apply_text(locked, plan, point, user)
    if problems:
        raise RollbackRefused(locked, problems)
    return plan


def _apply(domain: Domain, step: Step, point: PointInTime, user: User | None) -> None:
    reason = point.reason
    if step.kind == RESTORE and step.fields == FIELDS and not Alias.objects.filter(pk=step.alias_id).exists():
        # Purged since: made again under its old id, so the map keeps its order.
        target = step.target
        assert target is not None
        create_alias(
            domain, target.key, target.destinations, user=user, enabled=target.enabled, comment=target.comment,
            valid_until=target.valid_until, reason=reason, pk=step.alias_id,
        )
        return
    alias = Alias.objects.select_related("domain").get(pk=step.alias_id)
    if step.kind == REMOVE:
        soft_delete_alias(alias, version=alias.version, user=user, reason=reason)
        return
    assert step.target is not None
    changes: dict[str, Any] = {name: getattr(step.target, name) for name in step.fields}
    if step.kind == RESTORE:
        restore_alias(alias, version=alias.version, user=user, reason=reason, **changes)
    else:
        update_alias(alias, version=alias.version, user=user, reason=reason, **changes)


def _apply_text(domain: Domain, plan: RollbackPlan, point: PointInTime, user: User | None) -> list[str]:
    current = Domain.objects.get(pk=domain.pk)
    wanted = ds.DomainSettings.of(current)
    wanted.header, wanted.footer = plan.header, plan.footer
    try:
        ds.update_domain_settings(current, wanted, version=current.version, user=user, reason=point.reason)
    except (ds.SettingsRefused, ds.StaleSettings) as exc:
        return [_("header and footer: {problem}").format(problem=exc)]
    return []
