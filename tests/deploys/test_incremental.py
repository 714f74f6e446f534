"""Patch deploys: a few changed aliases are applied to the deployed table instead of a rebuild.

Every patch in these tests also runs with ALIASDESK_DEPLOY_PATCH_CHECK (tests/conftest.py):
the patched text must be byte for byte a full render, or the deploy fails. On top of that
each test compares what the patched table answers with a table postmap builds from scratch.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import (
    bulk_change,
    create_alias,
    create_domain,
    restore_alias,
    soft_delete_alias,
    update_alias,
)
from aliasdesk.deploys.engine import DeployResult, deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.deploys.reasons import shown
from aliasdesk.postfix.maps import postmap as pm
from aliasdesk.postfix.maps.virtual import parse_virtual
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postmap(aliasdesk_settings):  # type: ignore[no-untyped-def]
    require_postmap()


def table(path: Path, map_type: str, conf: Path) -> dict[str, str]:
    out = subprocess.run(
        ["postmap", "-c", str(conf), "-s", f"{map_type}:{path}"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


def from_scratch(path: Path, map_type: str, conf: Path, tmp: Path) -> dict[str, str]:
    """What a full postmap build of the text on disk answers."""
    copy = tmp / f"scratch-{path.name}"
    copy.write_bytes(path.read_bytes())
    subprocess.run(["postmap", "-c", str(conf), f"{map_type}:{copy}"], capture_output=True, check=True)
    return table(copy, map_type, conf)


def fetch(alias: Alias) -> Alias:
    return Alias.objects.get(pk=alias.pk)


def deployed(domain: Domain, method: str | None = "patch") -> DeployResult:
    result = deploy_domain(domain)
    assert result.status in ("ok", "noop"), result.message
    if method and result.status == "ok":
        assert result.method == method, result.timings
    return result


def make(map_dir: Path, map_type: str = "hash", header: str = "", footer: str = "") -> Domain:
    domain = create_domain("example.com", map_path=map_dir / "example.com", map_type=map_type)
    if header or footer:
        domain.header, domain.footer = header, footer
        domain.save()
    create_alias(domain, "first@example.com", "a@example.org", comment="opens the map")
    create_alias(domain, "plain@example.com", "b@example.org")
    create_alias(domain, "noted@example.com", "c@example.org, d@example.org", comment="ticket 1\nsecond line")
    create_alias(domain, "off@example.com", "e@example.org", enabled=False)
    create_alias(domain, "last@example.com", "f@example.org")
    deployed(domain, method="full")
    return Domain.objects.get(pk=domain.pk)


@pytest.mark.parametrize("map_type", ["hash", "lmdb"])
def test_one_change_is_patched_and_answers_as_a_full_build(map_dir, postfix_conf, tmp_path, map_type):
    domain = make(map_dir, map_type, header="# managed by aliasdesk\n", footer="@example.com\tcatch@example.org\n")
    alias = Alias.objects.get(key="plain@example.com")
    update_alias(alias, version=alias.version, destinations="zoe@example.org")
    result = deployed(domain)
    assert "-plain@example.com\tb@example.org" in result.diff and "+plain@example.com\tzoe@example.org" in result.diff
    path = map_dir / "example.com"
    assert table(path, map_type, postfix_conf) == from_scratch(path, map_type, postfix_conf, tmp_path)
    assert Deploy.objects.filter(domain=domain).first().method == "patch"  # type: ignore[union-attr]


def test_random_changes_always_patch_to_what_a_full_build_gives(map_dir, postfix_conf, tmp_path):
    domain = make(map_dir, footer="# the end\n")
    rng = random.Random(20261203)
    path = map_dir / "example.com"
    for round_ in range(40):
        live = list(Alias.objects.filter(domain=domain).order_by("id"))
        for _ in range(rng.randint(1, 4)):
            alias = fetch(rng.choice(live))
            action = rng.choice(["dest", "toggle", "delete", "restore", "comment", "rename", "create", "create"])
            if action == "create":
                comment = rng.choice(["", "", "new ticket"])
                create_alias(domain, f"n{round_}-{rng.randint(0, 999)}@example.com", "g@example.org", comment=comment)
            elif alias.deleted_at is not None:
                if action == "restore":
                    with contextlib.suppress(AliasError):  # a live alias took its key meanwhile
                        restore_alias(alias, version=alias.version)
            elif action == "dest":
                update_alias(alias, version=alias.version, destinations=f"r{round_}@example.org")
            elif action == "toggle":
                update_alias(alias, version=alias.version, enabled=not alias.enabled)
            elif action == "delete":
                soft_delete_alias(alias, version=alias.version)
            elif action == "comment":
                update_alias(alias, version=alias.version, comment=rng.choice(["", "changed", "two\nlines"]))
            elif action == "rename":
                update_alias(alias, version=alias.version, key=f"renamed{round_}-{alias.pk}@example.com")
        deployed(domain)
        assert table(path, "hash", postfix_conf) == from_scratch(path, "hash", postfix_conf, tmp_path), round_


def test_removing_the_first_alias_and_restoring_it_keeps_the_layout(map_dir, postfix_conf, tmp_path):
    domain = make(map_dir)
    first = Alias.objects.get(key="first@example.com")
    soft_delete_alias(first, version=first.version)
    plain = Alias.objects.get(key="plain@example.com")
    update_alias(plain, version=plain.version, comment="now first, with a comment")
    deployed(domain)
    assert (map_dir / "example.com").read_text().startswith("# now first, with a comment\nplain@example.com")
    first = fetch(first)
    restore_alias(first, version=first.version)
    deployed(domain)
    assert (map_dir / "example.com").read_text().startswith("# opens the map\nfirst@example.com\ta@example.org\n\n#")


def test_changed_and_changed_back_is_nothing_to_do(map_dir):
    domain = make(map_dir)
    alias = Alias.objects.get(key="plain@example.com")
    alias = update_alias(alias, version=alias.version, destinations="x@example.org")
    update_alias(alias, version=alias.version, destinations="b@example.org")
    assert deploy_domain(domain).status == "noop"
    assert deploy_domain(domain).status == "noop"


def test_switching_off_and_deleting_remove_the_keys_from_the_table(map_dir, postfix_conf):
    domain = make(map_dir)
    plain, last = Alias.objects.get(key="plain@example.com"), Alias.objects.get(key="last@example.com")
    update_alias(plain, version=plain.version, enabled=False)
    soft_delete_alias(last, version=last.version)
    off = Alias.objects.get(key="off@example.com")
    bulk_change(domain, [off.pk], "enable")
    deployed(domain)
    answers = table(map_dir / "example.com", "hash", postfix_conf)
    assert "plain@example.com" not in answers and "last@example.com" not in answers
    assert answers["off@example.com"] == "e@example.org"


def test_what_a_patch_cannot_apply_is_built_whole(map_dir, postfix_conf):
    domain = make(map_dir)
    from aliasdesk.aliases.domain_services import DomainSettings, update_domain_settings

    wanted = DomainSettings.of(domain)
    wanted.footer = "# new footer\n"
    update_domain_settings(domain, wanted, version=domain.version)
    result = deployed(domain, method="full")
    assert "footer" in result.why_full
    # A compiled table someone rebuilt by hand is not the one last deployed: rebuilt too.
    alias = Alias.objects.get(key="plain@example.com")
    update_alias(alias, version=alias.version, destinations="y@example.org")
    subprocess.run(["postmap", "-c", str(postfix_conf), f"hash:{map_dir / 'example.com'}"], check=True)
    deployed(domain, method="full")


def test_a_duplicate_made_by_a_change_fails_as_in_a_full_build(map_dir):
    domain = make(map_dir, footer="off@example.com\tfooter@example.org\n")
    off = Alias.objects.get(key="off@example.com")
    update_alias(off, version=off.version, enabled=True)
    result = deploy_domain(domain)
    assert result.status == "failed" and "duplicate" in result.message
    assert "defined 2 times" in Deploy.objects.filter(domain=domain).first().why_full  # type: ignore[union-attr]


def test_why_a_deploy_was_built_whole_is_kept_in_english_and_shown_in_the_readers_language(map_dir):
    domain = make(map_dir, footer="off@example.com\tfooter@example.org\n")
    off = Alias.objects.get(key="off@example.com")
    update_alias(off, version=off.version, enabled=True)
    with translation.override("de"):  # a German page deploys
        deploy_domain(domain)
    why = Deploy.objects.filter(domain=domain).first().why_full  # type: ignore[union-attr]
    assert why == "off@example.com is defined 2 times"
    with translation.override("de"):
        assert shown(why) == "off@example.com ist 2-mal definiert"
        assert shown("no deploy to patch yet") == "noch keine Übernahme, die sich patchen ließe"
        assert shown("cdb tables are always built whole") == "cdb-Tabellen werden immer komplett neu gebaut"
        assert shown("something older, or cut at 255 charac") == "something older, or cut at 255 charac"
    assert shown(why) == why


def test_rows_written_around_the_services_are_noticed(map_dir):
    domain = make(map_dir)
    Alias.objects.create(
        domain=domain, key="sneaky@example.com", key_folded="sneaky@example.com", destinations="s@o.org")
    alias = Alias.objects.get(key="plain@example.com")
    update_alias(alias, version=alias.version, destinations="y@example.org")
    deployed(domain, method="full")
    assert "sneaky@example.com" in (map_dir / "example.com").read_text()


def test_a_failing_postmap_patch_keeps_the_old_map(map_dir, postfix_conf, monkeypatch):
    domain = make(map_dir)
    before = {p.name: p.read_bytes() for p in map_dir.iterdir() if not p.name.startswith(".")}
    alias = Alias.objects.get(key="plain@example.com")
    update_alias(alias, version=alias.version, destinations="y@example.org")

    def broken(postmap, args, stdin=None, timeout=600):  # type: ignore[no-untyped-def]
        if args[0] in ("-r", "-d"):
            raise pm.PostmapError("postmap failed (exit 1): fatal: disk full", "fatal: disk full")
        return real(postmap, args, stdin, timeout)

    real = pm.run_postmap
    monkeypatch.setattr(pm, "run_postmap", broken)
    result = deploy_domain(domain)
    assert result.status == "failed" and "disk full" in result.message
    assert {p.name: p.read_bytes() for p in map_dir.iterdir() if not p.name.startswith(".")} == before
    assert not [p for p in map_dir.iterdir() if ".aliasdesk-tmp-" in p.name]
    monkeypatch.setattr(pm, "run_postmap", real)
    deployed(domain)
    assert table(map_dir / "example.com", "hash", postfix_conf)["plain@example.com"] == "y@example.org"


def test_parse_of_a_patched_map_gives_the_rows(map_dir):
    domain = make(map_dir)
    create_alias(domain, "new@example.com", "n@example.org", comment="added later")
    deployed(domain)
    parsed = parse_virtual((map_dir / "example.com").read_text())
    assert [e.key for e in parsed.entries][-1] == "new@example.com"
