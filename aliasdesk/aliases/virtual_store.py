"""Where the table Postfix reads the aliases from lives (``aliasdesk postfix-config``).

On PostgreSQL and MariaDB it is a table of aliasdesk's own database (``aliasdesk_virtual``),
which a read-only role may be given alone. On SQLite Postfix would have to read the whole
database file, users and password hashes included; so the table lives in a separate
SQLite file instead (``lookup.sqlite3`` in the data dir, or ``ALIASDESK_LOOKUP_DATABASE``),
created with mode 0640 and holding nothing but that table and its bookkeeping. It is
reached through a second Django database connection, so the same ORM code writes both.

The table is kept only once ``postfix-config`` switched it on: for SQLite, while the lookup
file exists; on a server, while the bookkeeping row of domain 0 exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections
from django.db.utils import load_backend
from django.utils.connection import ConnectionDoesNotExist

from aliasdesk.aliases.models import VirtualEntry, VirtualSync

# The Django database alias of the SQLite lookup file.
LOOKUP = "aliasdesk_lookup"
ENABLED_MARK = 0  # VirtualSync.domain_id of the row that says the table is kept


def on_sqlite() -> bool:
    return bool(connections["default"].vendor == "sqlite")


def lookup_file() -> Path:
    """The SQLite lookup database (absolute: Postfix's dbpath must be)."""
    configured = getattr(settings, "LOOKUP_DATABASE", "")
    return Path(configured or Path(settings.DATA_DIR) / "lookup.sqlite3").absolute()


def _register_lookup_file(path: Path) -> None:
    """Point this thread's LOOKUP connection at ``path``: again when the data dir changed, or
    the file was replaced (a connection would go on writing the old, removed file).

    The connection is made here, not listed in DATABASES: Django's own commands (migrate,
    flush) and its test cases then never take it for one of aliasdesk's databases.
    """
    stat = path.stat()
    stamp = (str(path), stat.st_dev, stat.st_ino)
    try:
        current = connections[LOOKUP]
    except ConnectionDoesNotExist:
        current = None
    if current is not None:
        if getattr(current, "aliasdesk_stamp", None) == stamp:
            return
        current.close()
    config = dict(connections.settings["default"])
    # No WAL: a reader of a WAL database must be able to write beside it, and Postfix only
    # reads. A big page cache keeps a long write from locking readers out until it commits.
    config.update(
        NAME=str(path),
        CONN_MAX_AGE=0,
        OPTIONS={
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=DELETE; PRAGMA cache_size=-131072;",
        },
    )
    wrapper = load_backend(str(config["ENGINE"])).DatabaseWrapper(config, LOOKUP)
    wrapper.aliasdesk_stamp = stamp
    connections[LOOKUP] = wrapper


def _create_lookup_file(path: Path) -> None:
    """A new lookup database, readable by its owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(fd)
    os.chmod(path, 0o640)  # whatever the umask
    _register_lookup_file(path)
    _create_tables()


def _create_tables() -> None:
    """The two tables in the lookup file, where missing (a new file, or one cut short).

    A new alias table is empty: the bookkeeping then says nothing is synced, and the next
    sync fills it whole.
    """
    connection = connections[LOOKUP]
    present = set(connection.introspection.table_names())
    missing = [m for m in (VirtualEntry, VirtualSync) if m._meta.db_table not in present]
    if not missing:
        return
    with connection.schema_editor() as editor:
        for model in missing:
            editor.create_model(model)
    VirtualSync.objects.using(LOOKUP).all().delete()
    VirtualSync.objects.using(LOOKUP).create(domain_id=ENABLED_MARK, serial=0)


def _open_lookup_file(path: Path, create: bool) -> None:
    """Connect to the lookup file; one that is no SQLite database at all (a crash, a stray
    write) is moved aside as ``<name>.broken-<time>`` and made anew."""
    _register_lookup_file(path)
    try:
        if create:
            _create_tables()
        VirtualSync.objects.using(LOOKUP).filter(domain_id=ENABLED_MARK).exists()
    except OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        _create_tables()
    except DatabaseError as exc:
        if "not a database" not in str(exc) and "malformed" not in str(exc):
            raise
        connections[LOOKUP].close()
        path.rename(path.with_name(f"{path.name}.broken-{int(time.time())}"))
        _create_lookup_file(path)


def table_database(*, create: bool = False) -> str | None:
    """The database alias that holds the table, or None while it is not kept.

    ``create``: switch it on (make the lookup file on SQLite). Cheap when the table is not
    kept on SQLite (one ``stat``): every change of a map asks.
    """
    if not on_sqlite():
        mark = VirtualSync.objects.filter(domain_id=ENABLED_MARK)
        if not mark.exists():
            if not create:
                return None
            VirtualSync.objects.get_or_create(domain_id=ENABLED_MARK)
        return "default"
    path = lookup_file()
    if not path.exists():
        if not create:
            return None
        _create_lookup_file(path)
    # On SQLite the file's existence is the switch.
    _open_lookup_file(path, create)
    return LOOKUP


def never_synced(using: str) -> bool:
    """Whether the table was never filled whole (new, or its rows were lost): then a change
    of one domain brings every domain in."""
    return VirtualSync.objects.using(using).filter(domain_id=ENABLED_MARK, serial=0).exists()


def forget_lookup_file() -> None:
    """Close this thread's connection to the lookup file (tests, and before removing it)."""
    try:
        connection = connections[LOOKUP]
    except ConnectionDoesNotExist:
        return
    connection.close()
    del connections[LOOKUP]
