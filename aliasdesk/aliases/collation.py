"""Exact comparison of names, keys, paths and log text on MariaDB/MySQL.

MariaDB's default collations ignore case and accents and treat ß as s: under them
``hjolavefsja.is`` and ``hjólavefsjá.is`` are one unique name, and a log path or a
deferral reason that differs only in case is one row. aliasdesk folds what Postfix
folds itself, so these columns compare bytes there, as on SQLite and PostgreSQL.
Text that is searched case-insensitively (destinations, comments: ``icontains``,
which is ``LIKE`` and so the collation on MariaDB) keeps the server's collation.

Django rebuilds a column without its collation when a migration alters that
field: such a migration must call :func:`compare_exactly` again afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

COLLATION = "utf8mb4_bin"


def compare_exactly(schema_editor: Any, model: Any, fields: Sequence[str], collation: str | None = COLLATION) -> None:
    """Give the model's text ``fields`` a binary collation on MariaDB/MySQL (``None``: the
    character set's default again); a no-op on other databases."""
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    quote = schema_editor.quote_name
    changes = []
    for name in fields:
        field = model._meta.get_field(name)
        collate = f" COLLATE {collation}" if collation else ""
        changes.append(
            f"MODIFY {quote(field.column)} {field.db_type(connection)} CHARACTER SET utf8mb4{collate}"
            f" {'NULL' if field.null else 'NOT NULL'}"
        )
    schema_editor.execute(f"ALTER TABLE {quote(model._meta.db_table)} {', '.join(changes)}")
