"""The table file ``aliasdesk postfix-config`` prints, and the SQL for a read-only role.

The file connects as aliasdesk's own database user unless a role is named; the role's SQL
gives it SELECT on the lookup table and nothing else (on SQLite there is no role: Postfix
reads a separate lookup database that holds nothing but the table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connections
from django.utils.translation import gettext as _

from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import VirtualEntry
from aliasdesk.aliases.virtual_store import lookup_file
from aliasdesk.postfix.maps.sqltable import TableFile, lookup_query, render_table_file

# Postfix's table type for each Django database vendor.
TABLE_TYPE = {"sqlite": "sqlite", "postgresql": "pgsql", "mysql": "mysql"}
ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
INSTALL_AS = "/etc/postfix/aliasdesk-virtual.cf"


@dataclass
class Role:
    """A separate database login for Postfix: name, password, and (MariaDB) the client host."""

    name: str
    password: str = ""
    host: str = "%"


def database_table_type() -> str:
    vendor = connections["default"].vendor
    return TABLE_TYPE.get(vendor, vendor)


def check_table_type(table_type: str) -> None:
    mine = database_table_type()
    if table_type != mine:
        raise AliasError(_(
            "aliasdesk's database is {vendor}: Postfix reads it with 'aliasdesk postfix-config {mine}', not {type}"
        ).format(vendor=connections["default"].vendor, mine=mine, type=table_type))


def check_role(role: Role) -> None:
    if database_table_type() == "sqlite":
        raise AliasError(_(
            "SQLite has no database roles: Postfix reads the separate lookup database, which holds only the alias "
            "table; make it readable by the group postfix (chgrp postfix FILE)"
        ))
    if not ROLE_RE.match(role.name):
        raise AliasError(_("role name {name}: use lower-case letters, digits and _ (at most 32)").format(
            name=repr(role.name)))
    if any(c in role.password for c in "'\\\n\r") or role.password != role.password.strip():
        raise AliasError(_("the role's password may not contain quotes, backslashes, line breaks or outer blanks"))
    if not re.match(r"^[A-Za-z0-9.%_:-]+$", role.host):
        raise AliasError(_("role host {host}: a host name, an address or %").format(host=repr(role.host)))


def _comments(table_type: str, role: Role | None) -> list[str]:
    lines = [
        f"virtual_alias_maps table on aliasdesk's database (aliasdesk postfix-config {table_type}).",
        "It answers every key as the maps aliasdesk deploys do, live: a saved change needs no deploy.",
        "Install it mode 0640, owner root, group postfix (it says how to reach the database):",
        f"  install -m 0640 -o root -g postfix THIS-FILE {INSTALL_AS}",
        "main.cf, in place of the deployed maps (proxy: lets chrooted daemons use it, Debian's default):",
        f"  virtual_alias_maps = proxy:{table_type}:{INSTALL_AS}",
        f"Try it: postmap -q info@example.com {table_type}:{INSTALL_AS}",
    ]
    if table_type == "sqlite":
        lines.append("The lookup database is mode 0640; give it the group postfix once: chgrp postfix DBPATH")
    elif role is None:
        lines += [
            "It connects as aliasdesk's own database user, who may change everything. Safer, a role",
            f"that may only read the lookup table: aliasdesk postfix-config {table_type} --role NAME",
            "--password-stdin (and with --grant-sql the SQL that creates it, for the database admin).",
        ]
    return lines


def table_file_text(table_type: str, role: Role | None = None) -> str:
    """The table file for aliasdesk's database, as its own user or as ``role``."""
    table = VirtualEntry._meta.db_table
    query = lookup_query(table_type, table)
    config = TableFile(table_type=table_type, query=query, comments=_comments(table_type, role))
    if table_type == "sqlite":
        config.dbpath = str(lookup_file())
        return render_table_file(config)
    db = connections["default"].settings_dict
    host, port = str(db.get("HOST") or ""), str(db.get("PORT") or "")
    if not host:
        host = "unix:/var/run/postgresql" if table_type == "pgsql" else "unix:/run/mysqld/mysqld.sock"
    elif host.startswith("/"):
        host = f"unix:{host}"
    else:
        host = f"inet:{host}:{port}" if port else f"inet:{host}"
    config.hosts = host
    config.dbname = str(db["NAME"])
    config.user = role.name if role else str(db.get("USER") or "")
    config.password = role.password if role else str(db.get("PASSWORD") or "")
    try:
        return render_table_file(config)
    except ValueError as exc:
        raise AliasError(str(exc)) from exc


def grant_sql(table_type: str, role: Role) -> str:
    """SQL that creates ``role`` with SELECT on the lookup table only (run it as a DBA)."""
    table = VirtualEntry._meta.db_table
    dbname = str(connections["default"].settings_dict["NAME"])
    if table_type == "pgsql":
        password = f" PASSWORD '{role.password}'" if role.password else ""
        return (
            f"-- a login for Postfix that reads the alias lookup table of {dbname} and nothing else\n"
            f'CREATE ROLE "{role.name}" LOGIN{password};\n'
            f'GRANT CONNECT ON DATABASE "{dbname}" TO "{role.name}";\n'
            f'GRANT USAGE ON SCHEMA public TO "{role.name}";\n'
            f'GRANT SELECT ON TABLE public."{table}" TO "{role.name}";\n'
        )
    account = f"'{role.name}'@'{role.host}'"
    return (
        f"-- a login for Postfix that reads the alias lookup table of {dbname} and nothing else\n"
        f"CREATE USER {account} IDENTIFIED BY '{role.password}';\n"
        f"GRANT SELECT ON `{dbname}`.`{table}` TO {account};\n"
    )
