"""Import a virtual(5) file into a domain: all of it, or nothing when it has errors.

Anything postmap accepts imports, with Postfix's meaning kept: of two entries
with the same key the first wins, so a later duplicate is imported switched off
and flagged. A file with real errors (an entry without a value, control
characters, text that is not UTF-8) imports nothing; every error is listed with
its line number.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import AliasError, create_domain, normalize_domain_name
from aliasdesk.postfix.virtual import Entry, Problem, decode_map_bytes, join_destinations, parse_virtual, split_destinations

MAX_IMPORT_BYTES = 512 * 1024 * 1024
BATCH = 5000


class ImportRefused(AliasError):
    """The file has errors; nothing was imported. ``problems`` lists every one."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{source}: {len(errors)} error(s), nothing imported: " + "; ".join(map(str, errors[:5])))
        self.problems = problems


@dataclass
class ImportReport:
    domain: Domain
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    disabled: int = 0
    problems: list[Problem] = field(default_factory=list)


def read_map_source(source: str | Path) -> tuple[bytes, str]:
    """The bytes of FILE (or stdin for '-'), refusing oversized and binary input."""
    name = str(source)
    if name == "-":
        data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise AliasError(f"{name}: no such file")
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise AliasError(f"{name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; refusing to import")
        data = path.read_bytes()
    if len(data) > MAX_IMPORT_BYTES:
        raise AliasError(f"{name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; refusing to import")
    return data, name


def prepare_entries(entries: list[Entry]) -> tuple[list[Entry], list[Problem]]:
    """Keep Postfix's meaning for duplicates: later ones are switched off and say why."""
    seen: dict[str, int] = {}
    out: list[Entry] = []
    problems: list[Problem] = []
    for entry in entries:
        value = join_destinations(split_destinations(entry.value))
        if entry.enabled:
            folded = entry.folded_key
            first = seen.get(folded)
            if first is not None:
                note = f"duplicate of line {first}: Postfix uses the first, so this one is switched off"
                comment = f"{entry.comment}\n{note}" if entry.comment else note
                problems.append(Problem(entry.line, f'duplicate key "{entry.key}" switched off (line {first} wins)', "warning"))
                out.append(Entry(entry.key, value, False, comment, entry.line))
                continue
            seen[folded] = entry.line
        out.append(Entry(entry.key, value, entry.enabled, entry.comment, entry.line))
    return out, problems


def _new_alias(domain: Domain, entry: Entry, user: User | None) -> Alias:
    return Alias(
        domain=domain,
        key=entry.key,
        key_folded=entry.folded_key,
        destinations=entry.value,
        enabled=entry.enabled,
        comment=entry.comment,
        created_by=user,
        updated_by=user,
    )


def _bulk_create(objs: list[Alias], user: User | None, reason: str) -> None:
    created = Alias.objects.bulk_create(objs)
    Alias.history.bulk_history_create(  # type: ignore[attr-defined]
        created, default_user=user, default_change_reason=reason, default_date=timezone.now()
    )


def import_map(
    source: str | Path,
    domain_name: str,
    *,
    map_file: str | Path | None = None,
    user: User | None = None,
    replace: bool = False,
) -> ImportReport:
    """Import FILE into the domain (created if needed).

    Without ``replace`` the entries are added, and a key the domain already has
    is an error. With ``replace`` the domain ends up holding exactly the file:
    changed aliases are updated, missing ones soft-deleted, header and footer taken.
    """
    data, name = read_map_source(source)
    text, problems = decode_map_bytes(data)
    parsed = parse_virtual(text)
    problems += parsed.problems
    entries, dup_problems = prepare_entries(parsed.entries)
    problems = [p for p in problems if not p.message.startswith("duplicate key")] + dup_problems
    if any(p.severity == "error" for p in problems):
        raise ImportRefused(name, sorted(problems, key=lambda p: p.line))

    domain_name = normalize_domain_name(domain_name)
    source_path = None if name == "-" else Path(source).resolve()
    with transaction.atomic():
        domain = Domain.objects.select_for_update().filter(name=domain_name).first()
        if domain is None:
            domain = create_domain(domain_name, map_path=map_file, user=user)
        elif map_file and Path(map_file).resolve() != Path(domain.map_path):
            raise AliasError(f"domain {domain_name} writes {domain.map_path}, not {map_file}")
        report = ImportReport(domain=domain, problems=sorted(problems, key=lambda p: p.line))
        if replace:
            _replace(domain, entries, parsed.header, parsed.footer, user, report)
        else:
            _append(domain, entries, parsed.header, parsed.footer, user, report)
        if source_path is not None and source_path == Path(domain.map_path):
            # The file on disk is the one just read: it is known, not drift.
            Domain.objects.filter(pk=domain.pk).update(deployed_sha256=hashlib.sha256(data).hexdigest())
        Domain.objects.filter(pk=domain.pk).update(serial=F("serial") + 1)
    report.disabled = sum(1 for e in entries if not e.enabled)
    domain.refresh_from_db()
    return report


def _set_header_footer(domain: Domain, header: str, footer: str, user: User | None) -> None:
    if domain.header == header and domain.footer == footer:
        return
    domain.header, domain.footer = header, footer
    domain.version += 1
    domain._history_user = user  # type: ignore[attr-defined]
    domain._change_reason = "import"  # type: ignore[attr-defined]
    domain.save(update_fields=["header", "footer", "version", "updated_at"])


def _append(
    domain: Domain, entries: list[Entry], header: str, footer: str, user: User | None, report: ImportReport
) -> None:
    live = set(
        Alias.objects.filter(domain=domain, deleted_at__isnull=True, enabled=True).values_list("key_folded", flat=True)
    )
    clashes = [
        Problem(e.line, f'"{e.key}" exists already in {domain.name} (use --replace to take the whole file)')
        for e in entries
        if e.enabled and e.folded_key in live
    ]
    if clashes:
        raise ImportRefused(str(domain), clashes)
    if not domain.header and not domain.footer:
        _set_header_footer(domain, header, footer, user)
    elif header or footer:
        report.problems.append(Problem(0, "the domain has a header or footer already: the file's were not taken", "warning"))
    batch: list[Alias] = []
    for entry in entries:
        batch.append(_new_alias(domain, entry, user))
        if len(batch) >= BATCH:
            _bulk_create(batch, user, "import")
            batch = []
    if batch:
        _bulk_create(batch, user, "import")
    report.created = len(entries)


def _replace(
    domain: Domain, entries: list[Entry], header: str, footer: str, user: User | None, report: ImportReport
) -> None:
    _set_header_footer(domain, header, footer, user)
    existing: dict[tuple[str, int], Alias] = {}
    counts: dict[str, int] = {}
    for alias in Alias.objects.filter(domain=domain, deleted_at__isnull=True).order_by("id"):
        n = counts.get(alias.key_folded, 0)
        counts[alias.key_folded] = n + 1
        existing[(alias.key_folded, n)] = alias
    counts = {}
    fresh: list[Alias] = []
    for entry in entries:
        n = counts.get(entry.folded_key, 0)
        counts[entry.folded_key] = n + 1
        alias = existing.pop((entry.folded_key, n), None)
        if alias is None:
            fresh.append(_new_alias(domain, entry, user))
            continue
        wanted = (entry.key, entry.value, entry.enabled, entry.comment)
        if (alias.key, alias.destinations, alias.enabled, alias.comment) == wanted:
            report.unchanged += 1
            continue
        alias.key, alias.destinations, alias.enabled, alias.comment = wanted
        alias.version += 1
        alias.updated_by = user
        alias._history_user = user  # type: ignore[attr-defined]
        alias._change_reason = "import --replace"  # type: ignore[attr-defined]
        alias.save()
        report.updated += 1
    now = timezone.now()
    for alias in existing.values():
        alias.deleted_at = now
        alias.version += 1
        alias.updated_by = user
        alias._history_user = user  # type: ignore[attr-defined]
        alias._change_reason = "import --replace: not in the file"  # type: ignore[attr-defined]
        alias.save()
        report.removed += 1
    for start in range(0, len(fresh), BATCH):
        _bulk_create(fresh[start : start + BATCH], user, "import --replace")
    report.created = len(fresh)
