"""The map's files on this host, as a deploy sees them: their hashes and stamps, the lock
that keeps two deploys of one map apart, leftovers of killed deploys, and drift (a map
edited by hand since the last deploy). Never read through a symlink."""

from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from aliasdesk.aliases import paths
from aliasdesk.aliases.models import Domain
from aliasdesk.deploys import standby
from aliasdesk.postfix.maps import postmap as pm

TMP_MARK = ".aliasdesk-tmp-"


class DeployError(Exception):
    """A deploy that did not happen; the message says why."""


def sha256_file(path: Path) -> str | None:
    """The file's SHA-256, None when it is absent or a symlink (never read through one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    with os.fdopen(fd, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_map_text(path: Path) -> str:
    """The text of a map file, never through a symlink (OSError ELOOP)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


@contextmanager
def map_lock(map_path: Path) -> Iterator[None]:
    """Serialize deploys of one map on this host (an advisory lock beside the map)."""
    lock_path = paths.lock_path(map_path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DeployError(
                _("%(file)s: the lock file is a symbolic link; aliasdesk never opens one") % {"file": lock_path}
            ) from exc
        try:
            # a read-only directory: the deploy fails later, clearly
            fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            said = {"file": lock_path, "error": exc.strerror}
            raise DeployError(_("cannot lock %(file)s: %(error)s") % said) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_leftovers(map_path: Path) -> None:
    """Temporary files of a deploy that was killed: nobody reads them, so they can go."""
    prefix = f".{map_path.name}{TMP_MARK}"
    # Berkeley DB builds a new table as __db.<name> and renames it when done.
    for leftover in standby.files_starting(map_path.parent, prefix, f"__db.{prefix}"):
        with suppress(OSError):
            leftover.unlink()


def prepare_dir(map_path: Path) -> None:
    if map_path.parent.is_dir():
        return
    if map_path.parent == Path(settings.MAP_DIR) or Path(settings.MAP_DIR) in map_path.parents:
        map_path.parent.mkdir(parents=True, exist_ok=True)
        return
    raise DeployError(_("map directory %(dir)s does not exist") % {"dir": map_path.parent})


def edited_by_hand(domain: Domain, last_finished: datetime.datetime | None) -> bool:
    """Whether the map on disk differs from what aliasdesk last wrote (drift).

    Cheap enough for a list of thousands of domains: only a file changed after the last
    deploy finished is hashed.
    """
    if not domain.deployed_sha256:
        return False
    try:
        mtime = Path(domain.map_path).stat().st_mtime
    except OSError:
        return False
    if last_finished is not None and mtime <= last_finished.timestamp():
        return False
    return sha256_file(Path(domain.map_path)) != domain.deployed_sha256


def _stamp(path: Path | None) -> str:
    """``inode:size:mtime_ns`` of a file, "" when absent: which file it is, not just its name."""
    if path is None:
        return ""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return ""
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def files_stamp(map_path: Path, map_type: str) -> str:
    """"table stamp|text stamp" of a map's files (see ``_stamp``)."""
    return f"{_stamp(pm.compiled_path(map_path, map_type))}|{_stamp(map_path)}"


class DiskState:
    """The map's files as this deploy found them.

    ``files`` is "table stamp|text stamp": when it is what the last deploy installed, the
    text is the one it wrote and its hash is known without reading 45 MB; otherwise the text
    is read (never through a symlink) and hashed. The text itself is read only when needed.
    """

    def __init__(
        self, map_path: Path | None = None, map_type: str = "hash", known: str = "", known_sha: str = ""
    ) -> None:
        self.path = map_path
        self._data: bytes | None = None
        self.sha: str | None = None
        self.table = self.files = ""
        self.table_fresh = True
        if map_path is None:
            return
        compiled = pm.compiled_path(map_path, map_type)
        self.files = files_stamp(map_path, map_type)
        self.table = self.files.split("|")[0]
        if compiled is not None:
            try:
                self.table_fresh = compiled.stat().st_mtime_ns >= map_path.stat().st_mtime_ns
            except OSError:
                self.table_fresh = False
        if known and known_sha and self.files == known and not self.files.endswith("|"):
            self.sha = known_sha
            return
        self._data = self._read()
        self.sha = hashlib.sha256(self._data).hexdigest() if self._data is not None else None

    def _read(self) -> bytes | None:
        assert self.path is not None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, PermissionError):  # (a preview by a user who may not read it)
            return None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    @property
    def data(self) -> bytes | None:
        """The text, None when absent (or a symlink: never read through one)."""
        if self._data is None and self.sha is not None:
            self._data = self._read()
        return self._data

    @property
    def text(self) -> str:
        data = self.data
        return data.decode("utf-8", "replace") if data is not None else ""

    def is_deployed(self, deployed_sha: str) -> bool:
        """The text is the one last deployed, and its compiled table is not older than it (a
        hand edit imported without running postmap leaves a stale table: that is a change)."""
        return bool(deployed_sha) and self.sha == deployed_sha and self.table_fresh

