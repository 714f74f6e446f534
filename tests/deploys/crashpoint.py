"""Run the aliasdesk command and SIGKILL it at one exact point.

    python crashpoint.py after-replace DEST aliasdesk-arguments...
        killed right after it renames a file onto DEST (``os.replace``)
    python crashpoint.py after-fork aliasdesk-arguments...
        killed right after its first ``os.fork()`` returns; the child goes on only once the
        parent is dead, as when a kill -9 lands before the child could set anything up

A kill -9 at a random moment rarely lands in a window microseconds wide; this puts it
exactly there, so the state such a crash leaves can be tested every time. Only calls made
through the ``os`` module count: subprocess's fork+exec and Python's bytecode cache writes
use ``posix`` directly and are not affected.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after_replace(dest: str) -> None:
    real_replace, target = os.replace, os.path.realpath(dest)

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        real_replace(src, dst, *args, **kwargs)
        if os.path.realpath(os.fspath(dst)) == target:
            _die()

    os.replace = replace


def kill_after_fork() -> None:
    real_fork = os.fork

    def fork() -> int:
        parent = os.getpid()
        pid = real_fork()
        if pid:
            _die()
        deadline = time.monotonic() + 30
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(0.001)
        return pid

    os.fork = fork


def main() -> int:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "after-replace":
        kill_after_replace(args.pop(0))
    elif mode == "after-fork":
        kill_after_fork()
    else:
        raise SystemExit(f"unknown crash point {mode!r}")
    from aliasdesk.cli import main as aliasdesk_main

    return aliasdesk_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
