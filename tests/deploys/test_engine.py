"""The deploy engine against the real postmap: what Postfix sees is always complete and right."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from aliasdesk.aliases.importer import import_map
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain, update_alias
from aliasdesk.deploys.engine import deploy_all, deploy_domain
from aliasdesk.deploys.models import Deploy
from tests.conftest import REALDATA, realdata, require_postmap
from tests.deploys.helpers import compile_original, postmap_dump, postmap_query

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postmap(aliasdesk_settings):  # type: ignore[no-untyped-def]
    require_postmap()


def make_domain(map_dir: Path, map_type: str = "hash", name: str = "example.com") -> Domain:
    domain = create_domain(name, map_path=map_dir / name, map_type=map_type)
    create_alias(domain, "info@example.com", "anna@example.org, ben@example.org", comment="ticket 7")
    create_alias(domain, "off@example.com", "carla@example.org", enabled=False)
    domain.footer = "# catch-all, keep last\n@example.com\tdevnull@example.org\n"
    domain.save()
    return domain


@pytest.mark.parametrize("map_type", ["hash", "lmdb", "cdb", "texthash"])
def test_it_deploys_every_map_type(map_dir, postfix_conf, map_type):
    domain = make_domain(map_dir, map_type)
    result = deploy_domain(domain)
    assert result.status == "ok", result.message
    path = map_dir / "example.com"
    assert postmap_query(path, map_type, postfix_conf, "INFO@example.com") == "anna@example.org, ben@example.org"
    assert postmap_query(path, map_type, postfix_conf, "off@example.com") is None
    assert postmap_query(path, map_type, postfix_conf, "@example.com") == "devnull@example.org"
    assert not [p for p in map_dir.iterdir() if ".aliasdesk-tmp-" in p.name]
    assert Deploy.objects.get(pk=result.deploy_id).status == "ok"


def test_rendered_file_is_what_export_prints(map_dir):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    text = (map_dir / "example.com").read_text()
    assert text == (
        "# ticket 7\ninfo@example.com\tanna@example.org, ben@example.org\n"
        "#off@example.com\tcarla@example.org\n"
        "\n# catch-all, keep last\n@example.com\tdevnull@example.org\n"
    )


def test_redeploy_without_changes_is_a_noop_that_touches_nothing(map_dir):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    db = map_dir / "example.com.db"
    before = db.stat().st_mtime_ns, db.stat().st_ino
    result = deploy_domain(domain)
    assert result.status == "noop"
    assert (db.stat().st_mtime_ns, db.stat().st_ino) == before


def test_a_change_is_deployed_and_recorded_with_its_diff(map_dir, postfix_conf):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    alias = Alias.objects.get(key="info@example.com")
    update_alias(alias, version=alias.version, destinations="zoe@example.org")
    result = deploy_domain(domain)
    assert result.status == "ok", result.message
    assert "+info@example.com\tzoe@example.org" in result.diff
    assert postmap_query(map_dir / "example.com", "hash", postfix_conf, "info@example.com") == "zoe@example.org"


def test_hand_edit_on_disk_is_drift_and_is_refused_until_forced(map_dir, postfix_conf):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    path = map_dir / "example.com"
    path.write_text(path.read_text() + "hand@example.com added@example.org\n")
    alias = Alias.objects.get(key="info@example.com")
    update_alias(alias, version=alias.version, destinations="zoe@example.org")
    result = deploy_domain(domain)
    assert result.status == "failed" and "changed by hand" in result.message
    assert "-hand@example.com added@example.org" in result.diff
    assert "hand@example.com" in path.read_text()
    forced = deploy_domain(domain, force=True)
    assert forced.status == "ok"
    assert "hand@example.com" not in path.read_text()


def test_dry_run_shows_the_diff_and_changes_nothing(map_dir):
    domain = make_domain(map_dir)
    result = deploy_domain(domain, dry_run=True)
    assert result.status == "dry-run"
    assert "+info@example.com\tanna@example.org, ben@example.org" in result.diff
    assert not (map_dir / "example.com").exists()
    assert not Deploy.objects.exists()


def test_missing_postmap_keeps_old_map_and_records_error(map_dir, settings, postfix_conf):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    before = (map_dir / "example.com").read_bytes(), (map_dir / "example.com.db").read_bytes()
    create_alias(domain, "new@example.com", "x@example.org")
    settings.POSTMAP = "/nonexistent/postmap"
    result = deploy_domain(domain)
    assert result.status == "failed" and "not found" in result.message
    assert ((map_dir / "example.com").read_bytes(), (map_dir / "example.com.db").read_bytes()) == before
    assert Deploy.objects.get(pk=result.deploy_id).error == result.message


def test_failing_postmap_keeps_old_map(map_dir, settings, tmp_path):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    before = (map_dir / "example.com.db").read_bytes()
    fake = tmp_path / "postmap-fails"
    fake.write_text("#!/bin/sh\necho 'postmap: fatal: simulated failure' >&2\nexit 1\n")
    fake.chmod(0o755)
    create_alias(domain, "new@example.com", "x@example.org")
    settings.POSTMAP = str(fake)
    result = deploy_domain(domain)
    assert result.status == "failed" and "simulated failure" in result.message
    assert (map_dir / "example.com.db").read_bytes() == before
    assert "new@example.com" not in (map_dir / "example.com").read_text()


def test_file_size_limit_disk_full_keeps_old_map(map_dir, settings, tmp_path):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    before = (map_dir / "example.com.db").read_bytes()
    wrapper = tmp_path / "postmap-tiny-limit"
    wrapper.write_text(f'#!/bin/sh\nulimit -f 1\nexec {settings.POSTMAP} "$@"\n')
    wrapper.chmod(0o755)
    for i in range(200):
        create_alias(domain, f"user{i}@example.com", f"someone{i}@example.org")
    settings.POSTMAP = str(wrapper)
    result = deploy_domain(domain)
    assert result.status == "failed"
    assert (map_dir / "example.com.db").read_bytes() == before


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs or read-only bind needs root")


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@needs_root
def test_full_filesystem_keeps_old_map(tmp_path, settings):
    small = tmp_path / "small"
    small.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=96k", "tmpfs", str(small)):
        pytest.skip("cannot mount a tmpfs here")
    try:
        domain = make_domain(small)
        assert deploy_domain(domain).status == "ok"
        before = (small / "example.com.db").read_bytes()
        for i in range(3000):
            Alias.objects.create(
                domain=domain,
                key=f"u{i}@example.com",
                key_folded=f"u{i}@example.com",
                destinations=f"someone-with-a-long-name-{i}@example.org",
            )
        Domain.objects.filter(pk=domain.pk).update(serial=domain.serial + 10)
        result = deploy_domain(domain)
        assert result.status == "failed"
        assert (small / "example.com.db").read_bytes() == before
        assert "u1@example.com" not in (small / "example.com").read_text()
    finally:
        subprocess.run(["umount", str(small)], check=False)


@needs_root
def test_read_only_directory_keeps_old_map(tmp_path):
    maps = tmp_path / "ro"
    maps.mkdir()
    domain = make_domain(maps)
    assert deploy_domain(domain).status == "ok"
    before = (maps / "example.com.db").read_bytes()
    create_alias(domain, "new@example.com", "x@example.org")
    if not (_mount("--bind", str(maps), str(maps)) and _mount("-o", "remount,bind,ro", str(maps))):
        subprocess.run(["umount", str(maps)], check=False)
        pytest.skip("cannot make a read-only bind mount here")
    try:
        result = deploy_domain(domain)
        assert result.status == "failed"
        assert "Read-only" in result.message or "read-only" in result.message.lower()
        assert (maps / "example.com.db").read_bytes() == before
    finally:
        subprocess.run(["umount", str(maps)], check=False)


def test_injected_line_break_is_caught_and_nothing_written(map_dir):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    before = (map_dir / "example.com").read_bytes()
    # Bypass the services, as a buggy client or a hand edit of the database would.
    Alias.objects.create(domain=domain, key="x@example.com\nevil@example.com", key_folded="x", destinations="a@b.org")
    Domain.objects.filter(pk=domain.pk).update(serial=domain.serial + 5)
    result = deploy_domain(domain)
    assert result.status == "failed" and "validation failed" in result.message
    assert (map_dir / "example.com").read_bytes() == before


def test_deploy_all_rebuilds_only_the_changed_domain(map_dir):
    domains = [create_domain(f"d{i}.example", map_path=map_dir / f"d{i}.example") for i in range(5)]
    for d in domains:
        create_alias(d, f"a@{d.name}", "x@example.org")
    assert all(r.status == "ok" for r in deploy_all())
    alias = Alias.objects.get(key="a@d3.example")
    update_alias(alias, version=alias.version, destinations="y@example.org")
    results = {r.domain: r.status for r in deploy_all()}
    assert results == {
        "d0.example": "noop",
        "d1.example": "noop",
        "d2.example": "noop",
        "d3.example": "ok",
        "d4.example": "noop",
    }


def test_new_map_keeps_mode_of_the_file_it_replaces(map_dir):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    (map_dir / "example.com").chmod(0o640)
    create_alias(domain, "new@example.com", "x@example.org")
    deploy_domain(domain, force=True)
    assert stat.S_IMODE((map_dir / "example.com").stat().st_mode) == 0o640
    assert stat.S_IMODE((map_dir / "example.com.db").stat().st_mode) == 0o640


def real_maps() -> list[Path]:
    maps = REALDATA / "maps"
    if not maps.exists():
        return []
    files = sorted(maps.glob("*.virtual")) + sorted((maps / "history-avar-linode").glob("*.virtual"))
    return [f for f in files if f.name != "caml-list.virtual"]


@pytest.mark.parametrize(
    "src",
    real_maps() or [pytest.param(None, marks=pytest.mark.skip("no ../shared/realdata"))],
    ids=lambda p: p.name if p else "none",
)
def test_real_map_round_trips_through_import_and_deploy(src, map_dir, postfix_conf, tmp_path):
    realdata("maps")
    import_map(src, "example.org", map_file=map_dir / "virtual")
    result = deploy_domain(Domain.objects.get(name="example.org"))
    assert result.status == "ok", result.message
    original = compile_original(src, tmp_path, postfix_conf)
    assert postmap_dump(map_dir / "virtual", "hash", postfix_conf) == postmap_dump(original, "hash", postfix_conf)


def test_import_of_the_live_map_file_then_deploy_is_not_drift(map_dir, postfix_conf):
    src = realdata("maps", "avar-linode.virtual")
    live = map_dir / "virtual"
    live.write_bytes(src.read_bytes())
    import_map(live, "nix.is", map_file=live)
    result = deploy_domain(Domain.objects.get(name="nix.is"))
    assert result.status == "ok", result.message
    assert result.diff.startswith("---")


def test_stale_compiled_table_is_rebuilt_even_when_the_text_is_unchanged(map_dir, postfix_conf):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    path = map_dir / "example.com"
    text = path.read_text()
    # A hand edit without postmap, imported as the new truth: the text is right, the table is not.
    path.write_text(text.replace("anna@example.org", "zoe@example.org"))
    import_map(path, "example.com", replace=True)
    result = deploy_domain(Domain.objects.get(name="example.com"))
    assert result.status == "ok"
    assert postmap_query(path, "hash", postfix_conf, "info@example.com") == "zoe@example.org, ben@example.org"


def test_alias_past_its_valid_until_date_is_switched_off_at_deploy(map_dir, postfix_conf):
    import datetime

    domain = make_domain(map_dir)
    alias = create_alias(domain, "temp@example.com", "x@example.org", valid_until=datetime.date(2020, 1, 1))
    result = deploy_domain(domain)
    assert result.status == "ok"
    alias.refresh_from_db()
    assert not alias.enabled
    assert "expired" in alias.history.first().history_change_reason
    assert postmap_query(map_dir / "example.com", "hash", postfix_conf, "temp@example.com") is None


def test_hand_edit_is_seen_cheaply_as_drift(map_dir):
    from aliasdesk.deploys.files import edited_by_hand

    domain = make_domain(map_dir)
    result = deploy_domain(domain)
    domain.refresh_from_db()
    finished = Deploy.objects.get(pk=result.deploy_id).finished_at
    assert not edited_by_hand(domain, finished)
    path = map_dir / "example.com"
    path.write_text(path.read_text() + "hand@example.com x@example.org\n")
    os.utime(path, (finished.timestamp() + 5, finished.timestamp() + 5))
    assert edited_by_hand(domain, finished)
