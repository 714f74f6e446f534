"""The one place that runs Postfix's programs: postmap (builds, patches, queries), postconf,
and the reload command texthash maps need. No shell: arguments are a list, stderr is
captured. Also the stand-in configuration postmap needs on a host without Postfix's own.

Tests that must force a failure swap ``run_postmap`` (or point the program at
something that fails); everything else runs the real binary.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import queue
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

COMPILED_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "texthash": ""}


class PostmapError(Exception):
    """postmap could not run or failed; ``output`` holds what it said."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


@dataclass
class Postmap:
    """How to call postmap on this host."""

    program: str = "postmap"
    config_dir: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        cmd = [self.program]
        if self.config_dir:
            cmd += ["-c", self.config_dir]
        return cmd + list(args)


def compiled_path(path: str | Path, map_type: str) -> Path | None:
    """Where postmap writes the compiled table of a source file (None for texthash)."""
    suffix = COMPILED_SUFFIX.get(map_type)
    if suffix is None:
        raise PostmapError(f"unsupported map type {map_type!r}")
    return Path(f"{path}{suffix}") if suffix else None


def die_with_parent(parent: int) -> None:
    """In a child of ``parent``: be killed when the parent dies, so a killed deploy leaves
    nothing running. If the parent died before this call, exit at once."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the orphan finishes its temporary file, which the next deploy removes
    if os.getppid() != parent:
        os._exit(1)


def _env(postmap: Postmap) -> dict[str, str]:
    env = dict(os.environ)
    env.update(postmap.extra_env)
    return env


def run_postmap(postmap: Postmap, args: Sequence[str], stdin: str | None = None, timeout: float = 600) -> str:
    """Run postmap with ``args``; return stdout, raise PostmapError with stderr on failure."""
    cmd = postmap.command(*args)
    try:
        proc = subprocess.run(
            cmd,
            input=stdin.encode("utf-8") if stdin is not None else None,
            capture_output=True,
            timeout=timeout,
            env=_env(postmap),
        )
    except FileNotFoundError as exc:
        raise PostmapError(f"postmap program not found: {postmap.program}") from exc
    except subprocess.TimeoutExpired as exc:
        raise PostmapError(f"postmap did not finish within {timeout:.0f} s") from exc
    err = proc.stderr.decode("utf-8", "replace")
    # postmap -q and -d exit 1 when no key was found: that is an answer, not a failure.
    if proc.returncode != 0 and not (args and args[0] in ("-q", "-d") and proc.returncode == 1 and not err):
        raise PostmapError(f"postmap failed (exit {proc.returncode}): {_first_line(err)}", err)
    return proc.stdout.decode("utf-8", "replace")


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


class Build:
    """A postmap build running in the background, so validation can run beside it."""

    def __init__(self, postmap: Postmap, map_type: str, path: Path) -> None:
        self.cmd = postmap.command(f"{map_type}:{path}")
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                self.cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(postmap),
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )
            self.missing = ""
        except FileNotFoundError:
            self.proc = None
            self.missing = f"postmap program not found: {postmap.program}"
        except OSError as exc:
            self.proc = None
            self.missing = f"postmap could not start: {exc}"

    def wait(self, timeout: float = 600) -> str:
        """Wait for the build; return its stderr (warnings), raise PostmapError on failure."""
        if self.proc is None:
            raise PostmapError(self.missing)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            raise PostmapError(f"postmap did not finish within {timeout:.0f} s") from exc
        text = (out + err).decode("utf-8", "replace")
        if self.proc.returncode != 0:
            reason = f"signal {-self.proc.returncode}" if self.proc.returncode < 0 else f"exit {self.proc.returncode}"
            raise PostmapError(f"postmap failed ({reason}): {_first_line(text)}", text)
        return text

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


# postmap reads these tables' source once, front to back; an lmdb build may rewind it.
STREAMED_TYPES = frozenset({"hash", "btree", "cdb"})
_PIPE_SIZE = 1 << 20


class StreamBuild:
    """A postmap build of ``map_type:path`` fed while the text is still being made.

    ``path`` starts as a FIFO that postmap opens as its source; once it has, the name is
    unlinked and becomes the text file, written with the same pieces (``feed``) just before
    postmap reads them. So postmap builds the table as the rows are read and rendered, reads
    exactly the bytes of the text file, and finishes after the text is complete: the table
    (``path`` + suffix, as for ``Build``) is never older than its text. ``wait`` returns
    once both are done, the text synced; ``kill`` stops both. Errors writing the text are
    raised by ``wait`` (an ``OSError``) before postmap's own.
    """

    def __init__(self, postmap: Postmap, map_type: str, path: Path, mode: int) -> None:
        if map_type not in STREAMED_TYPES:
            raise PostmapError(f"{map_type} tables are not built from a stream")
        self.path, self.mode = path, mode
        os.mkfifo(path, mode)
        self.build = Build(postmap, map_type, path)
        self.error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._pieces: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._pump, name="aliasdesk-postmap-feed", daemon=True)
        self._thread.start()

    def feed(self, data: bytes) -> None:
        self._pieces.put(data)

    def close(self) -> None:
        """No more text: postmap reads its end once what was fed is written."""
        if not self._closed:
            self._closed = True
            self._pieces.put(None)

    def wait(self, timeout: float = 600) -> str:
        """Wait for the text and the table; return postmap's warnings."""
        self.close()
        self._thread.join(timeout)
        if self._thread.is_alive():  # postmap stopped reading
            self.kill()
            raise PostmapError(f"postmap did not finish within {timeout:.0f} s")
        if self.error is not None:
            self.build.kill()
            raise self.error
        return self.build.wait(timeout)

    @property
    def sha256(self) -> str:
        """The text's SHA-256, once ``wait`` has returned."""
        return self._digest.hexdigest()

    def kill(self) -> None:
        self._stop.set()
        self.close()
        self.build.kill()
        self._thread.join(timeout=10)

    def _pump(self) -> None:
        fifo, text = -1, None
        try:
            fifo = self._open_fifo()
            os.unlink(self.path)  # postmap reads through its descriptor; the name is the text's now
            text = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, self.mode), "wb")
            while (data := self._pieces.get()) is not None:
                self._digest.update(data)  # beside the rendering: hashlib lets go of the GIL
                text.write(data)
                if fifo >= 0 and not self._write_fifo(fifo, data):
                    os.close(fifo)
                    fifo = -1
            text.flush()
            if fifo >= 0:  # the text is complete before postmap sees the end of it
                os.close(fifo)
                fifo = -1
            os.fsync(text.fileno())
            os.fchmod(text.fileno(), self.mode)
        except BaseException as exc:  # raised by wait()
            self.error = exc
        finally:
            if fifo >= 0:
                os.close(fifo)
            if text is not None:
                try:
                    text.close()
                except OSError as exc:
                    self.error = self.error or exc

    def _open_fifo(self) -> int:
        """The FIFO's writing end once postmap has opened it; -1 if postmap ended first."""
        proc, pause = self.build.proc, 0.0005
        while True:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                if proc is None or proc.poll() is not None or self._stop.is_set():
                    return -1
                time.sleep(pause)  # postmap opens it within milliseconds, a wrapper may take longer
                pause = min(2 * pause, 0.02)
                continue
            with contextlib.suppress(OSError, AttributeError):  # fewer wake-ups on both sides
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            os.set_blocking(fd, True)
            return fd

    def _write_fifo(self, fd: int, data: bytes) -> bool:
        """Write all of ``data`` unless postmap is gone or the build was killed.

        Blocking writes of up to a pipe's worth: the thread sleeps in the kernel until
        postmap has taken it, rather than taking the GIL each time it frees a page.
        """
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                view = view[os.write(fd, view[:_PIPE_SIZE]) :]
            except BrokenPipeError:
                return False
        return not view


def build_map(postmap: Postmap, map_type: str, path: Path) -> str:
    """Compile ``path`` in place; returns postmap's warnings."""
    return Build(postmap, map_type, path).wait()


def query_map(postmap: Postmap, map_type: str, path: Path, keys: Iterable[str]) -> dict[str, str]:
    """Look many keys up at once (``postmap -q -``); returns the keys found and their values."""
    text = "".join(f"{k}\n" for k in keys)
    out = run_postmap(postmap, ["-q", "-", f"{map_type}:{path}"], stdin=text)
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("\t")
        found[key] = value
    return found


def dump_map(postmap: Postmap, map_type: str, path: Path) -> list[tuple[str, str]]:
    """Every entry of a compiled map (``postmap -s``; not for cdb)."""
    out = run_postmap(postmap, ["-s", f"{map_type}:{path}"])
    rows = []
    for line in out.splitlines():
        key, _, value = line.partition("\t")
        rows.append((key, value))
    return rows


def apply_changes(
    postmap: Postmap, map_type: str, path: Path, upserts: dict[str, str], deletes: Iterable[str]
) -> str:
    """Patch a compiled table in place: delete ``deletes``, then insert or replace ``upserts``.

    ``postmap -d -`` reads the keys to delete from stdin; ``postmap -r -i`` reads ``key value``
    lines and replaces a key that exists (plain ``-i`` would keep the old value). Returns
    what postmap said. Run it on a copy: postmap writes a hash table in place.
    """
    output = ""
    gone = [k for k in deletes if k not in upserts]
    if gone:
        keys = "".join(f"{k}\n" for k in gone)
        output += run_postmap(postmap, ["-d", "-", f"{map_type}:{path}"], stdin=keys)
    if upserts:
        lines = "".join(f"{k} {v}\n" for k, v in upserts.items())
        output += run_postmap(postmap, ["-r", "-i", f"{map_type}:{path}"], stdin=lines)
    return output


def run_postconf(names: Sequence[str], program: str = "postconf", config_dir: str | None = None) -> str | None:
    """Several parameters of Postfix's configuration in one call, expanded (``postconf -x``):
    ``name = value`` lines. None when the configuration cannot be read (no postconf, no
    main.cf). One call for all names: each start of postconf costs 10-50 ms."""
    argv = [program, *(["-c", config_dir] if config_dir else []), "-x", *names]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout


def run_reload(command: str, timeout: float = 120) -> str:
    """Run the configured reload command (texthash maps are read once, at start)."""
    if not command:
        return "texthash: no ALIASDESK_RELOAD_COMMAND set; run 'postfix reload' to load the new map\n"
    try:
        proc = subprocess.run(shlex.split(command), capture_output=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"reload command failed: {exc}\n"
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode != 0:
        return f"reload command failed (exit {proc.returncode}): {text}"
    return text


def missing_program(program: str) -> str:
    """Why ``program`` (postmap as configured) cannot run here, or "" when it can."""
    found = shutil.which(program) or (shutil.which(program, path="/usr/sbin:/sbin") if "/" not in program else None)
    if found:
        return ""
    return (
        f"postmap ({program}) is not installed on this host, so nothing can be deployed here: install "
        "Postfix (Debian: apt install postfix), or set ALIASDESK_POSTMAP to where postmap is"
    )


def standin_config(data_dir: str | Path) -> str:
    """A minimal configuration directory for postmap where /etc/postfix/main.cf is absent
    (a workstation, a demo): postmap refuses to run without one."""
    config = Path(data_dir) / "postfix-config"
    if not (config / "main.cf").exists():
        config.mkdir(parents=True, exist_ok=True)
        (config / "main.cf").write_text("# used by aliasdesk's postmap where /etc/postfix/main.cf is absent\n")
    return str(config)
