"""The data directory (ALIASDESK_DATA_DIR) and the secret key kept in it.

Settings only read them: importing settings writes nothing. The entry points, the
``aliasdesk`` command and the WSGI application, call :func:`prepare` before Django
starts, so the directory exists before the first command opens the SQLite database in
it, and every process of the service (gunicorn workers included) reads the same key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "secret_key"


def data_dir() -> Path:
    return Path(os.environ.get("ALIASDESK_DATA_DIR", "var")).resolve()


def stored_secret_key(directory: Path) -> str | None:
    """The key kept in ``directory``, None when there is none yet."""
    try:
        return (directory / KEY_FILE).read_text().strip()
    except FileNotFoundError:
        return None


def prepare() -> None:
    """Create the data directory and its secret key, once (nothing to do with ALIASDESK_SECRET_KEY set).

    A read-only data directory is left alone: settings then use a key per process, which
    still lets commands run.
    """
    if os.environ.get("ALIASDESK_SECRET_KEY"):
        return
    directory = data_dir()
    if (directory / KEY_FILE).exists():
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50) + "\n")
    except OSError:  # another process made it first (FileExistsError), or read-only
        pass
