"""Domains as ``aliasdesk domain`` shows and sets them.

``domain set`` builds the settings form's values (``DomainSettings``) from its options,
changing only the fields given, and saves them through ``update_domain_settings``: the
same checks, version check and history as the settings page.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Domain

# ``domain set`` options that take the setting's text as it is (lists: comma-separated);
# "none" or "" clears it.
TEXT_OPTIONS = ("localpart_pattern", "allowed_destination_domains", "extra_domains")
FLAG_OPTIONS = ("editors_role_addresses", "deploy_on_save")


def read_text(path: str, what: str) -> str:
    """The text of a ``--header-file``/``--footer-file``: a file, or standard input for ``-``."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise AliasError(f"{what} {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AliasError(_("{option} {path}: not UTF-8 text (byte {byte})").format(
            option=what, path=path, byte=exc.start + 1)) from exc


def wanted_settings(domain: Domain, options: dict[str, Any]) -> tuple[ds.DomainSettings, list[str]]:
    """The domain's settings with the options given applied, and the names of those given.

    ``header``/``footer`` hold the text already read; ``nodes`` is a list (empty with
    ``every_node``); flags are "on"/"off"; limits and lists as typed ("none" clears).
    """
    changes: dict[str, Any] = {}
    for name in ("header", "footer"):
        if options.get(name) is not None:
            changes[name] = options[name]
    for name in TEXT_OPTIONS:
        value = options.get(name)
        if value is not None:
            changes[name] = "" if value.strip().lower() == "none" else value
    if options.get("every_node"):
        if options.get("node"):
            raise AliasError(_("--node names the hosts that carry the map; --every-node clears them: give one"))
        changes["nodes"] = ""
    elif options.get("node"):
        changes["nodes"] = "\n".join(options["node"])
    for name in FLAG_OPTIONS:
        if options.get(name) is not None:
            changes[name] = options[name] == "on"
    for name in ds.LIMIT_FIELDS:
        if options.get(name) is not None:
            changes[name] = "" if options[name].strip().lower() == "none" else options[name]
    return replace(ds.DomainSettings.of(domain), **changes), sorted(changes)


def _lines(text: str) -> list[str]:
    return [line for line in text.split() if line]


def domain_record(domain: Domain) -> dict[str, Any]:
    """A domain as ``--json`` prints it: where its map is, whether it is deployed, its settings."""
    return {
        "name": domain.name,
        "map_type": domain.map_type,
        "map_path": domain.map_path,
        "nodes": domain.node_names,
        "alias_of": domain.alias_of.name if domain.alias_of_id and domain.alias_of else None,
        "alias_mode": domain.alias_mode if domain.alias_of_id else None,
        "deployed": domain.serial == domain.deployed_serial,
        "version": domain.version,
        "header": domain.header,
        "footer": domain.footer,
        "localpart_pattern": domain.localpart_pattern,
        "allowed_destination_domains": _lines(domain.allowed_destination_domains),
        "extra_domains": _lines(domain.extra_domains),
        "editors_role_addresses": domain.editors_role_addresses,
        "deploy_on_save": domain.deploy_on_save,
        "max_aliases": domain.max_aliases,
        "max_destinations": domain.max_destinations,
    }


def domain_line(domain: Domain) -> str:
    """``domain list``: name, map, deployed or not, the nodes that carry it, what it is an alias of."""
    state = "deployed" if domain.serial == domain.deployed_serial else "changes not deployed"
    carried = ",".join(domain.node_names) or "every node"
    alias = f"\talias of {domain.alias_of} ({domain.alias_mode})" if domain.alias_of_id else ""
    return f"{domain.name}\t{domain.map_type}:{domain.map_path}\t{state}\t{carried}{alias}"
