"""Where a map file may live: the one policy for ALIASDESK_MAP_DIRS and symlinks.

aliasdesk writes map files as the user it runs as, often one that may write /etc/postfix.
A map path chosen by mistake or by someone who got hold of an admin account must not let
it overwrite other files, so:

- the map file lies inside one of ``settings.MAP_DIRS`` (compared after resolving ``..``
  and against the real paths of those directories: a symlink *to* an allowed directory,
  such as /etc/postfix on some systems, is fine);
- nothing below the allowed directory is a symlink: not a directory between it and the
  file, not the map file, not its compiled tables (.db, .lmdb, .cdb) and not the lock file
  (those are also opened with O_NOFOLLOW by the deploy engine, for the moment between
  this check and the write).

``check_map_path`` is called when a domain is created (``domain add``, ``import
--map-file``) and again by whoever writes the map, at every deploy.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# What postmap writes beside the source for each map type (postfix.postmap.COMPILED_SUFFIX);
# all are checked, whatever the type: a type can change, a planted link should never stay.
COMPILED_SUFFIXES = (".db", ".lmdb", ".cdb")


class MapPathError(ValueError):
    """A map path outside ALIASDESK_MAP_DIRS or through a symlink; the message says which."""


def allowed_map_dirs() -> list[Path]:
    """The real paths of the directories of ALIASDESK_MAP_DIRS."""
    return [Path(os.path.realpath(d)) for d in settings.MAP_DIRS if str(d).strip()]


def lock_path(map_path: Path) -> Path:
    """The advisory lock file of a map (beside it, hidden)."""
    return map_path.parent / f".{map_path.name}.lock"


def _inside(path: Path, directory: Path) -> Path | None:
    try:
        return path.relative_to(directory)
    except ValueError:
        return None


# What may stand where aliasdesk writes: whole sentences for each kind of file.
_LINK_PROBLEMS = {
    "map": (
        gettext_lazy("{path}: cannot check the map file: {reason}"),
        gettext_lazy("{path}: the map file is a symbolic link; aliasdesk never writes through one"),
        gettext_lazy("{path}: the map file is not a regular file"),
    ),
    "compiled": (
        gettext_lazy("{path}: cannot check the compiled table: {reason}"),
        gettext_lazy("{path}: the compiled table is a symbolic link; aliasdesk never writes through one"),
        gettext_lazy("{path}: the compiled table is not a regular file"),
    ),
    "lock": (
        gettext_lazy("{path}: cannot check the lock file: {reason}"),
        gettext_lazy("{path}: the lock file is a symbolic link; aliasdesk never writes through one"),
        gettext_lazy("{path}: the lock file is not a regular file"),
    ),
}


def _refuse_link(path: Path, kind: str) -> None:
    """Refuse a file of ``kind`` (map, compiled, lock) that is a symbolic link or no regular file."""
    unreadable, link, irregular = _LINK_PROBLEMS[kind]
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise MapPathError(str(unreadable).format(path=path, reason=exc.strerror)) from exc
    if stat.S_ISLNK(mode):
        raise MapPathError(str(link).format(path=path))
    if not stat.S_ISREG(mode):
        raise MapPathError(str(irregular).format(path=path))


def check_map_path(path: str | Path) -> Path:
    """The map path to use (absolute, below the real allowed directory), or MapPathError."""
    lexical = Path(os.path.normpath(os.path.abspath(os.fspath(path))))
    allowed = allowed_map_dirs()
    for configured in settings.MAP_DIRS:
        # The path may be written with the directory as configured or as its real path.
        real = Path(os.path.realpath(configured))
        rel = _inside(lexical, Path(os.path.normpath(os.path.abspath(configured)))) or _inside(lexical, real)
        if rel is not None and rel.parts:
            break
    else:
        dirs = ":".join(str(d) for d in allowed) or "(none)"
        raise MapPathError(_("{path} is not inside a map directory (ALIASDESK_MAP_DIRS={dirs})").format(
            path=lexical, dirs=dirs))
    current = real
    for part in rel.parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break  # made by the first deploy (below ALIASDESK_MAP_DIR only)
        except OSError as exc:
            raise MapPathError(_("{path}: cannot check the directory: {reason}").format(
                path=current, reason=exc.strerror)) from exc
        if stat.S_ISLNK(mode):
            raise MapPathError(_("{path} is a symbolic link inside the map directory {directory}; use the real "
                                 "path").format(path=current, directory=real))
        if not stat.S_ISDIR(mode):
            raise MapPathError(_("{path} is not a directory").format(path=current))
    final = real / rel
    _refuse_link(final, "map")
    for suffix in COMPILED_SUFFIXES:
        _refuse_link(Path(f"{final}{suffix}"), "compiled")
    _refuse_link(lock_path(final), "lock")
    return final
