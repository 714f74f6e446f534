"""Fixtures for end-to-end tests: a real Postfix on loopback and the aliasdesk command.

Every test that uses ``postfix_server`` gets the ``postfix`` marker, so
``pytest -m "not postfix"`` leaves them out; they skip by themselves where Postfix
cannot run (not installed, not root). A failing test's report ends with each of its
Postfix instances' mail log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

import pytest

from .postfix_server import SBIN_DIRS, PostfixServer, supported_map_types, unavailable_reason

PostfixServerFactory = Callable[..., PostfixServer]
servers_key = pytest.StashKey[list[PostfixServer]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postfix_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postfix)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    report = yield
    if isinstance(report, pytest.TestReport) and report.failed:
        for server in item.stash.get(servers_key, []):
            report.sections.append((f"postfix maillog {server.maillog_path}", server.maillog() or "(empty)\n"))
    return report


@pytest.fixture(scope="session")
def postfix_map_types() -> set[str]:
    """Map types the installed Postfix supports; skips the test where Postfix cannot run."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    return supported_map_types()


@pytest.fixture
def postfix_server(
    request: pytest.FixtureRequest, postfix_map_types: set[str], monkeypatch: pytest.MonkeyPatch
) -> Generator[PostfixServerFactory, None, None]:
    """Make private Postfix instances: ``postfix_server(mailboxes=[...], map_type=..., start=False)``.

    Each call configures a new instance (see ``PostfixServer``) and starts it unless
    ``start=False``; all are stopped and removed when the test ends, pass or fail.
    """
    servers: list[PostfixServer] = []
    request.node.stash[servers_key] = servers

    def make(
        *,
        mailboxes: Sequence[str],
        alias_domains: Sequence[str] = ("example.com",),
        map_type: str = "hash",
        map_path: Path | str | None = None,
        extra_settings: dict[str, str] | None = None,
        start: bool = True,
    ) -> PostfixServer:
        if map_type not in postfix_map_types:
            pytest.skip(f"this Postfix has no {map_type} map support (Debian: postfix-{map_type})")
        server = PostfixServer(
            mailboxes=mailboxes,
            alias_domains=alias_domains,
            map_type=map_type,
            map_path=map_path,
            extra_settings=extra_settings,
        )
        servers.append(server)
        # Its map lives in the instance's directory: a map directory for this test's commands.
        monkeypatch.setenv("ALIASDESK_MAP_DIRS", f"{os.environ.get('ALIASDESK_MAP_DIRS', '')}:{server.root}")
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.close()


class AliasdeskCLI:
    """Runs the ``aliasdesk`` command as a user would, against a private data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {name: value for name, value in os.environ.items() if not name.startswith(("ALIASDESK_", "DJANGO_"))}
        self.env["ALIASDESK_DATA_DIR"] = str(data_dir)
        self.env["PATH"] = os.pathsep.join([self.env.get("PATH", ""), *SBIN_DIRS])

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``aliasdesk ARGS``; with ``check``, a non-zero exit fails the test with its output."""
        argv = [sys.executable, "-m", "aliasdesk", *args]
        # The temp dirs of tests/conftest.py and of the Postfix instances made so far.
        self.env["ALIASDESK_MAP_DIRS"] = os.environ.get("ALIASDESK_MAP_DIRS", "")
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            pytest.fail(
                f"aliasdesk {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}",
                pytrace=False,
            )
        return result


@pytest.fixture(scope="session")
def migrated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after ``aliasdesk migrate``: made once, copied for each test."""
    data_dir = tmp_path_factory.mktemp("aliasdesk-migrated")
    AliasdeskCLI(data_dir).run("migrate")
    return data_dir


@pytest.fixture
def aliasdesk(tmp_path: Path, migrated_data_dir: Path) -> AliasdeskCLI:
    """The aliasdesk command with its own migrated data directory (SQLite database included)."""
    data_dir = tmp_path / "aliasdesk-data"
    shutil.copytree(migrated_data_dir, data_dir)
    return AliasdeskCLI(data_dir)
