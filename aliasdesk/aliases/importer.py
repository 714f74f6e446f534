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
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User
from aliasdesk.aliases.bulk_files import Source, guess_format, read_source
from aliasdesk.aliases.bulk_insert import bulk_insert_aliases as bulk_insert_aliases  # re-exported
from aliasdesk.aliases.import_report import KINDS as KINDS  # re-exported, as the classes below
from aliasdesk.aliases.import_report import Change as Change
from aliasdesk.aliases.import_report import ImportRefused as ImportRefused
from aliasdesk.aliases.import_report import ImportReport as ImportReport
from aliasdesk.aliases.import_report import StalePreview as StalePreview
from aliasdesk.aliases.import_writer import Writer
from aliasdesk.aliases.limits import alias_count, destinations_problem, final_count_problem, limits_of
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.ownership import (
    acts_as_admin,
    authorize_keys,
    claim_mail_domains,
    require_editor,
)
from aliasdesk.aliases.services import (
    AliasError,
    bump_serial,
    clean_alias,
    create_domain,
    normalize_domain_name,
)
from aliasdesk.postfix.maps.virtual import Entry, Problem, join_destinations, split_destinations

MAX_IMPORT_BYTES = 512 * 1024 * 1024
MODES = ("add", "update", "replace")


def read_map_source(source: str | Path) -> tuple[bytes, str]:
    """The bytes of FILE (or stdin for '-'), refusing oversized and binary input."""
    name = str(source)
    if name == "-":
        data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise AliasError(_("{name}: no such file").format(name=name))
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise AliasError(_("{name}: larger than {size} MiB; refusing to import").format(
                name=name, size=MAX_IMPORT_BYTES // 2**20))
        data = path.read_bytes()
    if len(data) > MAX_IMPORT_BYTES:
        raise AliasError(_("{name}: larger than {size} MiB; refusing to import").format(
            name=name, size=MAX_IMPORT_BYTES // 2**20))
    return data, name


def normalize_value(value: str) -> str:
    """The destinations as stored and rendered: addresses joined by ", "."""
    if '"' not in value:
        return ", ".join(value.replace(",", " ").split())
    return join_destinations(split_destinations(value))


def prepare_entries(entries: list[Entry]) -> list[Problem]:
    """Keep Postfix's meaning for duplicates: later ones are switched off and say why.

    Changes ``entries`` in place (they can be hundreds of thousands).
    """
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for index, entry in enumerate(entries):
        value = normalize_value(entry.value)
        if entry.enabled:
            folded = entry.key.lower()
            first = seen.setdefault(folded, entry.line)
            if first != entry.line:
                note = f"duplicate of line {first}: Postfix uses the first, so this one is switched off"
                comment = f"{entry.comment}\n{note}" if entry.comment else note
                message = _('duplicate key "{key}" switched off (line {line} wins)').format(key=entry.key, line=first)
                problems.append(Problem(entry.line, message, "warning", "duplicate-key"))
                entries[index] = Entry(entry.key, value, False, comment, entry.line)
                continue
        if value != entry.value:
            entries[index] = entry._replace(value=value)
    return problems


def import_map(
    source: str | Path,
    domain_name: str,
    *,
    map_file: str | Path | None = None,
    user: User | None = None,
    replace: bool = False,
    fmt: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import FILE into the domain (created if needed).

    Without ``replace`` the entries are added, and a key the domain already has
    is an error. With ``replace`` the domain ends up holding exactly the file:
    changed aliases are updated, missing ones soft-deleted, header and footer taken.
    FILE is a map, or by its extension (or ``fmt``) a CSV or XLSX (bulk_files). ``dry_run``
    does it all and rolls it back: the report says what would change.
    """
    data, name = read_map_source(source)
    source_sha = hashlib.sha256(data).hexdigest()
    parsed = read_source(data, name, guess_format(name, fmt), strict=False)
    del data
    source_path = None if name == "-" or parsed.format != "map" else Path(source).resolve()
    return import_source(
        parsed,
        domain_name,
        map_file=map_file,
        user=user,
        mode="replace" if replace else "add",
        dry_run=dry_run,
        known_file=(source_path, source_sha) if source_path else None,
    )


def import_source(
    source: Source,
    domain_name: str,
    *,
    map_file: str | Path | None = None,
    user: User | None = None,
    mode: str = "add",
    dry_run: bool = False,
    checked: bool = False,
    expect_serial: int | None = None,
    reason: str = "",
    known_file: tuple[Path, str] | None = None,
) -> ImportReport:
    """Import what a bulk file holds: all of it, or nothing (ImportRefused lists every problem).

    ``mode``: "add" (a key the domain has is an error), "update" (keys it has are changed,
    the others added; nothing is removed) or "replace" (the domain ends up holding exactly
    the file). ``checked`` puts every entry through the services' clean_* functions (input
    policy: the web); ``expect_serial`` refuses (StalePreview) when the domain changed since
    a preview was made at that serial. ``dry_run`` rolls everything back.
    """
    if mode not in MODES:
        raise AliasError(_("unknown import mode {mode}").format(mode=repr(mode)))
    entries = source.entries
    problems = [p for p in source.problems if p.code != "duplicate-key"]
    if source.format != "map":  # a table has no "first one wins": a key twice is a mistake
        problems += _repeated_keys(entries, source.unit)
    problems += prepare_entries(entries)
    if any(p.severity == "error" for p in problems) and not checked:
        raise ImportRefused(source.name, sorted(problems, key=lambda p: p.line))
    reason = reason or ("import --replace" if mode == "replace" else "import")
    domain_name = normalize_domain_name(domain_name)
    with transaction.atomic():
        domain = Domain.objects.select_for_update().filter(name=domain_name).first()
        if domain is None:
            domain = create_domain(domain_name, map_path=map_file, user=user)
        elif map_file and Path(map_file).resolve() != Path(domain.map_path):
            raise AliasError(_("domain {domain} writes {path}, not {file}").format(
                domain=domain_name, path=domain.map_path, file=map_file))
        if expect_serial is not None and domain.serial != expect_serial:
            raise StalePreview(domain.name)
        report = ImportReport(domain=domain, serial=domain.serial)
        problems += _check_entries(domain, entries, user, source.name, mode, checked)
        if any(p.severity == "error" for p in problems):
            raise ImportRefused(source.name, sorted(problems, key=lambda p: p.line))
        report.problems = sorted(problems, key=lambda p: p.line)
        # An import may change any part of the map: the next deploy rebuilds it.
        serial = bump_serial(domain, rebuild=True, user=user)
        write = Writer(domain, user, report, serial, reason, source.valid_until, dry=dry_run)
        if mode == "add":
            write.append(entries, source.header, source.footer)
        else:
            write.merge(entries, source.header, source.footer, remove=mode == "replace")
        if known_file is not None and known_file[0] == Path(domain.map_path):
            # The file on disk is the one just read: it is known, not drift.
            Domain.objects.filter(pk=domain.pk).update(deployed_sha256=known_file[1])
        report.disabled = sum(1 for e in entries if not e.enabled)
        if dry_run:
            transaction.set_rollback(True)
    if not dry_run:
        domain.refresh_from_db()
    return report


def _repeated_keys(entries: list[Entry], unit: str) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for entry in entries:
        first = seen.setdefault(entry.folded_key, entry.line)
        if first != entry.line:
            if unit == "line":
                message = _("{key} is on line {line} already: give each key once")
            else:
                message = _("{key} is on row {line} already: give each key once")
            problems.append(Problem(entry.line, message.format(key=entry.key, line=first)))
    return problems


def _check_entries(
    domain: Domain, entries: list[Entry], user: User | None, source: str, mode: str, checked: bool
) -> list[Problem]:
    """Every problem of the entries, of every check (none stops the others): the input policy
    when ``checked``, key ownership, the domain's limits. Claims mail domains when all keys pass."""
    problems = _clean_entries(domain, entries) if checked else []
    try:
        problems += _claim_key_domains(domain, entries, user, source)
    except ImportRefused as exc:
        problems += exc.problems
    try:
        _check_limits(domain, entries, mode, source)
    except ImportRefused as exc:
        problems += exc.problems
    return problems


def _clean_entries(domain: Domain, entries: list[Entry]) -> list[Problem]:
    """Every entry as the services store it (services.clean_alias: the
    domain's input policy), in place; the problems by line."""
    problems: list[Problem] = []
    for index, entry in enumerate(entries):
        try:
            key, value, comment = clean_alias(domain, entry.key, entry.value, entry.comment)
        except AliasError as exc:
            problems.append(Problem(entry.line, str(exc)))
            continue
        if (key, value, comment) != (entry.key, entry.value, entry.comment):
            entries[index] = entry._replace(key=key, value=value, comment=comment)
    return problems


def _claim_key_domains(domain: Domain, entries: list[Entry], user: User | None, source: str) -> list[Problem]:
    """The ownership rule for every enabled entry; an admin's import claims the mail domains nobody owns.

    Disabled entries route nothing; switching one on later goes through the rule (for
    editors they count all the same: they may not write such a key at all).
    """
    require_editor(user, domain)
    # An editor's disabled line still writes a key they may not touch: every line counts for them.
    every = not acts_as_admin(user)
    claims, refused = authorize_keys(user, domain, ((e.line, e.key) for e in entries if e.enabled or every))
    if refused:
        raise ImportRefused(source, [Problem(line, message) for line, message in refused])
    added = claim_mail_domains(domain, list(claims), user=user, reason=f"import of {source}")
    return [
        Problem(claims[name], _("{name} is now a mail domain of this map (its keys start on this line)").format(
            name=name), "warning")
        for name in added
    ]


def _check_limits(domain: Domain, entries: list[Entry], mode: str, source: str) -> None:
    """The domain's limits for the whole file, before anything is written: too many aliases
    or an entry with too many destinations imports nothing. When entries may change existing
    aliases, those whose destinations the domain holds already for that key are left alone (a
    limit lowered below the current use keeps what exists)."""
    limits = limits_of(domain, lock=True)
    if not limits.any:
        return
    problems: list[Problem] = []
    live = Alias.objects.filter(domain=domain, deleted_at__isnull=True)
    if mode == "replace":
        message = final_count_problem(limits, len(entries), _("the file holds {count}"))
    elif mode == "update":
        keys = set(live.values_list("key_folded", flat=True))
        new = len({e.folded_key for e in entries if e.folded_key not in keys})
        message = final_count_problem(limits, alias_count(domain) + new, _("with this file there would be {count}"))
    else:
        message = final_count_problem(limits, alias_count(domain) + len(entries),
                                      _("with this file there would be {count}"))
    if message:
        problems.append(Problem(0, message))
    if limits.max_destinations is not None:
        held: set[tuple[str, str]] = set()
        if mode != "add":
            held = set(live.values_list("key_folded", "destinations"))
        for entry in entries:
            known = (entry.folded_key, entry.value) in held
            problem = "" if known else destinations_problem(limits, entry.value, entry.key)
            if problem:
                problems.append(Problem(entry.line, problem))
    if problems:
        raise ImportRefused(source, problems)
