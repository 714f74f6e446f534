"""What an import reports: what it changed (or a dry run would), and why one was refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Domain
from aliasdesk.postfix.maps.virtual import Problem

DETAILS = 1000  # changes of each kind a report keeps by name (its counts hold them all)
KINDS = ("added", "changed", "switched off", "deleted")


class ImportRefused(AliasError):
    """The file has errors; nothing was imported. ``problems`` lists every one."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        problems = sorted(problems, key=lambda p: p.line)  # in line order, the whole file's first
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(ngettext("{source}: {count} error, nothing imported: {errors}",
                                  "{source}: {count} errors, nothing imported: {errors}",
                                  len(errors)).format(source=source, count=len(errors),
                                                      errors="; ".join(map(str, errors[:5]))))
        self.problems = problems


class StalePreview(AliasError):
    """The domain changed since the preview was made: applying it could undo someone's change."""

    def __init__(self, domain: str) -> None:
        super().__init__(_(
            "{domain} changed since this preview was made; nothing was applied. Upload the file again to see what "
            "it would change now."
        ).format(domain=domain))


@dataclass(frozen=True)
class Change:
    """One alias an import adds, changes, switches off or deletes: its line (0: not in the
    file) and its routing before and after, as text."""

    line: int
    key: str
    before: str
    after: str


@dataclass
class ImportReport:
    domain: Domain
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    disabled: int = 0
    problems: list[Problem] = field(default_factory=list)
    serial: int = 0  # the domain's serial before the import
    changes: dict[str, list[Change]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def note(self, kind: str, changes: Iterable[Change]) -> None:
        """Count ``changes`` of ``kind``, keeping the first DETAILS of them by name."""
        kept = self.changes[kind]
        for change in changes:
            self.counts[kind] += 1
            if len(kept) < DETAILS:
                kept.append(change)
