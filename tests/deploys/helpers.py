"""Small helpers for deploy tests: read what Postfix would see."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aliasdesk.postfix.maps.virtual import split_destinations


def postmap_dump(path: Path, map_type: str, conf: Path) -> dict[str, list[str]]:
    """``postmap -s``: every key with its destinations, as Postfix reads the compiled map."""
    out = subprocess.run(
        ["postmap", "-c", str(conf), "-s", f"{map_type}:{path}"], capture_output=True, text=True, check=True
    ).stdout
    result = {}
    for line in out.splitlines():
        key, _, value = line.partition("\t")
        result[key] = split_destinations(value)
    return result


def postmap_query(path: Path, map_type: str, conf: Path, key: str) -> str | None:
    proc = subprocess.run(["postmap", "-c", str(conf), "-q", key, f"{map_type}:{path}"], capture_output=True, text=True)
    return proc.stdout.rstrip("\n") if proc.returncode == 0 else None


def compile_original(src: Path, dest_dir: Path, conf: Path, map_type: str = "hash") -> Path:
    """Compile a copy of an original map file, as the administrator's postmap would."""
    copy = dest_dir / f"original-{src.name}"
    copy.write_bytes(src.read_bytes())
    subprocess.run(["postmap", "-c", str(conf), f"{map_type}:{copy}"], capture_output=True, check=True)
    return copy
