"""The web service's deploys: a spare of the table made after each, replaced files freed later.

SPARE_MIN is lowered so that a small test map gets a spare as a 500,000-alias one does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import update_alias
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


def web_deploy(domain: Domain) -> Deploy:
    result = deploy_domain(Domain.objects.get(pk=domain.pk), background=True)
    assert result.status == "ok", result.message
    standby.wait(Path(f"{domain.map_path}.{'db' if domain.map_type == 'hash' else domain.map_type}"))
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
        # the first web deploy copies the table (the command before it kept no spare); later ones take the spare
        assert ("copy" in deploy.timings) == (n == 0), deploy.timings
        assert table(path, map_type, postfix_conf) == from_scratch(path, map_type, postfix_conf, tmp_path)
        st = os.stat(live)
        assert spares(map_dir) == [standby.spare_path(live, standby.stamp_of(st)).name]
        assert temporaries(map_dir) == []  # the replaced files were freed
        # the spare answers as the live table does
        suffix = "db" if map_type == "hash" else "lmdb"
        (tmp_path / f"spare.{suffix}").write_bytes((map_dir / spares(map_dir)[0]).read_bytes())
        assert table(tmp_path / "spare", map_type, postfix_conf) == table(path, map_type, postfix_conf)


def test_a_spare_of_a_table_no_longer_live_is_never_used(map_dir, postfix_conf, tmp_path):
    domain = make(map_dir)
    path = map_dir / "example.com"
    change("plain@example.com", "one@example.org")
    web_deploy(domain)
    (spare,) = spares(map_dir)
    stale = map_dir / spare.replace(standby.SPARE_MARK, f"{standby.SPARE_MARK}1")  # another table's
    (map_dir / spare).rename(stale)
    change("plain@example.com", "two@example.org")
    result = deploy_domain(Domain.objects.get(pk=domain.pk))
    assert result.status == "ok" and result.method == "patch", result.message
    assert "copy" in result.timings  # copied, not the stale spare
    assert spares(map_dir) == []  # and the stale one is gone
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
