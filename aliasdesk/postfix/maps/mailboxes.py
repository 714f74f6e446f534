"""The mailboxes of ``virtual_mailbox_maps``, to check catch-alls against.

A catch-all ``@example.com`` in ``virtual_alias_maps`` also takes the mail of every mailbox
of example.com without an alias line of its own. Tables that can be listed give the mailbox
addresses: hash, btree and lmdb with ``postmap -s``, texthash by reading the file, cdb (which
``postmap -s`` refuses) by reading the source it was compiled from. Any other (``pgsql:``,
``mysql:``, ``ldap:``, ``regexp:`` …) cannot be listed, and the deploy says so instead of keeping
quiet. Listings are kept until their table's file changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aliasdesk.postfix.maps.postconf import (
    COMPILED,
    LISTED_BY_POSTMAP,
    READ_AS_TEXT,
    PostfixConfig,
    file_stamp,
    lock,
    table_parts,
)
from aliasdesk.postfix.maps.postmap import Postmap, PostmapError, run_postmap
from aliasdesk.postfix.maps.validate import WARNING, Finding
from aliasdesk.postfix.maps.virtual import Entry, parse_virtual
from aliasdesk.postfix.text import _

__all__ = ["MailboxListing", "Mailboxes", "catchall_mailboxes", "list_mailboxes"]


@dataclass
class MailboxListing:
    """The mailbox addresses of ``virtual_mailbox_maps``, and the tables that could not be listed."""

    addresses: list[str] = field(default_factory=list)
    unlisted: list[tuple[str, str]] = field(default_factory=list)  # (table, why)


_listings: dict[str, tuple[object, list[str]]] = {}


def list_mailboxes(config: PostfixConfig, postmap: Postmap) -> MailboxListing:
    """Every address key (``user@domain``) of the tables in ``virtual_mailbox_maps``."""
    listing = MailboxListing()
    for table in config.tables("virtual_mailbox_maps"):
        try:
            listing.addresses += _table_addresses(table, postmap)
        except _Unlisted as exc:
            listing.unlisted.append((table, str(exc)))
    return listing


class _Unlisted(Exception):
    pass


def _table_addresses(table: str, postmap: Postmap) -> list[str]:
    kind, name = table_parts(table)
    if kind in LISTED_BY_POSTMAP:
        read = name + COMPILED.get(kind, "")
    elif kind in READ_AS_TEXT:
        read = name  # cdb: its source file, the text postmap compiled it from
    else:
        raise _Unlisted(_("{kind}: tables cannot be listed").format(kind=kind))
    stamp = file_stamp(read)
    if stamp is None:
        raise _Unlisted(_("{file} cannot be read").format(file=read))
    with lock:
        cached = _listings.get(table)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if kind in LISTED_BY_POSTMAP:
        try:
            out = run_postmap(postmap, ["-s", f"{kind}:{name}"])
        except PostmapError as exc:
            raise _Unlisted(str(exc)) from exc
        keys = [line.partition("\t")[0] for line in out.splitlines()]
    else:
        try:
            text = Path(read).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise _Unlisted(_("{file} cannot be read: {reason}").format(file=read, reason=exc.strerror)) from exc
        keys = [entry.key for entry in parse_virtual(text).entries if entry.enabled]
    addresses = [k for k in keys if "@" in k and not k.startswith("@")]
    with lock:
        _listings[table] = (stamp, addresses)
    return addresses


class Mailboxes:
    """The mailbox addresses of ``virtual_mailbox_maps``, for ``validate_entries(mailbox_addresses=...)``.

    Listed only when iterated: validation reads them only for a map with a catch-all, so a
    map without one (most maps, some with 500,000 entries) costs nothing here.
    """

    def __init__(self, config: PostfixConfig, postmap: Postmap) -> None:
        self.config, self.postmap = config, postmap
        self.listing: MailboxListing | None = None

    def __iter__(self) -> Iterator[str]:
        if self.listing is None:
            self.listing = list_mailboxes(self.config, self.postmap)
        return iter(self.listing.addresses)

    def not_checked(self) -> list[Finding]:
        """A warning for each table that could not be listed, once the catch-alls asked for them."""
        if self.listing is None:
            return []
        return [_not_checked(self.config, table, why) for table, why in self.listing.unlisted]


def catchall_mailboxes(
    entries: Iterable[Entry], config: PostfixConfig | None, postmap: Postmap
) -> tuple[list[str], list[Finding]]:
    """The mailbox addresses the catch-alls among a few ``entries`` could swallow, and a warning
    for each mailbox table that could not be listed. Nothing to list without a catch-all."""
    if config is None:
        return [], []
    catchalls = {e.key[1:].lower(): e for e in entries if e.enabled and e.key.startswith("@")}
    if not catchalls:
        return [], []
    listing = list_mailboxes(config, postmap)
    addresses = [a for a in listing.addresses if a.rpartition("@")[2].lower() in catchalls]
    keys = ", ".join(f"@{d}" for d in sorted(catchalls))
    first = next(iter(catchalls.values())).key
    return addresses, [_not_checked(config, table, why, keys, first) for table, why in listing.unlisted]


def _not_checked(config: PostfixConfig, table: str, why: str, catchalls: str = "", key: str = "") -> Finding:
    """The warning for a mailbox table that could not be listed; ``catchalls`` names the catch-alls
    concerned (all of this map's when empty)."""
    if catchalls:
        message = _(
            "could not check catch-alls against mailboxes in {table}: {reason} (virtual_mailbox_maps in {main_cf}); "
            "a mailbox there that {catchalls} covers gets the catch-all's mail unless it has an alias line of its "
            'own ("user@domain user@domain"): give each such mailbox that line')
    else:
        message = _(
            "could not check catch-alls against mailboxes in {table}: {reason} (virtual_mailbox_maps in {main_cf}); "
            "a mailbox there that a catch-all of this map covers gets the catch-all's mail unless it has an alias "
            'line of its own ("user@domain user@domain"): give each such mailbox that line')
    return Finding(WARNING, "mailboxes-not-checked", message.format(
        table=table, reason=why, main_cf=config.main_cf, catchalls=catchalls), key)
