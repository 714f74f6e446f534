"""Who may put which key in which map: the one rule every write path asks.

A Domain owns its own mail domain plus the extra mail domains an admin lists for it;
no two Domains own the same one (MailDomain.name is unique). The rule
(``authorize_key``):

- a key of a mail domain another map owns is refused, for everyone;
- editors write only ``local@owned`` and ``@owned`` keys of their granted domains, never
  bare local names or bare domain lines, and not ``postmaster@``/``abuse@`` unless an
  admin allowed it for the domain; an editor may not change an alias whose key they
  could not write;
- an admin's key of a mail domain nobody owns yet claims it for the map (the caller
  says so); admins may always switch off or delete.

``user=None`` is the command line and the system, which act as an admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress, repeat
from operator import contains

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.accounts.models import User
from aliasdesk.accounts.scope import may_administer
from aliasdesk.aliases.access import can_edit
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain, MailDomain, OwnershipConflict
from aliasdesk.aliases.postfix_fit import postfix_config
from aliasdesk.postfix.maps.columns import RowColumns
from aliasdesk.postfix.maps.expansion import last_at
from aliasdesk.postfix.maps.keys import BARE_DOMAIN, KeyForm, ascii_domain, key_form, mail_domain
from aliasdesk.postfix.maps.postconf import ManagedMap
from aliasdesk.postfix.maps.virtual import parse_virtual


class KeyNotAllowed(AliasError):
    """This user may not have this key in this map; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "key")


def acts_as_admin(user: User | None) -> bool:
    """An administrator's reach (keys of other maps, purge); an API token must not narrow it."""
    return user is None or (user.is_admin and may_administer())


class AliasDomainRefused(AliasError):
    """An alias domain has no aliases of its own: its lines are generated from its target's."""


def require_editor(user: User | None, domain: Domain) -> None:
    """Services refuse a user who may not change the domain's aliases, whatever the caller checked.

    Nobody writes aliases into an alias domain (every write path comes through here): its map
    is generated from its target's aliases, so an alias of its own would be lost on the spot.
    """
    if domain.alias_of_id is not None:
        target = Domain.objects.filter(pk=domain.alias_of_id).values_list("name", flat=True).first()
        raise AliasDomainRefused(_(
            "{domain} is an alias domain of {target}: its addresses are generated from the aliases of {target}; "
            "add the alias there, or make {domain} an ordinary domain first (its settings)"
        ).format(domain=domain.name, target=target))
    if user is not None and not can_edit(user, domain):
        raise PermissionDenied(_("you may not change the aliases of {domain}").format(domain=domain.name))


class Owners:
    """Which map owns which mail domain, read once for a batch of keys."""

    def __init__(self) -> None:
        self.by_name: dict[str, int] = dict(MailDomain.objects.values_list("name", "domain_id"))
        self._names: dict[int, str] | None = None

    def owner(self, name: str) -> int | None:
        return self.by_name.get(name)

    def domain_name(self, domain_id: int) -> str:
        if self._names is None:
            self._names = dict(Domain.objects.values_list("pk", "name"))
        return self._names.get(domain_id, f"#{domain_id}")


def authorize_key(
    user: User | None, domain: Domain, key: str, *, owners: Owners | None = None, form: KeyForm | None = None
) -> str | None:
    """Whether ``user`` may have ``key`` in ``domain``'s map; KeyNotAllowed says why not.

    Returns the mail domain the key claims for the map (an admin's key of a mail domain
    nobody owns yet), which the caller hands to ``claim_mail_domains``; None otherwise.
    """
    admin = acts_as_admin(user)
    form = form or key_form(key)
    if form.bare:
        if admin:
            return None
        if form.kind == BARE_DOMAIN:
            message = _("{key}: a bare domain line reaches beyond one mail domain; only administrators may write it")
        else:
            message = _("{key}: a bare local name (without @domain) reaches beyond one mail domain; only "
                        "administrators may write it")
        raise KeyNotAllowed(message.format(key=key))
    owners = owners or Owners()
    owner = owners.owner(form.domain)
    if owner is None:
        if admin:
            return form.domain
        raise KeyNotAllowed(_(
            "{key}: {domain} is not a mail domain of this map; an administrator can add it to the map's mail "
            "domains in its settings"
        ).format(key=key, domain=form.domain))
    if owner != domain.pk:
        raise KeyNotAllowed(_(
            "{key}: {domain} belongs to the map of {owner}; its keys can only be written there"
        ).format(key=key, domain=form.domain, owner=owners.domain_name(owner)))
    if form.role_address and not admin and not domain.editors_role_addresses:
        raise KeyNotAllowed(_("{key}: postmaster@ and abuse@ (RFC 2142) are changed by administrators only").format(
            key=key))
    return None


def authorize_keys(
    user: User | None, domain: Domain, keys: Iterable[tuple[int, str]], *, owners: Owners | None = None
) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """``authorize_key`` for many ``(line, key)`` pairs (an import): the mail domains they claim
    (with the first line of each) and every refusal with its line. Fast on 500,000 keys: the
    domain part of the keys decides, and it is checked once per distinct spelling.
    """
    owners = owners or Owners()
    admin = acts_as_admin(user)
    claims: dict[str, int] = {}
    refused: list[tuple[int, str]] = []
    by_domain_part: dict[str, str | KeyNotAllowed | None] = {}
    role_locals = ("postmaster", "abuse")
    for line, key in keys:
        at = key.rfind("@") if '"' not in key else -1
        if at >= 0 and (admin or key[:at].lower() not in role_locals):
            # The answer depends only on the domain part; quoted keys and role addresses are read in full.
            part = key[at:]
            if part in by_domain_part:
                answer = by_domain_part[part]
            else:
                try:
                    answer = authorize_key(user, domain, "x" + part, owners=owners)
                except KeyNotAllowed as exc:
                    answer = exc
                by_domain_part[part] = answer
            if answer is None:
                continue
            if isinstance(answer, KeyNotAllowed):
                refused.append((line, str(answer).replace("x" + part, key, 1)))
            else:
                claims.setdefault(answer, line)
            continue
        try:
            claim = authorize_key(user, domain, key, owners=owners)
        except KeyNotAllowed as exc:
            refused.append((line, str(exc)))
            continue
        if claim:
            claims.setdefault(claim, line)
    return claims, refused


def authorize_change(
    user: User | None,
    alias: Alias,
    *,
    new_key: str | None = None,
    makes_live: bool = False,
    owners: Owners | None = None,
) -> list[str]:
    """Whether ``user`` may change ``alias`` (to ``new_key``, or making its routing live).

    Editors may only touch aliases whose key they could write. Admins may always
    switch off and delete; a key they make live must pass the rule. Returns the mail
    domains to claim.
    """
    domain = alias.domain
    require_editor(user, domain)
    owners = owners or Owners()
    claims: list[str] = []
    if not acts_as_admin(user):
        authorize_key(user, domain, alias.key, owners=owners)
    if new_key is not None and new_key != alias.key:
        claims.append(authorize_key(user, domain, new_key, owners=owners) or "")
    elif makes_live:
        claims.append(authorize_key(user, domain, alias.key, owners=owners) or "")
    return [c for c in claims if c]


def owned_mail_domains(domain: Domain) -> set[str]:
    return set(MailDomain.objects.filter(domain=domain).values_list("name", flat=True))


def tolerated_mail_domains(domain: Domain) -> set[str]:
    return set(OwnershipConflict.objects.filter(domain=domain).values_list("mail_domain", flat=True))


def extra_domain_list(domain: Domain) -> list[str]:
    return [line for line in domain.extra_domains.split() if line]


@transaction.atomic
def claim_mail_domains(domain: Domain, names: Iterable[str], *, user: User | None, reason: str) -> list[str]:
    """Make ``names`` mail domains of ``domain``'s map (those nobody owns); returns the ones added."""
    wanted = sorted({mail_domain(n) for n in names if n} - {domain.name})
    if not wanted:
        return []
    added: list[str] = []
    for name in wanted:
        try:
            with transaction.atomic():
                MailDomain.objects.create(name=name, domain=domain)
        except IntegrityError:
            owner = MailDomain.objects.filter(name=name).select_related("domain").first()
            if owner is not None and owner.domain_id == domain.pk:
                continue
            if owner is not None:
                message = _("{name} became a mail domain of {owner} meanwhile; nothing was changed").format(
                    name=name, owner=owner.domain.name)
            else:
                message = _("{name} became a mail domain of another map meanwhile; nothing was changed").format(
                    name=name)
            raise KeyNotAllowed(message) from None
        added.append(name)
    if added:
        _save_extra_domains(domain, sorted(set(extra_domain_list(domain)) | set(added)), user, reason)
    return added


def _save_extra_domains(domain: Domain, names: list[str], user: User | None, reason: str) -> None:
    current = Domain.objects.select_for_update().get(pk=domain.pk)
    current.extra_domains = "\n".join(names)
    current.version += 1
    current._history_user = user  # type: ignore[attr-defined]
    current._change_reason = reason  # type: ignore[attr-defined]
    current.save(update_fields=["extra_domains", "version", "updated_at"])
    domain.extra_domains, domain.version = current.extra_domains, current.version


def register_own_name(domain: Domain) -> None:
    """A new Domain owns its own name; refused when another map lists it as an extra mail domain."""
    owner = MailDomain.objects.filter(name=mail_domain(domain.name)).select_related("domain").first()
    if owner is not None:
        raise AliasError(_(
            "{domain} is a mail domain of the map of {owner} already; remove it there first (its settings), then "
            "create this domain"
        ).format(domain=domain.name, owner=owner.domain.name))
    MailDomain.objects.create(name=mail_domain(domain.name), domain=domain)


def claims_message(domain: Domain, claimed: list[str]) -> str:
    if not claimed:
        return ""
    return ngettext(
        "{names} is now also a mail domain of the map of {domain}.",
        "{names} are now also mail domains of the map of {domain}.",
        len(claimed),
    ).format(names=", ".join(claimed), domain=domain.name)


def untouchable_reason(user: User | None, alias: Alias, owners: Owners | None = None) -> str:
    """Why ``user`` may see ``alias`` but not change it ("" when they may), for pages and 403s."""
    if acts_as_admin(user):
        return ""
    try:
        authorize_key(user, alias.domain, alias.key, owners=owners)
    except KeyNotAllowed as exc:
        return str(exc)
    return ""


def mark_untouchable(user: User | None, domain: Domain, aliases: Iterable[Alias]) -> None:
    """Set ``locked`` on each alias of a page of ``domain``: why the user may not change it, or ""."""
    owners = None if acts_as_admin(user) else Owners()
    for alias in aliases:
        alias.domain = domain
        alias.locked = untouchable_reason(user, alias, owners)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MapOwnership:
    """What a deploy's validation must know about the other maps (plain data: it goes to a child)."""

    owned: frozenset[str]
    tolerated: frozenset[str]
    shared: dict[str, str]


def map_ownership(domain: Domain, rows: list[tuple[str, str, bool, str]] | RowColumns) -> MapOwnership:
    """The mail domains the map owns, the ones it holds tolerated keys of, and its keys that
    another managed map defines too, each with a sentence naming the map Postfix asks first.

    Keys of a mail domain can only be in its owner's map, so a key two maps define is a bare
    key, a header or footer entry, or a tolerated one: only those are looked up.
    """
    owned = frozenset(owned_mail_domains(domain))
    tolerated = frozenset(tolerated_mail_domains(domain))
    columns = rows if isinstance(rows, RowColumns) else RowColumns.of(rows)
    others = _defined_elsewhere(domain, owned, _keys_others_may_define(domain, columns, tolerated))
    return MapOwnership(owned, tolerated, _shared_sentences(domain, others) if others else {})


def _keys_others_may_define(domain: Domain, rows: RowColumns, tolerated: frozenset[str]) -> list[str]:
    """The map's live bare keys, header and footer keys, and keys in tolerated mail domains."""
    mine = [e.key for text in (domain.header, domain.footer) if text for e in parse_virtual(text).entries if e.enabled]
    # This runs over every row of a 500,000-alias map before each deploy: in C where it can.
    keys = rows.keys
    if '"' in rows.joined_keys or not (rows.one_at or all(map(contains, keys, repeat("@")))):
        live = compress(keys, rows.enabled)
        mine += [key for key in live if "@" not in key or '"' in key]
    if tolerated:
        for key, enabled in zip(keys, rows.enabled, strict=True):
            at = key.rfind("@") if '"' not in key else last_at(key)
            if enabled and at >= 0 and mail_domain(key[at + 1 :]) in tolerated:
                mine.append(key)
    return mine


def _defined_elsewhere(domain: Domain, owned: frozenset[str], mine: list[str]) -> dict[str, int]:
    """Folded key -> id of another live map that defines it: one of ``mine``, a key in a mail
    domain this map owns (left in another map by an ownership conflict), or a header or
    footer entry of another map."""
    others: dict[str, int] = {}
    live = Alias.objects.filter(deleted_at__isnull=True, enabled=True, domain__deleted_at__isnull=True)
    folded = sorted({k.lower() for k in mine})
    for start in range(0, len(folded), 500):
        chunk = live.filter(key_folded__in=folded[start : start + 500]).exclude(domain=domain)
        others.update(chunk.values_list("key_folded", "domain_id"))
    for conflict in OwnershipConflict.objects.filter(mail_domain__in=owned).exclude(domain=domain):
        for spelling in {conflict.mail_domain, ascii_domain(conflict.mail_domain)}:
            rows_there = live.filter(domain_id=conflict.domain_id, key_folded__endswith="@" + spelling)
            others.update(rows_there.values_list("key_folded", "domain_id"))
    for other in Domain.objects.filter(deleted_at__isnull=True).exclude(pk=domain.pk).exclude(header="", footer=""):
        for text in (other.header, other.footer):
            for entry in parse_virtual(text).entries if text else []:
                if entry.enabled:
                    others.setdefault(entry.key.lower(), other.pk)
    return others


def _shared_sentences(domain: Domain, others: dict[str, int]) -> dict[str, str]:
    """For each key another map defines too, which map Postfix consults first."""
    maps = {d.pk: d for d in Domain.objects.filter(pk__in=set(others.values()))}
    order = lookup_order([domain, *maps.values()])
    shared = {}
    for key, other_id in others.items():
        other = maps[other_id]
        first = min((domain, other), key=lambda d: order[d.pk])
        if first.pk == domain.pk:
            sentence = _("{key} is also defined by the map of {other} ({path}); Postfix consults {first}'s "
                         "map first, so this map's answer wins")
        else:
            sentence = _("{key} is also defined by the map of {other} ({path}); Postfix consults {first}'s "
                         "map first, so that map's answer wins")
        shared[key] = sentence.format(key=key, other=other.name, path=other.map_path, first=first.name)
    return shared



def lookup_order(domains: Iterable[Domain]) -> dict[int, tuple[int, str]]:
    """Where each map stands in Postfix's lookup order: its place in ``virtual_alias_maps`` when
    the Postfix configuration can be read and lists it, else the managed order (by name), after
    the listed ones.
    """
    tables = postfix_virtual_alias_maps() or []
    order = {}
    for d in domains:
        this = ManagedMap(d.name, d.map_type, str(d.map_path))
        place = next((index for index, table in enumerate(tables) if this.is_table(table)), len(tables))
        order[d.pk] = (place, d.name)
    return order


def postfix_virtual_alias_maps() -> list[str] | None:
    """The tables of ``virtual_alias_maps`` in order (one cached ``postconf``), None without a main.cf."""
    config = postfix_config()
    return config.tables("virtual_alias_maps") if config is not None else None
