"""Changing a domain itself: its header and footer (map text) and its input policy.

Header and footer are written into the map verbatim, so they are checked as map
text: anything postmap would misread refuses the save, with its line number.
Saves are versioned like aliases: a stale save is refused, never silently applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from aliasdesk.accounts.models import User
from aliasdesk.aliases.aliasdomains import generated_rows
from aliasdesk.aliases.models import Alias, Domain, MailDomain
from aliasdesk.aliases.ownership import extra_domain_list, tolerated_mail_domains
from aliasdesk.aliases.services import AliasError, bump_serial, check_node_names, normalize_domain_name
from aliasdesk.postfix.maps.keys import ascii_domain, key_form, mail_domain
from aliasdesk.postfix.maps.virtual import parse_virtual, render_virtual

SETTINGS_FIELDS = (
    "header",
    "footer",
    "localpart_pattern",
    "allowed_destination_domains",
    "extra_domains",
    "nodes",
    "editors_role_addresses",
    "deploy_on_save",
    "max_aliases",
    "max_destinations",
)
FLAGS = ("editors_role_addresses", "deploy_on_save")
# Settings that change what the map holds or how it is checked: the next deploy rebuilds.
MAP_FIELDS = ("header", "footer", "localpart_pattern", "allowed_destination_domains", "extra_domains")
# Whole numbers or empty (no limit); they change no map: saving them alone needs no deploy.
LIMIT_FIELDS = ("max_aliases", "max_destinations")
LIMIT_MINIMUM = {"max_aliases": 0, "max_destinations": 1}
FIELD_LABELS = {
    "header": gettext_lazy("Header"),
    "footer": gettext_lazy("Footer"),
    "localpart_pattern": gettext_lazy("Name pattern"),
    "allowed_destination_domains": gettext_lazy("Allowed destination domains"),
    "extra_domains": gettext_lazy("Further mail domains"),
    "nodes": gettext_lazy("Mail hosts"),
    "editors_role_addresses": gettext_lazy("Editors may change postmaster@ and abuse@"),
    "deploy_on_save": gettext_lazy("Deploy on save"),
    "max_aliases": gettext_lazy("Most aliases"),
    "max_destinations": gettext_lazy("Most destinations per alias"),
}
PREVIEW_ROWS = 30
_PATTERN_MAX = Domain._meta.get_field("localpart_pattern").max_length or 255


@dataclass
class SettingsProblem:
    """One reason a save is refused. ``field`` names the input, ``line`` the line in it (0: none)."""

    field: str
    message: str
    line: int = 0

    def __str__(self) -> str:
        label = FIELD_LABELS.get(self.field, self.field)
        if self.line:
            return _("{field}, line {line}: {message}").format(field=label, line=self.line, message=self.message)
        return _("{field}: {message}").format(field=label, message=self.message)


class SettingsRefused(Exception):
    """The settings have problems; nothing was saved. ``problems`` lists each one."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


class StaleSettings(Exception):
    """Someone else saved the domain first. ``current`` is the domain as it is now."""

    def __init__(self, current: Domain, changed_by: User | None, changed_at: object) -> None:
        if changed_by:
            message = _("{user} changed the settings of {domain} while you were editing (now version {version})")
        else:
            message = _("someone else changed the settings of {domain} while you were editing (now version "
                        "{version})")
        super().__init__(message.format(user=changed_by.username if changed_by else "", domain=current.name,
                                        version=current.version))
        self.current = current
        self.changed_by = changed_by
        self.changed_at = changed_at


@dataclass
class DomainSettings:
    """What the settings form edits, as typed or as stored."""

    header: str = ""
    footer: str = ""
    localpart_pattern: str = ""
    allowed_destination_domains: str = ""
    extra_domains: str = ""
    nodes: str = ""
    editors_role_addresses: bool = False
    deploy_on_save: bool = False
    max_aliases: str = ""  # as typed; "" is no limit
    max_destinations: str = ""

    @classmethod
    def of(cls, domain: Domain) -> DomainSettings:
        values = {name: getattr(domain, name) for name in SETTINGS_FIELDS}
        values.update({name: limit_text(values[name]) for name in LIMIT_FIELDS})
        return cls(**values)

    @classmethod
    def from_form(cls, data: object) -> DomainSettings:
        get = data.get  # type: ignore[attr-defined]
        texts = {name: str(get(name, "")) for name in SETTINGS_FIELDS if name not in FLAGS}
        flags = {name: get(name) == "on" for name in FLAGS}
        return cls(**texts, **flags)  # type: ignore[arg-type]


@dataclass
class Preview:
    """The start of the map a deploy would write with the given header and footer."""

    head: str
    tail: str
    more: int
    problems: list[SettingsProblem] = field(default_factory=list)
    warnings: list[SettingsProblem] = field(default_factory=list)


def limit_text(value: int | None) -> str:
    return "" if value is None else str(value)


def clean_limit(text: str, name: str) -> str:
    """A limit as stored in the form's terms: "" (none) or a whole number; AliasError otherwise."""
    text = str(text).strip()
    if not text or text.lower() in ("none", "-"):
        return ""
    least = LIMIT_MINIMUM[name]
    if not text.isdigit() or int(text) < least or int(text) > 2**31 - 1:
        raise AliasError(_("a whole number of {least} or more, or empty for no limit").format(least=least), name)
    return str(int(text))


def normalize_map_text(text: str) -> str:
    """Text from a form as it is stored: LF line ends, no trailing blank lines, a final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def check_map_text(text: str, name: str) -> tuple[list[SettingsProblem], list[SettingsProblem]]:
    """Errors and warnings of header or footer text, read as postmap reads it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [SettingsProblem(name, _("contains characters that are not valid Unicode"))], []
    parsed = parse_virtual(text)
    errors = [SettingsProblem(name, p.message, p.line) for p in parsed.problems if p.severity == "error"]
    warnings = [SettingsProblem(name, p.message, p.line) for p in parsed.problems if p.severity != "error"]
    return errors, warnings


def clean_localpart_pattern(pattern: str) -> str:
    """The pattern as stored; AliasError when Python's ``re`` cannot compile it."""
    pattern = pattern.strip()
    if len(pattern) > _PATTERN_MAX:
        raise AliasError(_("at most {count} characters").format(count=_PATTERN_MAX), "localpart_pattern")
    if "\n" in pattern or "\r" in pattern:
        raise AliasError(_("one line only"), "localpart_pattern")
    try:
        re.compile(pattern)
    except re.error as exc:
        if exc.pos is not None:
            message = _("not a valid regular expression: {reason} at position {position}").format(
                reason=exc.msg, position=exc.pos + 1)
        else:
            message = _("not a valid regular expression: {reason}").format(reason=exc.msg)
        raise AliasError(message, "localpart_pattern") from exc
    return pattern


def clean_destination_domains(text: str) -> str:
    """One domain per line, lower case, without repeats; AliasError names the bad line."""
    result: list[str] = []
    for number, line in enumerate(text.replace("\r", "\n").split("\n"), start=1):
        for word in line.replace(",", " ").split():
            try:
                name = normalize_domain_name(word.lstrip("@"))
            except AliasError as exc:
                raise AliasError(_("line {line}: {message}").format(line=number, message=exc),
                                 "allowed_destination_domains") from exc
            if name not in result:
                result.append(name)
    return "\n".join(result)


def clean_settings(wanted: DomainSettings) -> DomainSettings:
    """The settings as they would be stored, or SettingsRefused listing every problem."""
    problems: list[SettingsProblem] = []
    header = normalize_map_text(wanted.header)
    footer = normalize_map_text(wanted.footer)
    for name, text in (("header", header), ("footer", footer)):
        problems += check_map_text(text, name)[0]
    pattern = wanted.localpart_pattern
    try:
        pattern = clean_localpart_pattern(pattern)
    except AliasError as exc:
        problems.append(SettingsProblem("localpart_pattern", str(exc)))
    allowed = wanted.allowed_destination_domains
    try:
        allowed = clean_destination_domains(allowed)
    except AliasError as exc:
        problems.append(SettingsProblem("allowed_destination_domains", str(exc)))
    extra = wanted.extra_domains
    try:
        extra = clean_extra_domains(extra)
    except AliasError as exc:
        problems.append(SettingsProblem("extra_domains", str(exc)))
    nodes = wanted.nodes
    try:
        nodes = "\n".join(check_node_names(nodes.replace(",", " ").split()))
    except AliasError as exc:
        problems.append(SettingsProblem("nodes", str(exc)))
    limits = {}
    for name in LIMIT_FIELDS:
        try:
            limits[name] = clean_limit(getattr(wanted, name), name)
        except AliasError as exc:
            problems.append(SettingsProblem(name, str(exc)))
    if problems:
        raise SettingsRefused(problems)
    return DomainSettings(
        header,
        footer,
        pattern,
        allowed,
        extra,
        nodes,
        bool(wanted.editors_role_addresses),
        bool(wanted.deploy_on_save),
        **limits,
    )


def clean_extra_domains(text: str) -> str:
    """The further mail domains, canonical (see postfix.keys.mail_domain), sorted, one per line."""
    result: set[str] = set()
    for number, line in enumerate(text.replace("\r", "\n").split("\n"), start=1):
        for word in line.replace(",", " ").split():
            try:
                result.add(mail_domain(normalize_domain_name(word.lstrip("@"))))
            except AliasError as exc:
                raise AliasError(_("line {line}: {message}").format(line=number, message=exc), "extra_domains") from exc
    return "\n".join(sorted(result))


def check_settings_ownership(domain: Domain, clean: DomainSettings) -> list[SettingsProblem]:
    """What the new mail domains, header and footer would break: another map's mail domain,
    a mail domain dropped while the map still holds its keys, a header or footer key of a
    mail domain the map does not own.
    """
    problems: list[SettingsProblem] = []
    own = mail_domain(domain.name)
    wanted = set(clean.extra_domains.split()) - {own}
    before = set(extra_domain_list(domain))
    owners = {m.name: m.domain for m in MailDomain.objects.filter(name__in=wanted).select_related("domain")}
    for name in sorted(wanted - before):
        owner = owners.get(name)
        if owner is not None and owner.pk != domain.pk:
            problems.append(SettingsProblem("extra_domains", _("{name} is a mail domain of the map of {owner}").format(
                name=name, owner=owner.name)))
    for name in sorted(before - wanted):
        spellings = {name, ascii_domain(name)}
        held = [k for s in spellings for k in _live_keys_of(domain, s)]
        if held:
            problems.append(SettingsProblem(
                "extra_domains",
                ngettext("{name}: this map still holds {count} alias of it ({keys}); delete it first or keep the "
                         "mail domain",
                         "{name}: this map still holds {count} aliases of it ({keys}); delete them first or keep "
                         "the mail domain",
                         len(held)).format(name=name, count=len(held), keys=", ".join(held[:3])),
            ))
    owned = wanted | {own}
    tolerated = tolerated_mail_domains(domain)
    for field_name in ("header", "footer"):
        for entry in parse_virtual(getattr(clean, field_name)).entries:
            form = key_form(entry.key)
            if entry.enabled and not form.bare and form.domain not in owned and form.domain not in tolerated:
                problems.append(SettingsProblem(
                    field_name,
                    (_("{key} belongs to {domain}, which is not a mail domain of this map") if form.domain in owners
                     else _("{key} belongs to {domain}, which is not a mail domain of this map (add it to the "
                            "further mail domains below)")).format(key=entry.key, domain=form.domain),
                    entry.line,
                ))
    return problems


def _live_keys_of(domain: Domain, spelling: str) -> list[str]:
    rows = Alias.objects.filter(domain=domain, deleted_at__isnull=True, key_folded__endswith="@" + spelling)
    return list(rows.values_list("key", flat=True)[:100])



def _sync_mail_domains(domain: Domain, before: str, after: str) -> None:
    old, new = set(before.split()), set(after.split())
    MailDomain.objects.filter(domain=domain, name__in=old - new).delete()
    try:
        with transaction.atomic():
            MailDomain.objects.bulk_create([MailDomain(name=n, domain=domain) for n in sorted(new - old)])
    except IntegrityError as exc:
        raise SettingsRefused(
            [SettingsProblem("extra_domains", _("another map took one of these mail domains meanwhile; try again"))]
        ) from exc


@transaction.atomic
def update_domain_settings(
    domain: Domain, wanted: DomainSettings, *, version: int, user: User | None = None, reason: str = "settings"
) -> tuple[Domain, bool]:
    """Save header, footer, input policy and limits if the domain is still at ``version``.

    Returns the domain and whether anything changed. A change bumps ``version`` and
    the domain's serial (the map must be deployed again; not for limits alone, which
    change no map) and is recorded in history with ``reason``.
    Raises StaleSettings when someone saved first, SettingsRefused on bad input.
    """
    current = Domain.objects.select_for_update().get(pk=domain.pk)
    if current.version != version:
        last = current.history.select_related("history_user").order_by("-history_id").first()
        raise StaleSettings(current, last.history_user if last else None, last.history_date if last else None)
    clean = clean_settings(wanted)
    if clean == DomainSettings.of(current):
        return current, False
    problems = check_settings_ownership(current, clean)
    if problems:
        raise SettingsRefused(problems)
    _sync_mail_domains(current, current.extra_domains, clean.extra_domains)
    rebuild = any(getattr(current, name) != getattr(clean, name) for name in MAP_FIELDS)
    before = DomainSettings.of(current)
    for name in SETTINGS_FIELDS:
        value = getattr(clean, name)
        setattr(current, name, (int(value) if value else None) if name in LIMIT_FIELDS else value)
    current.version = version + 1
    current._history_user = user  # type: ignore[attr-defined]
    current._change_reason = reason  # type: ignore[attr-defined]
    current.save()
    if not limits_only(before, clean):
        bump_serial(current, rebuild=rebuild, user=user)
    return current, True


def limits_only(before: DomainSettings, after: DomainSettings) -> bool:
    """Whether only limits differ between two settings: nothing to deploy."""
    return all(getattr(before, n) == getattr(after, n) for n in SETTINGS_FIELDS if n not in LIMIT_FIELDS)


def preview_map(domain: Domain, header: str, footer: str, rows: int = PREVIEW_ROWS) -> Preview:
    """The map's beginning and end as a deploy would write them with this header and footer.

    Only the first ``rows`` aliases are rendered; ``more`` says how many are left out.
    """
    header, footer = normalize_map_text(header), normalize_map_text(footer)
    if domain.alias_of_id is not None:  # its lines are generated from the target's
        generated = generated_rows(domain)
        first, more = generated[:rows], max(0, len(generated) - rows)
    else:
        live = Alias.objects.filter(domain=domain, deleted_at__isnull=True)
        first = list(live.order_by("id").values_list("key", "destinations", "enabled", "comment")[:rows])
        more = live.count() - len(first) if len(first) == rows else 0
    problems, warnings = [], []
    for name, text in (("header", header), ("footer", footer)):
        errors, notes = check_map_text(text, name)
        problems += errors
        warnings += notes
    return Preview(
        head=render_virtual(header, first, ""),
        tail=render_virtual("", [], footer),
        more=more,
        problems=problems,
        warnings=warnings,
    )


def _comparable(name: str, value: object) -> str:
    if name in LIMIT_FIELDS or isinstance(value, bool):
        return "" if value is None else str(value).strip()
    text = str(value)
    if name in ("header", "footer"):
        return normalize_map_text(text)
    if name in ("allowed_destination_domains", "extra_domains", "nodes"):
        return " ".join(text.replace(",", " ").split())
    return text.strip()


@dataclass
class StaleMerge:
    """The form to show again after a stale save, and what the other person changed."""

    form: DomainSettings
    theirs: list[tuple[str, str, object]]  # (field, its label, their value) for each field they changed
    conflicts: list[str]  # fields both changed, to different values


def merge_stale(current: Domain, mine: DomainSettings, version: int) -> StaleMerge:
    """Fold the other person's save into the user's form.

    A field the user left as it was at ``version`` takes the other person's value;
    a field the user changed keeps the user's text.
    """
    base = current.history.filter(version=version).order_by("-history_id").first()
    merged = DomainSettings()
    theirs: list[tuple[str, str, object]] = []
    conflicts: list[str] = []
    for name in SETTINGS_FIELDS:
        my_value, their_value = getattr(mine, name), getattr(current, name)
        if name in LIMIT_FIELDS:
            their_value = limit_text(their_value)
        base_value = getattr(base, name) if base is not None else None
        they_changed = base is None or _comparable(name, their_value) != _comparable(name, base_value)
        i_changed = base is None or _comparable(name, my_value) != _comparable(name, base_value)
        if they_changed:
            theirs.append((name, str(FIELD_LABELS[name]), their_value))
        setattr(merged, name, my_value if i_changed else their_value)
        if they_changed and i_changed and _comparable(name, my_value) != _comparable(name, their_value):
            conflicts.append(name)
    return StaleMerge(merged, theirs, conflicts)
