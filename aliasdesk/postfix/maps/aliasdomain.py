"""Alias domains: every address of one domain forwards to the same local part of another.

Postfix offers one line for it, ``@alias.example  @target.example`` (virtual(5): a result
``@otherdomain`` becomes the same user in that domain). That line is a catch-all: the SMTP
server then accepts mail for *every* address of alias.example, existing or not, and bounces
what the target cannot deliver afterwards, to a sender that is usually forged (backscatter,
virtual(5) "@domain"). And like every catch-all in virtual_alias_maps it takes the mail of
mailboxes of that domain that have no alias line of their own (``box@d  box@d``).

So aliasdesk expands an alias domain by default: one line ``local@alias  local@target`` for
each address the target's map holds. The alias domain then accepts exactly the addresses the
target has, and Postfix rejects the others at the SMTP dialogue ("User unknown in virtual
alias table", VIRTUAL_README). The catch-all form stays available on request.

The target's mailboxes (virtual_mailbox_maps) are not in its alias map: an expanded alias
domain reaches them only through an alias line of the target, such as ``box@target
box@target`` (the same line a catch-all in the target would need for them).
"""

from __future__ import annotations

from collections.abc import Iterable

from aliasdesk.postfix.maps.expansion import last_at, listed_names
from aliasdesk.postfix.maps.keys import key_form, mail_domain
from aliasdesk.postfix.maps.validate import WARNING, Finding
from aliasdesk.postfix.maps.virtual import Entry
from aliasdesk.postfix.text import _, ngettext

__all__ = ["CATCHALL", "EXPAND", "MODES", "alias_domain_findings", "alias_domain_lines", "target_addresses"]

EXPAND = "expand"
CATCHALL = "catchall"
MODES = (EXPAND, CATCHALL)


def target_addresses(target: str, entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """(local part as written, key) of the target map's live addresses in ``target``, in map order.

    A key postmap would drop as a duplicate (same key after case folding) counts once; the
    target's catch-all (``@target``) has the local part "". Keys of other mail domains and
    bare keys are not the target's addresses.
    """
    wanted = mail_domain(target)
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for entry in entries:
        if not entry.enabled:
            continue
        key = entry.key.strip()
        at = key.rfind("@") if '"' not in key else last_at(key)
        if at < 0 or mail_domain(key[at + 1 :]) != wanted or key.lower() in seen:
            continue
        seen.add(key.lower())
        found.append((key[:at], key))
    return found


def alias_domain_lines(alias: str, target: str, mode: str, entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """The (key, value) lines of the alias domain's map, from the target map's ``entries``.

    ``catchall``: the one line ``@alias @target``. ``expand``: ``local@alias local@target``
    for each address of the target, and ``@alias @target`` last when the target has a
    catch-all itself (it accepts every address then anyway).
    """
    if mode not in MODES:
        raise ValueError(_("unknown alias domain mode {mode}: use {modes}").format(
            mode=repr(mode), modes=" or ".join(MODES)))
    if mode == CATCHALL:
        return [(f"@{alias}", f"@{target}")]
    lines: list[tuple[str, str]] = []
    catchall = False
    for local, key in target_addresses(target, entries):
        if not local:
            catchall = True
            continue
        lines.append((f"{local}@{alias}", key))
    if catchall:
        lines.append((f"@{alias}", f"@{target}"))
    return lines


def alias_domain_findings(
    alias: str,
    target: str,
    mode: str,
    entries: Iterable[Entry],
    *,
    mailbox_addresses: Iterable[str] = (),
) -> list[Finding]:
    """What a deploy of the alias domain warns about.

    ``entries`` are the target map's; ``mailbox_addresses`` (virtual_mailbox_maps, when
    known) let the target's mailboxes be checked: an expanded alias domain does not reach a
    mailbox without an alias line, and a catch-all in the target takes its mail.
    """
    addresses = target_addresses(target, entries)
    has_catchall = any(not local for local, _ in addresses)
    findings: list[Finding] = []
    if mode == CATCHALL:
        findings.append(Finding(
            WARNING, "alias-domain-backscatter",
            _("@{alias} @{target} accepts mail for every address of {alias}, whether {target} has it or not: "
              "Postfix accepts mail for unknown users and bounces it later, often to forged senders (backscatter, "
              "virtual(5)); the expand mode accepts only the addresses of the target").format(
                  alias=alias, target=target),
            f"@{alias}", 0,
        ))
    elif not addresses:
        findings.append(Finding(
            WARNING, "alias-domain-empty",
            _("{target} has no addresses in its map yet: {alias} accepts no mail (expand mode lists the target's "
              "addresses; a mailbox needs an alias line of its own, such as box@target box@target)").format(
                  target=target, alias=alias),
        ))
    wanted = mail_domain(target)
    keys = {key.lower() for _, key in addresses}
    boxes = [b.strip() for b in mailbox_addresses if b.strip() and key_form(b.strip()).domain == wanted]
    missing = [b for b in boxes if b.lower() not in keys]
    if missing and (mode == EXPAND or has_catchall):
        if mode == EXPAND:
            message = ngettext(
                "{count} mailbox of {target} has no alias line, so mail to it at {alias} does not reach it (the "
                "expand mode lists only the addresses of the map of {target}): {listed}; add a line such as "
                "\"{first} {first}\" to the map of {target}",
                "{count} mailboxes of {target} have no alias line, so mail to them at {alias} does not reach them "
                "(the expand mode lists only the addresses of the map of {target}): {listed}; add a line such as "
                "\"{first} {first}\" to the map of {target}",
                len(missing))
        else:
            message = ngettext(
                "{count} mailbox of {target} has no alias line, so mail to it at {alias} does not reach it (the "
                "catch-all @{target} takes its mail): {listed}; add a line such as \"{first} {first}\" to the map "
                "of {target}",
                "{count} mailboxes of {target} have no alias line, so mail to them at {alias} does not reach them "
                "(the catch-all @{target} takes their mail): {listed}; add a line such as \"{first} {first}\" to "
                "the map of {target}",
                len(missing))
        findings.append(Finding(WARNING, "alias-domain-mailboxes", message.format(
            count=len(missing), target=target, alias=alias, listed=listed_names(missing), first=missing[0])))
    return findings
