"""Work a deploy leaves for after its map is live: spare copies of big files, old files to free.

A patch deploy starts from a copy of the compiled table and writes the whole text anew.
For a 500,000-alias map that is 84 + 45 MB to write and, above all, to fsync: most of the
time a saved change would otherwise wait. So after a deploy that installed big files, a
background thread copies each to a spare beside it and syncs it, while nobody waits. A
spare's name carries the stamp (inode, size, mtime) of the file it copies; the next patch
deploy renames it to its working name when that stamp is still the live file's (and then
writes only what changed), and copies or writes the whole file otherwise. Freeing the
replaced files (unlinking 130 MB takes ext4 ~60 ms) happens in the same thread.

Only the web process does this (``deploy_domain(background=True)``): a command keeps no
spares, which nobody might use soon, and replaces the old files directly. A spare that a
killed process was writing is removed by the next deploy of the map.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

SPARE_MARK = ".aliasdesk-spare-"
# Below this a table is copied in a few milliseconds: no spare is kept.
SPARE_MIN = 8 * 1024 * 1024

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_pending: dict[Path, Future[Path | None]] = {}


def stamp_of(st: os.stat_result) -> str:
    return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"


def spare_path(table: Path, stamp: str) -> Path:
    return table.with_name(f".{table.name}{SPARE_MARK}{stamp}")


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aliasdesk-standby")
        return _executor


def wait(table: Path) -> None:
    """Let this process's spare of ``table`` be finished (never slower than copying anew)."""
    with _lock:
        future = _pending.get(table)
    if future is not None:
        with suppress(Exception):
            future.result()


def after_deploy(spares: list[Path], graves: Iterable[Path], *, background: bool, lock: Path | None = None) -> None:
    """Free the replaced files and keep a spare of each of ``spares`` (the files just installed),
    one after the other in the background thread. Where a deploy holds ``lock`` (the map's)
    by the time a spare after the first is due, that one is not made: the deploy replaces
    the file anyway, and saves coming one right after the other need the disk for themselves.
    """
    graves = list(graves)
    if not background:
        _free(graves)
        return
    pool = _pool()
    pool.submit(_free, graves)
    for n, path in enumerate(spares):
        future = pool.submit(make_spare, path, busy=lock if n else None)
        with _lock:
            _pending[path] = future
        future.add_done_callback(lambda done, path=path: _forget(path, done))  # type: ignore[misc]


def _forget(path: Path, done: Future[Path | None]) -> None:
    with _lock:
        if _pending.get(path) is done:
            del _pending[path]


def _free(graves: list[Path]) -> None:
    for grave in graves:
        with suppress(OSError):
            grave.unlink()


def make_spare(table: Path, busy: Path | None = None) -> Path | None:
    """Copy ``table`` (or a map's text) to its spare, synced; None when it is small, gone,
    changed meanwhile, or when the lock file ``busy`` is held by a deploy."""
    if busy is not None and _held(busy):
        return None
    try:
        src = os.open(table, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    partial = table.with_name(f".{table.name}{SPARE_MARK}partial-{os.getpid()}-{threading.get_ident()}")
    try:
        before = os.fstat(src)
        if before.st_size < SPARE_MIN:
            return None
        dst = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, before.st_mode & 0o7777)
        try:
            _copy(src, dst, before.st_size)
            os.fsync(dst)
        finally:
            os.close(dst)
        after = os.stat(table, follow_symlinks=False)
        if stamp_of(after) != stamp_of(before):
            return None  # replaced or written while copying: the copy may be of neither
        spare = spare_path(table, stamp_of(before))
        os.replace(partial, spare)
        return spare
    except OSError:
        return None
    finally:
        os.close(src)
        with suppress(OSError):
            partial.unlink()


def _held(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock again
    return False


def _copy(src: int, dst: int, size: int) -> None:
    done = 0
    while done < size:
        sent = os.copy_file_range(src, dst, size - done)
        if sent == 0:
            break
        done += sent


def take_spare(path: Path, into: Path, *, wait_for_it: bool = True) -> bool:
    """Rename the spare of the live ``path`` to ``into``; False when there is none. Without
    ``wait_for_it``, one this process is still making does not count either."""
    if wait_for_it:
        wait(path)
    else:
        with _lock:
            if path in _pending:
                return False
    try:
        live = os.stat(path, follow_symlinks=False)
        os.rename(spare_path(path, stamp_of(live)), into)
    except OSError:
        return False
    return True


def remove_stale(table: Path) -> None:
    """Spares of tables no longer live, and partial ones of killed processes. Under the map lock.

    This process's own spare in the making is left to finish: the deploy waits for it only
    when it takes it, so its planning and its text's write happen meanwhile.
    """
    try:
        live = spare_path(table, stamp_of(os.stat(table, follow_symlinks=False))).name
    except OSError:
        live = ""
    ours = f".{table.name}{SPARE_MARK}partial-{os.getpid()}-"
    for path in files_starting(table.parent, f".{table.name}{SPARE_MARK}"):
        if path.name != live and not path.name.startswith(ours):
            with suppress(OSError):
                path.unlink()


def files_starting(directory: Path, *prefixes: str) -> list[Path]:
    """The entries of ``directory`` whose names start with one of ``prefixes``: one listing,
    no pattern matching (every deploy of thousands of maps in one directory asks twice)."""
    try:
        with os.scandir(directory) as entries:
            return [Path(entry.path) for entry in entries if entry.name.startswith(prefixes)]
    except OSError:
        return []
