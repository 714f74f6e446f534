"""Where an uploaded bulk file waits between its preview and Apply: a file under the data dir.

The session holds, per domain, a random id, the file's name, format and import mode, and
the domain's serial when the preview was made (Apply refuses a stale one). The bytes stay on
the server, in ``DATA_DIR/uploads/<id>``, readable by the service user alone; Apply reads
them again rather than trusting anything the browser sends back. Files older than a day
(previews never applied nor cancelled) are removed whenever a new one is stored.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

from aliasdesk.aliases.models import Domain

SESSION_KEY = "bulk_uploads"
KEEP_SECONDS = 24 * 3600
_ID_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")


@dataclass(frozen=True)
class Pending:
    """A previewed upload, waiting for Apply or Cancel."""

    id: str
    name: str
    format: str
    mode: str
    serial: int
    user_id: int


def upload_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _path(pending_id: str) -> Path:
    if not _ID_RE.fullmatch(pending_id):
        raise ValueError("not an upload id")
    return upload_dir() / pending_id


def _sweep(directory: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # another worker swept it first
            pass


def keep(request: HttpRequest, domain: Domain, data: bytes, *, name: str, fmt: str, mode: str, serial: int) -> Pending:
    """Store ``data`` for the domain's pending preview (replacing an earlier one)."""
    discard(request, domain)
    directory = upload_dir()
    _sweep(directory)
    pending = Pending(secrets.token_urlsafe(24), name, fmt, mode, serial, int(request.user.pk or 0))
    fd = os.open(_path(pending.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    uploads = dict(request.session.get(SESSION_KEY, {}))
    uploads[str(domain.pk)] = asdict(pending)
    request.session[SESSION_KEY] = uploads
    return pending


def pending_for(request: HttpRequest, domain: Domain) -> Pending | None:
    """The domain's pending preview in this session, if its file is still there."""
    found = request.session.get(SESSION_KEY, {}).get(str(domain.pk))
    if not found:
        return None
    try:
        pending = Pending(**found)
        exists = _path(pending.id).is_file()
    except (TypeError, ValueError):
        return None
    return pending if exists and pending.user_id == request.user.pk else None


def read(pending: Pending) -> bytes:
    return _path(pending.id).read_bytes()


def discard(request: HttpRequest, domain: Domain) -> None:
    """Forget the domain's pending preview and remove its file."""
    uploads = dict(request.session.get(SESSION_KEY, {}))
    found = uploads.pop(str(domain.pk), None)
    if found is None:
        return
    request.session[SESSION_KEY] = uploads
    with contextlib.suppress(ValueError):  # not an id of ours: nothing to remove
        _path(str(found.get("id", ""))).unlink(missing_ok=True)
