"""Writing a checked import into its domain: new rows in bulk, changes and removals one by one.

The importer (importer.import_source) has checked rights, keys, input policy and limits
before anything here runs, inside the same transaction; this module writes and records in
the ImportReport what it did, alias by alias, for a preview.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User
from aliasdesk.aliases.bulk_insert import bulk_insert_aliases
from aliasdesk.aliases.import_report import Change, ImportRefused, ImportReport
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import Owners, acts_as_admin, untouchable_reason
from aliasdesk.aliases.services import save_change
from aliasdesk.postfix.maps.virtual import Entry, Problem


class Writer:
    """Writes the checked entries of one import into the domain, recording what changes.

    ``dry``: a preview (the caller rolls the transaction back): the aliases are compared and
    counted but not written, which spares a large preview the inserts it would undo.
    """

    def __init__(
        self,
        domain: Domain,
        user: User | None,
        report: ImportReport,
        serial: int,
        reason: str,
        valid_until: dict[int, datetime.date | None] | None,
        *,
        dry: bool = False,
    ) -> None:
        self.domain, self.user, self.report, self.serial = domain, user, report, serial
        self.reason, self.valid_until, self.dry = reason, valid_until, dry

    def append(self, entries: list[Entry], header: str, footer: str) -> None:
        domain = self.domain
        live = set(
            Alias.objects.filter(domain=domain, deleted_at__isnull=True, enabled=True).values_list(
                "key_folded", flat=True
            )
        )
        clashes = [
            Problem(e.line, f'"{e.key}" exists already in {domain.name} (use --replace to take the whole file)')
            for e in entries
            if e.enabled and e.folded_key in live
        ]
        if clashes:
            raise ImportRefused(str(domain), clashes)
        _take_header_footer(domain, header, footer, self.user, self.report, always=False)
        self._insert(entries)

    def _insert(self, entries: list[Entry]) -> None:
        report = self.report
        if self.dry:
            report.created = len(entries)
        else:
            report.created = bulk_insert_aliases(
                self.domain, entries, self.user, self.reason, self.serial, self.valid_until
            )
        ends = self.valid_until or {}
        report.note("added", (Change(e.line, e.key, "", _shown(e.value, e.enabled, ends.get(e.line))) for e in entries))

    def merge(self, entries: list[Entry], header: str, footer: str, *, remove: bool) -> None:
        """Change the aliases the file names, add the others; with ``remove`` soft-delete the
        aliases it does not name and take its header and footer (``--replace``)."""
        domain, user, report = self.domain, self.user, self.report
        _take_header_footer(domain, header, footer, user, report, always=remove)
        existing: dict[tuple[str, int], Alias] = {}
        counts: dict[str, int] = {}
        for alias in Alias.objects.filter(domain=domain, deleted_at__isnull=True).order_by("id"):
            alias.domain = domain  # not a query per alias for the ownership checks below
            n = counts.get(alias.key_folded, 0)
            counts[alias.key_folded] = n + 1
            existing[(alias.key_folded, n)] = alias
        counts = {}
        fresh: list[Entry] = []
        changed: list[tuple[Alias, Entry, datetime.date | None]] = []
        for entry in entries:
            n = counts.get(entry.folded_key, 0)
            counts[entry.folded_key] = n + 1
            match = existing.pop((entry.folded_key, n), None)
            if match is None:
                fresh.append(entry)
                continue
            end = self.valid_until.get(entry.line) if self.valid_until is not None else match.valid_until
            wanted = (entry.key, entry.value, entry.enabled, entry.comment, end)
            if (match.key, match.destinations, match.enabled, match.comment, match.valid_until) == wanted:
                report.unchanged += 1
                continue
            changed.append((match, entry, end))
        removed = list(existing.values()) if remove else []
        if not acts_as_admin(user):
            # What an import changes or removes must be the editor's to touch.
            owners = Owners()
            refused = [untouchable_reason(user, a, owners) for a in [m for m, _entry, _end in changed] + removed]
            refused = [r for r in refused if r]
            if refused:
                raise ImportRefused(str(domain), [Problem(0, reason) for reason in refused[:50]])
        for match, entry, end in changed:
            before = _shown(match.destinations, match.enabled, match.valid_until)
            kind = "switched off" if match.enabled and not entry.enabled else "changed"
            match.key, match.destinations, match.comment = entry.key, entry.value, entry.comment
            match.enabled = entry.enabled
            match.valid_until = end
            if not self.dry:
                save_change(match, user, self.reason, self.serial)
            report.updated += 1
            report.note(kind, [Change(entry.line, entry.key, before, _shown(entry.value, entry.enabled, end))])
        now = timezone.now()
        for alias in removed:
            alias.deleted_at = now
            if not self.dry:
                save_change(alias, user, f"{self.reason}: not in the file", self.serial)
            report.removed += 1
            report.note("deleted", [Change(0, alias.key, _shown(alias.destinations, alias.enabled, None), "")])
        self._insert(fresh)


def _shown(destinations: str, enabled: bool, end: datetime.date | None) -> str:
    """An alias's routing as a preview shows it: destinations, "(off)", "until DATE"."""
    if end and not enabled:
        return _("{destinations} (off) until {date}").format(destinations=destinations, date=end.isoformat())
    if end:
        return _("{destinations} until {date}").format(destinations=destinations, date=end.isoformat())
    if not enabled:
        return _("{destinations} (off)").format(destinations=destinations)
    return destinations


def _take_header_footer(
    domain: Domain, header: str, footer: str, user: User | None, report: ImportReport, *, always: bool
) -> None:
    """The file's header and footer become the domain's: always with --replace, else only when it has none.

    They are map text only admins edit: an editor's import keeps the domain's own.
    """
    if not header and not footer and not always:
        return
    if not acts_as_admin(user):
        if (header, footer) != (domain.header, domain.footer) and (header or footer or always):
            report.problems.insert(
                0, Problem(0, "the header and footer are for administrators: the file's were not taken", "warning")
            )
        return
    if always or (not domain.header and not domain.footer):
        _set_header_footer(domain, header, footer, user)
    else:
        report.problems.insert(
            0, Problem(0, "the domain has a header or footer already: the file's were not taken", "warning")
        )


def _set_header_footer(domain: Domain, header: str, footer: str, user: User | None) -> None:
    if domain.header == header and domain.footer == footer:
        return
    domain.header, domain.footer = header, footer
    domain.version += 1
    domain._history_user = user  # type: ignore[attr-defined]
    domain._change_reason = "import"  # type: ignore[attr-defined]
    domain.save(update_fields=["header", "footer", "version", "updated_at"])
