"""Postfix's SQL lookup tables: sqlite_table(5), pgsql_table(5), mysql_table(5).

A ``virtual_alias_maps`` entry such as ``proxy:pgsql:/etc/postfix/aliasdesk-virtual.cf``
names a small file of ``name = value`` lines: where the database is, who connects, and the
``query`` Postfix runs for each lookup. Postfix does its own lookup sequence
(``user+ext@domain``, ``user@domain``, ``@domain``) and folds each key to lower case
itself (full Unicode case folding with ``smtputf8_enable = yes``, its default) before it
asks; ``%s`` in the query is that one key, quoted by Postfix for the database. Several
rows would be joined with commas, so the query returns at most one: the first in lookup
order. A literal ``%`` in the query is written ``%%``.

Nothing here knows Django: the caller says which table and columns hold the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["TABLE_TYPES", "TableFile", "lookup_query", "render_table_file"]

TABLE_TYPES = ("sqlite", "pgsql", "mysql")

# The database's clock as Unix seconds, as each engine writes it.
_NOW = {
    "sqlite": "CAST(strftime('%%s', 'now') AS INTEGER)",
    "pgsql": "extract(epoch from now())",
    "mysql": "UNIX_TIMESTAMP()",
}


def _quote(table_type: str, name: str) -> str:
    return f"`{name}`" if table_type == "mysql" else f'"{name}"'


def lookup_query(table_type: str, table: str) -> str:
    """The query that answers one folded key from ``table``.

    ``table`` has the columns ``lookup_key``, ``value``, ``expires_at`` (Unix seconds or
    NULL), ``map_rank``, ``section`` and ``position``: the first row by those three that has
    not expired is the answer, as the first entry of the first map is in Postfix.
    """
    if table_type not in _NOW:
        raise ValueError(f"unknown table type {table_type!r}: use one of {', '.join(TABLE_TYPES)}")

    def q(name: str) -> str:
        return _quote(table_type, name)

    order = ", ".join(q(c) for c in ("map_rank", "section", "position"))
    return (
        f"SELECT {q('value')} FROM {q(table)} WHERE {q('lookup_key')} = '%s'"
        f" AND ({q('expires_at')} IS NULL OR {q('expires_at')} > {_NOW[table_type]})"
        f" ORDER BY {order} LIMIT 1"
    )


@dataclass
class TableFile:
    """What one table file says: for ``sqlite`` a ``dbpath``, else hosts, user, password and
    database name. ``comments`` go on top, one ``#`` line each."""

    table_type: str
    query: str
    dbpath: str = ""
    hosts: str = ""
    user: str = ""
    password: str = ""
    dbname: str = ""
    comments: Sequence[str] = field(default_factory=list)


def _setting(name: str, value: str) -> str:
    # Postfix reads "name = value" lines: the value ends at the line's end, blanks around it
    # are dropped. A line break would start a new setting, so it cannot be written at all.
    if "\n" in value or "\r" in value or value != value.strip():
        raise ValueError(f"the {name} cannot be written into a Postfix table file (line break or outer blanks)")
    return f"{name} = {value}\n"


def render_table_file(table: TableFile) -> str:
    """The text of the table file, ready to install."""
    if table.table_type not in TABLE_TYPES:
        raise ValueError(f"unknown table type {table.table_type!r}: use one of {', '.join(TABLE_TYPES)}")
    lines = [f"# {c}".rstrip() + "\n" for c in table.comments]
    if table.table_type == "sqlite":
        if not table.dbpath.startswith("/"):
            raise ValueError("the SQLite lookup database must be given as an absolute path")
        lines.append(_setting("dbpath", table.dbpath))
    else:
        lines.append(_setting("hosts", table.hosts))
        lines.append(_setting("user", table.user))
        if table.password:
            lines.append(_setting("password", table.password))
        lines.append(_setting("dbname", table.dbname))
    lines.append(_setting("query", table.query))
    return "".join(lines)
