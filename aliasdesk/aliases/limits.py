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

    ``what`` names the change for a message about several ("the paste adds 5").
    """
    limits = limits or limits_of(domain)
    if limits.max_aliases is None or adding <= 0:
        return
    count = alias_count(domain)
    if count + adding > limits.max_aliases:
        more = f"; {what} {adding} more" if what else ""
        exist = "exists" if count == 1 else "exist"
        raise LimitExceeded(
            f"{limits.name} allows at most {limits.max_aliases} aliases; {count} {exist}{more}", "key"
        )


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
    which = key if key else "this one"
    return f"{limits.name} allows at most {limits.max_destinations} destinations per alias; {which} has {count}"


def final_count_problem(limits: Limits, final: int, what: str) -> str:
    """The message when a change that sets the whole set of aliases (an import with
    --replace) would leave ``final`` of them; "" when they fit."""
    if limits.max_aliases is None or final <= limits.max_aliases:
        return ""
    return f"{limits.name} allows at most {limits.max_aliases} aliases; {what} {final}"


@dataclass
class Overuse:
    """What exists beyond a lowered limit: the rows stay, new ones are refused."""

    aliases: int = 0  # how many aliases count, when above max_aliases (else 0)
    wide: int = 0  # aliases with more destinations than max_destinations
    wide_keys: tuple[str, ...] = ()

    def messages(self, limits: Limits) -> list[str]:
        found = []
        if self.aliases:
            found.append(
                f"{limits.name} holds {self.aliases} aliases, more than its limit of {limits.max_aliases}: "
                "they stay, but new aliases and restores are refused until enough are deleted"
            )
        if self.wide:
            keys = ", ".join(self.wide_keys) + (" …" if self.wide > len(self.wide_keys) else "")
            found.append(
                f"{self.wide} alias(es) have more than {limits.max_destinations} destinations ({keys}): "
                "they stay as they are, but their destinations can only be saved within the limit"
            )
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


def warnings_for(domain: Domain) -> list[str]:
    """The sentences a domain page shows when rows go beyond a lowered limit."""
    limits = limits_of(domain)
    return overuse(domain, limits).messages(limits) if limits.any else []
