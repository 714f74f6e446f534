"""The one place that runs postmap. No shell: arguments are a list, stderr is captured.

Tests that must force a failure swap ``run_postmap`` (or point the program at
something that fails); everything else runs the real binary.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
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
    # postmap -q exits 1 when no key was found: that is an answer, not a failure.
    if proc.returncode != 0 and not (args and args[0] == "-q" and proc.returncode == 1 and not err):
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
