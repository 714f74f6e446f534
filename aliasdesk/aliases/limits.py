"""Per-domain limits an administrator sets: how many aliases a map may hold, how many
destinations one alias may have.

A limit refuses what would go beyond it, for everyone (administrators and the command
line included) and on every path that writes: a new alias, a restore, a switch-on, new
destinations, a paste, an import, a bulk change, a rollback. It never refuses switching
off or deleting, and never touches what exists: a limit lowered below the current use is
allowed and shown as a warning, the rows stay, new ones are refused.

Aliases count while they are not deleted (switched-off ones too: they stand in the map as
comment lines and can be switched on at any time). The services call these checks after
``bump_serial`` has locked the domain row, so two writers cannot both take the last place.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.postfix.maps.virtual import split_destinations


class LimitExceeded(AliasError):
    """A change would go beyond one of the domain's limits; nothing of it was written."""


@dataclass(frozen=True)
class Limits:
    name: str
    max_aliases: int | None
    max_destinations: int | None

    @property
    def any(self) -> bool:
        return self.max_aliases is not None or self.max_destinations is not None


def limits_of(domain: Domain, *, lock: bool = False) -> Limits:
    """The domain's limits as stored now (the caller's copy of the row may be older).

    ``lock`` (inside a transaction) locks the domain row, as ``bump_serial`` does, so the
    aliases counted next cannot grow before the caller's change commits.
    """
    rows = Domain.objects.filter(pk=domain.pk)
    if lock:
        rows = rows.select_for_update()
    max_aliases, max_destinations = rows.values_list("max_aliases", "max_destinations").get()
    return Limits(domain.name, max_aliases, max_destinations)


def alias_count(domain: Domain) -> int:
    """The aliases that count against ``max_aliases``: every one not deleted."""
    return Alias.objects.filter(domain_id=domain.pk, deleted_at__isnull=True).count()


def destination_count(destinations: str) -> int:
    return len(split_destinations(destinations))


def check_room(domain: Domain, adding: int, *, limits: Limits | None = None, what: str = "") -> None:
    """Refuse ``adding`` more aliases when the domain would then hold more than its maximum.

    ``what`` says what the change adds, translated, with ``{count}`` for the number
    (``_("the paste adds {count} more")``).
    """
    limits = limits or limits_of(domain)
    if limits.max_aliases is None or adding <= 0:
        return
    count = alias_count(domain)
    if count + adding > limits.max_aliases:
        message = ngettext(
            "{domain} allows at most {limit} aliases; {count} exists",
            "{domain} allows at most {limit} aliases; {count} exist",
            count,
        ).format(domain=limits.name, limit=limits.max_aliases, count=count)
        if what:
            message = _("{problem}; {change}").format(problem=message, change=what.format(count=adding))
        raise LimitExceeded(message, "key")


def check_destinations(domain: Domain, destinations: str, *, limits: Limits | None = None, key: str = "") -> None:
    """Refuse destinations (as stored: joined by ", ") beyond the domain's maximum per alias."""
    limits = limits or limits_of(domain)
    problem = destinations_problem(limits, destinations, key)
    if problem:
        raise LimitExceeded(problem, "destinations")


def destinations_problem(limits: Limits, destinations: str, key: str = "") -> str:
    """The message for too many destinations, or "" when they fit."""
    if limits.max_destinations is None:
        return ""
    count = destination_count(destinations)
    if count <= limits.max_destinations:
        return ""
    if key:
        return _("{domain} allows at most {limit} destinations per alias; {key} has {count}").format(
            domain=limits.name, limit=limits.max_destinations, key=key, count=count)
    return _("{domain} allows at most {limit} destinations per alias; this one has {count}").format(
        domain=limits.name, limit=limits.max_destinations, count=count)


def final_count_problem(limits: Limits, final: int, what: str) -> str:
    """The message when a change that sets the whole set of aliases (an import with
    --replace) would leave ``final`` of them; "" when they fit. ``what`` says so, translated,
    with ``{count}`` for the number (``_("the file holds {count}")``)."""
    if limits.max_aliases is None or final <= limits.max_aliases:
        return ""
    return _("{domain} allows at most {limit} aliases; {change}").format(
        domain=limits.name, limit=limits.max_aliases, change=what.format(count=final))


@dataclass
class Overuse:
    """What exists beyond a lowered limit: the rows stay, new ones are refused."""

    aliases: int = 0  # how many aliases count, when above max_aliases (else 0)
    wide: int = 0  # aliases with more destinations than max_destinations
    wide_keys: tuple[str, ...] = ()

    def messages(self, limits: Limits) -> list[str]:
        found = []
        if self.aliases:
            found.append(_(
                "{domain} holds {count} aliases, more than its limit of {limit}: they stay, but new aliases and "
                "restores are refused until enough are deleted"
            ).format(domain=limits.name, count=self.aliases, limit=limits.max_aliases))
        if self.wide:
            keys = ", ".join(self.wide_keys) + (" …" if self.wide > len(self.wide_keys) else "")
            found.append(ngettext(
                "{count} alias has more than {limit} destinations ({keys}): it stays as it is, but its destinations "
                "can only be saved within the limit",
                "{count} aliases have more than {limit} destinations ({keys}): they stay as they are, but their "
                "destinations can only be saved within the limit",
                self.wide,
            ).format(count=self.wide, limit=limits.max_destinations, keys=keys))
        return found


def overuse(domain: Domain, limits: Limits | None = None, *, show: int = 5) -> Overuse:
    """How far the domain's rows go beyond its limits (a limit lowered below the current use)."""
    limits = limits or limits_of(domain)
    found = Overuse()
    if limits.max_aliases is not None:
        count = alias_count(domain)
        if count > limits.max_aliases:
            found.aliases = count
    if limits.max_destinations is not None:
        # N commas at least: the database narrows (a pattern that cannot backtrack), the
        # parser decides (a quoted destination may hold a comma itself).
        # (PostgreSQL allows bounds up to 255 only.)
        rows = Alias.objects.filter(domain_id=domain.pk, deleted_at__isnull=True).order_by("id")
        if limits.max_destinations <= 255:
            rows = rows.filter(destinations__regex=f"^([^,]*,){{{limits.max_destinations}}}")
        wide = [
            key for key, dests in rows.values_list("key", "destinations")
            if destination_count(dests) > limits.max_destinations
        ]
        found.wide, found.wide_keys = len(wide), tuple(wide[:show])
    return found


def warnings_for(domain: Domain, *, fresh: bool = False) -> list[str]:
    """The sentences a domain page shows when rows go beyond a lowered limit. ``fresh``:
    ``domain`` was read in this request, its limits are the stored ones."""
    limits = Limits(domain.name, domain.max_aliases, domain.max_destinations) if fresh else limits_of(domain)
    return overuse(domain, limits).messages(limits) if limits.any else []
