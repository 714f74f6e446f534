"""The web service's deploys: a spare of the table made after each, replaced files freed later.

SPARE_MIN is lowered so that a small test map gets a spare as a 500,000-alias one does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.render import render_map
from aliasdesk.aliases.services import create_alias, soft_delete_alias, update_alias
from aliasdesk.deploys import standby
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from tests.deploys.test_incremental import from_scratch, make, table

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _small_spares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standby, "SPARE_MIN", 0)


def spares(map_dir: Path) -> list[str]:
    return sorted(p.name for p in map_dir.iterdir() if standby.SPARE_MARK in p.name)


def temporaries(map_dir: Path) -> list[str]:
    return sorted(p.name for p in map_dir.iterdir() if ".aliasdesk-tmp-" in p.name)


def change(key: str, value: str) -> None:
    alias = Alias.objects.get(key=key)
    update_alias(alias, version=alias.version, destinations=value)


def remove(key: str) -> None:
    alias = Alias.objects.get(key=key)
    soft_delete_alias(alias, version=alias.version)


def web_deploy(domain: Domain) -> Deploy:
    result = deploy_domain(Domain.objects.get(pk=domain.pk), background=True)
    assert result.status == "ok", result.message
    standby.wait(Path(f"{domain.map_path}.{'db' if domain.map_type == 'hash' else domain.map_type}"))
    standby.wait(Path(domain.map_path))
    return Deploy.objects.get(pk=result.deploy_id)


@pytest.mark.parametrize("map_type", ["hash", "lmdb"])
def test_each_web_deploy_leaves_a_spare_the_next_patch_takes(map_dir, postfix_conf, tmp_path, map_type):
    domain = make(map_dir, map_type)
    path = map_dir / "example.com"
    live = Path(f"{path}.{'db' if map_type == 'hash' else 'lmdb'}")
    for n in range(3):
        change("plain@example.com", f"round{n}@example.org")
        deploy = web_deploy(domain)
        assert deploy.method == "patch"
        # the first web deploy copies the table and writes the whole text (the command before
        # it kept no spares); later ones take the spares and write only what changed
        assert ("copy" in deploy.timings) == (n == 0), deploy.timings
        assert ("text-spare" in deploy.timings) == (n > 0), deploy.timings
        assert path.read_bytes() == render_map(Domain.objects.get(pk=domain.pk)).data
        assert table(path, map_type, postfix_conf) == from_scratch(path, map_type, postfix_conf, tmp_path)
        assert spares(map_dir) == sorted(
            standby.spare_path(p, standby.stamp_of(os.stat(p))).name for p in (live, path)
        )
        assert temporaries(map_dir) == []  # the replaced files were freed
        # the spare answers as the live table does
        suffix = "db" if map_type == "hash" else "lmdb"
        table_spare = standby.spare_path(live, standby.stamp_of(os.stat(live)))
        (tmp_path / f"spare.{suffix}").write_bytes(table_spare.read_bytes())
        assert standby.spare_path(path, standby.stamp_of(os.stat(path))).read_bytes() == path.read_bytes()
        assert table(tmp_path / "spare", map_type, postfix_conf) == table(path, map_type, postfix_conf)


def test_a_spare_of_a_file_no_longer_live_is_never_used(map_dir, postfix_conf, tmp_path):
    domain = make(map_dir)
    path = map_dir / "example.com"
    change("plain@example.com", "one@example.org")
    web_deploy(domain)
    for spare in spares(map_dir):  # make them another table's and another text's
        (map_dir / spare).rename(map_dir / spare.replace(standby.SPARE_MARK, f"{standby.SPARE_MARK}1"))
    change("plain@example.com", "two@example.org")
    result = deploy_domain(Domain.objects.get(pk=domain.pk))
    assert result.status == "ok" and result.method == "patch", result.message
    assert "copy" in result.timings and "text-spare" not in result.timings  # not the stale spares
    assert spares(map_dir) == []  # which are gone
    assert path.read_bytes() == render_map(Domain.objects.get(pk=domain.pk)).data
    assert table(path, "hash", postfix_conf) == from_scratch(path, "hash", postfix_conf, tmp_path)


def test_changes_anywhere_in_the_text_written_on_its_spare(map_dir, postfix_conf, tmp_path):
    """First, middle, last alias; longer, shorter; added and removed: only the tail is rewritten."""
    domain = make(map_dir, footer="# the end\n")
    path = map_dir / "example.com"
    steps = [
        lambda: change("last@example.com", "a-much-longer-destination@example.org, another@example.org"),
        lambda: change("first@example.com", "x@example.org"),
        lambda: change("noted@example.com", "y@example.org"),
        lambda: create_alias(domain, "new@example.com", "z@example.org", comment="added"),
        lambda: remove("plain@example.com"),
    ]
    for n, step in enumerate(steps):
        step()
        deploy = web_deploy(domain)
        assert deploy.method == "patch"
        if n:
            assert "text-spare" in deploy.timings, deploy.timings
        assert path.read_bytes() == render_map(Domain.objects.get(pk=domain.pk)).data, n
        assert table(path, "hash", postfix_conf) == from_scratch(path, "hash", postfix_conf, tmp_path)


def test_a_command_deploy_keeps_no_spare_and_leaves_nothing(map_dir):
    domain = make(map_dir)
    change("plain@example.com", "cli@example.org")
    result = deploy_domain(Domain.objects.get(pk=domain.pk))
    assert result.status == "ok"
    assert spares(map_dir) == [] and temporaries(map_dir) == []


def test_a_spare_changed_while_it_was_copied_is_dropped(map_dir, monkeypatch):
    domain = make(map_dir)
    live = Path(f"{domain.map_path}.db")
    real_copy = standby._copy

    def copy_then_touch(src: int, dst: int, size: int) -> None:
        real_copy(src, dst, size)
        os.utime(live, ns=(2, 2))  # someone rebuilt the table meanwhile

    monkeypatch.setattr(standby, "_copy", copy_then_touch)
    assert standby.make_spare(live) is None
    assert spares(map_dir) == []
