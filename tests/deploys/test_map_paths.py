"""ALIASDESK_MAP_DIRS and symlinks: a map file only inside the map directories, never
written through a link; checked on `domain add`, `import --map-file` and every deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.paths import MapPathError, check_map_path
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.files import map_lock
from aliasdesk.deploys.models import Deploy
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]

MAP = "info@example.com\tanna@example.org\n"


@pytest.fixture
def dirs(aliasdesk_settings, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """``allowed`` is the only map directory; ``outside`` holds what a link may point at."""
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "target").write_text("precious\n")
    aliasdesk_settings.MAP_DIRS = [allowed]
    aliasdesk_settings.MAP_DIR = allowed
    return allowed, outside


# Each case makes the bad path (and what it needs on disk) and returns it.
Case = Callable[[Path, Path], str]


def _outside(allowed: Path, outside: Path) -> str:
    return str(outside / "virtual")


def _dotdot(allowed: Path, outside: Path) -> str:
    return f"{allowed}/../outside/virtual"


def _link_map(allowed: Path, outside: Path) -> str:
    (allowed / "virtual").symlink_to(outside / "target")
    return str(allowed / "virtual")


def _link_db(allowed: Path, outside: Path) -> str:
    (allowed / "virtual.db").symlink_to(outside / "target")
    return str(allowed / "virtual")


def _link_lock(allowed: Path, outside: Path) -> str:
    (allowed / ".virtual.lock").symlink_to(outside / "target")
    return str(allowed / "virtual")


def _link_dir(allowed: Path, outside: Path) -> str:
    (allowed / "sub").symlink_to(outside)
    return str(allowed / "sub" / "virtual")


CASES: dict[str, tuple[Case, str]] = {
    "outside": (_outside, "not inside a map directory"),
    "dotdot": (_dotdot, "not inside a map directory"),
    "symlinked map file": (_link_map, "map file is a symbolic link"),
    "symlinked .db": (_link_db, "compiled table is a symbolic link"),
    "symlinked lock file": (_link_lock, "lock file is a symbolic link"),
    "symlinked directory": (_link_dir, "is a symbolic link inside the map directory"),
}


def untouched(outside: Path) -> None:
    assert (outside / "target").read_text() == "precious\n"
    assert sorted(p.name for p in outside.iterdir()) == ["target"]


@pytest.mark.parametrize("case", CASES)
def test_check_map_path_refuses(dirs: tuple[Path, Path], case: str) -> None:
    make, reason = CASES[case]
    with pytest.raises(MapPathError, match=reason):
        check_map_path(make(*dirs))


@pytest.mark.parametrize("case", CASES)
def test_domain_add_refuses_and_creates_nothing(dirs: tuple[Path, Path], case: str) -> None:
    make, reason = CASES[case]
    with pytest.raises(CommandError, match=reason) as refused:
        call_command("domain", "add", "example.com", "--map-file", make(*dirs))
    assert "\n" not in str(refused.value)
    assert not Domain.objects.exists()
    untouched(dirs[1])


@pytest.mark.parametrize("case", CASES)
def test_import_refuses_and_creates_nothing(dirs: tuple[Path, Path], tmp_path: Path, case: str) -> None:
    make, reason = CASES[case]
    src = tmp_path / "virtual.in"
    src.write_text(MAP)
    with pytest.raises(CommandError, match=reason) as refused:
        call_command("import", str(src), "--domain", "example.com", "--map-file", make(*dirs))
    assert "\n" not in str(refused.value)
    assert not Domain.objects.exists()
    untouched(dirs[1])


@pytest.mark.parametrize("case", CASES)
def test_deploy_refuses_and_records_why(dirs: tuple[Path, Path], case: str) -> None:
    """A path that became bad after the domain was created (a link planted, the setting
    narrowed, the row edited) is refused at the deploy, which is recorded as failed."""
    require_postmap()
    allowed, outside = dirs
    domain = create_domain("example.com", map_path=allowed / "good")
    create_alias(domain, "info@example.com", "anna@example.org")
    make, reason = CASES[case]
    Domain.objects.filter(pk=domain.pk).update(map_path=make(allowed, outside))
    domain.refresh_from_db()
    result = deploy_domain(domain)
    assert result.status == Deploy.Status.FAILED
    assert reason in result.message
    deploy = Deploy.objects.get(domain=domain)
    assert deploy.status == Deploy.Status.FAILED and reason in deploy.error
    untouched(outside)
    assert not (allowed / "good").exists()


def test_a_good_path_deploys(dirs: tuple[Path, Path], postfix_conf: Path) -> None:
    require_postmap()
    allowed, _ = dirs
    domain = create_domain("example.com", map_path=allowed / "sub" / ".." / "example.com")
    assert domain.map_path == str(allowed / "example.com")
    create_alias(domain, "info@example.com", "anna@example.org")
    assert deploy_domain(domain).status == Deploy.Status.OK
    assert (allowed / "example.com").read_text().endswith(MAP)


def test_an_allowed_directory_may_itself_be_a_link(dirs: tuple[Path, Path], tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """/etc/postfix is a link on some systems: the directory as configured counts by its real path."""
    allowed, _ = dirs
    link = tmp_path / "etc-postfix"
    link.symlink_to(allowed)
    settings.MAP_DIRS = [link]
    assert check_map_path(link / "virtual") == allowed / "virtual"
    assert check_map_path(allowed / "virtual") == allowed / "virtual"


def test_the_directory_itself_is_no_map_file(dirs: tuple[Path, Path]) -> None:
    with pytest.raises(MapPathError, match="not inside"):
        check_map_path(dirs[0])


def test_the_lock_is_never_opened_through_a_link(dirs: tuple[Path, Path]) -> None:
    allowed, outside = dirs
    _link_lock(allowed, outside)
    with pytest.raises(Exception, match="symbolic link"), map_lock(allowed / "virtual"):
        pass
    untouched(outside)


@pytest.mark.parametrize("command", ["domain", "import"])
def test_the_command_exits_non_zero_with_one_line(tmp_path: Path, postfix_conf: Path, command: str) -> None:
    """As a user runs it: exit 1, one line on stderr, no domain."""
    allowed = tmp_path / "maps"
    allowed.mkdir()
    src = tmp_path / "virtual.in"
    src.write_text(MAP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIASDESK_", "DJANGO_"))}
    env.update(ALIASDESK_DATA_DIR=str(tmp_path / "data"), ALIASDESK_MAP_DIRS=str(allowed))
    run = [sys.executable, "-m", "aliasdesk"]
    subprocess.run([*run, "migrate", "--verbosity", "0"], env=env, check=True, capture_output=True)
    args = {
        "domain": ["domain", "add", "example.com", "--map-file", "/tmp/../etc/passwd"],
        "import": ["import", str(src), "--domain", "example.com", "--map-file", "/etc/passwd"],
    }[command]
    proc = subprocess.run([*run, *args], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "/etc/passwd is not inside a map directory (ALIASDESK_MAP_DIRS=" in proc.stderr
    listing = subprocess.run([*run, "domain", "list"], env=env, capture_output=True, text=True, check=True)
    assert listing.stdout == ""


def test_importing_hand_edits_never_reads_through_a_link(dirs: tuple[Path, Path]) -> None:
    """The web's "import the hand edits" reads the map file: not when it became a link."""
    from django.test import Client

    from aliasdesk.accounts.models import User

    allowed, outside = dirs
    (outside / "target").write_text("secret@example.com\tleak@example.org\n")
    domain = create_domain("example.com", map_path=allowed / "example.com")
    (allowed / "example.com").symlink_to(outside / "target")
    admin = User.objects.create(username="alice", role=User.Role.ADMIN)
    client = Client()
    client.force_login(admin)
    response = client.post("/domains/example.com/deploy/import")
    assert response.status_code == 422
    assert "map file is a symbolic link" in response.content.decode()
    assert "leak@example.org" not in response.content.decode()
    assert not domain.aliases.exists()
