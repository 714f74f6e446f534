"""What a deploy says about keys that are not its map's own, against the real postmap.

- a key of a mail domain the map does not own (header and footer included) is an error:
  the deploy stops and the old map stays;
- bare local names and bare domain lines are warnings;
- a key more than one managed map defines is a warning naming the map Postfix consults
  first: from virtual_alias_maps when Postfix's main.cf can be read, else managed order.

``ownership_findings`` itself is pure: its unit tests are at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aliasdesk.aliases.models import Alias, Domain, OwnershipConflict
from aliasdesk.aliases.ownership import claim_mail_domains, lookup_order, map_ownership
from aliasdesk.aliases.render import fetch_rows
from aliasdesk.aliases.services import create_alias, create_domain, update_alias
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.postfix.maps.keys import ownership_findings
from aliasdesk.postfix.maps.validate import ERROR, WARNING
from aliasdesk.postfix.maps.virtual import Entry
from tests.conftest import require_postmap, write_main_cf
from tests.deploys.helpers import postmap_query

DEST = "dest@example.org"


@pytest.fixture
def maps(db, aliasdesk_settings, map_dir: Path) -> tuple[Domain, Domain]:  # type: ignore[no-untyped-def]
    require_postmap()
    own = create_domain("own.example", map_path=map_dir / "own.example")
    victim = create_domain("victim.example", map_path=map_dir / "victim.example")
    claim_mail_domains(victim, ["münchen.example"], user=None, reason="test")
    create_alias(own, "info@own.example", "anna@example.org")
    create_alias(victim, "info@victim.example", "vera@example.org")
    own.refresh_from_db()
    victim.refresh_from_db()
    return own, victim


def set_text(domain: Domain, *, header: str = "", footer: str = "") -> None:
    """Header and footer are an admin's (domain settings); set as stored, bumping the serial."""
    Domain.objects.filter(pk=domain.pk).update(header=header, footer=footer, serial=domain.serial + 1)
    domain.refresh_from_db()


def codes(findings: list[object]) -> list[tuple[str, str, str]]:
    return [(f.severity, f.code, f.key) for f in findings]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# Foreign keys stop the deploy


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["header", "footer"])
@pytest.mark.parametrize(
    "key", ["info@victim.example", "@victim.example", "x@VICTIM.example", "x@xn--mnchen-3ya.example", "x@new.example"]
)
def test_a_foreign_key_in_header_or_footer_stops_the_deploy_and_the_old_map_stays(
    maps: tuple[Domain, Domain], map_dir: Path, postfix_conf: Path, where: str, key: str
) -> None:
    own, _ = maps
    first = deploy_domain(own)
    assert first.status == "ok", first.message
    path = map_dir / "own.example"
    old_text, old_db = path.read_text(), (map_dir / "own.example.db").read_bytes()

    set_text(own, **{where: f"# added by hand\n{key}\t{DEST}\n"})
    result = deploy_domain(own)
    assert result.status == "failed"
    assert "validation failed" in result.message and key in result.message
    stored = Deploy.objects.get(pk=result.deploy_id)
    errors = [f for f in stored.findings if f["severity"] == ERROR]
    assert [(f["code"], f["key"]) for f in errors] == [("foreign-key", key)]
    # The line in the rendered map: after the header's comment, or after the aliases, a blank line and the comment.
    assert errors[0]["line"] == (2 if where == "header" else old_text.count("\n") + 3)
    assert path.read_text() == old_text
    assert (map_dir / "own.example.db").read_bytes() == old_db
    assert postmap_query(path, "hash", postfix_conf, key) is None
    # A postmap killed mid-build may leave Berkeley DB's __db.* file; the next deploy removes it.
    assert not [p for p in map_dir.iterdir() if ".aliasdesk-tmp-" in p.name and not p.name.startswith("__db.")]
    set_text(own)
    again = deploy_domain(own)
    assert again.status in ("ok", "noop"), again.message
    assert not [p for p in map_dir.iterdir() if ".aliasdesk-tmp-" in p.name]


@pytest.mark.django_db
def test_a_switched_off_foreign_key_is_only_a_comment_and_deploys(maps: tuple[Domain, Domain]) -> None:
    own, _ = maps
    set_text(own, footer=f"#info@victim.example\t{DEST}\n")
    Alias.objects.create(
        domain=own, key="x@victim.example", key_folded="x@victim.example", destinations=DEST, enabled=False
    )
    result = deploy_domain(own)
    assert result.status == "ok", result.message
    assert not [f for f in result.findings if f.code.startswith("foreign")]


@pytest.mark.django_db
def test_a_foreign_alias_row_stops_the_deploy(maps: tuple[Domain, Domain], map_dir: Path) -> None:
    """A row that got past the rule (written straight into the table) is caught at deploy time."""
    own, _ = maps
    Alias.objects.create(domain=own, key="x@victim.example", key_folded="x@victim.example", destinations=DEST)
    Domain.objects.filter(pk=own.pk).update(serial=own.serial + 1)
    result = deploy_domain(own)
    assert result.status == "failed"
    assert "x@victim.example belongs to victim.example" in result.message
    assert not (map_dir / "own.example").exists()


# ---------------------------------------------------------------------------------------
# Bare keys are warnings


@pytest.mark.django_db
def test_bare_local_name_and_bare_domain_line_in_the_footer_warn_and_deploy(
    maps: tuple[Domain, Domain], map_dir: Path, postfix_conf: Path
) -> None:
    own, _ = maps
    set_text(own, footer=f"root\t{DEST}\nlegacy.example\tanything\n")
    result = deploy_domain(own)
    assert result.status == "ok", result.message
    found = codes(result.findings)
    assert (WARNING, "bare-local-name", "root") in found
    assert (WARNING, "bare-domain-line", "legacy.example") in found
    assert not [f for f in result.findings if f.severity == ERROR]
    assert postmap_query(map_dir / "own.example", "hash", postfix_conf, "root") == DEST


# ---------------------------------------------------------------------------------------
# Keys two managed maps define


def _shared(findings: list[object]) -> list[str]:
    return [f.message for f in findings if f.code == "shared-key"]  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_bare_key_in_two_maps_warns_naming_the_managed_order_without_virtual_alias_maps(
    maps: tuple[Domain, Domain],
) -> None:
    own, victim = maps
    set_text(own, footer=f"root\t{DEST}\n")
    set_text(victim, footer=f"ROOT\t{DEST}\n")
    mine = deploy_domain(own)
    theirs = deploy_domain(victim)
    assert mine.status == theirs.status == "ok"
    [to_own] = _shared(mine.findings)
    [to_victim] = _shared(theirs.findings)
    assert "also defined by the map of victim.example" in to_own
    assert "Postfix consults own.example's map first, so this map's answer wins" in to_own
    assert "also defined by the map of own.example" in to_victim
    assert "Postfix consults own.example's map first, so that map's answer wins" in to_victim


@pytest.mark.django_db
def test_shared_key_warning_follows_virtual_alias_maps_when_main_cf_is_readable(
    maps: tuple[Domain, Domain], aliasdesk_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    own, victim = maps
    # Postfix asks victim.example's map first: the opposite of the managed (name) order.
    conf = write_main_cf(
        tmp_path / "postfix-with-maps",
        f"virtual_alias_maps = hash:{victim.map_path}, lmdb:/nowhere/else, hash:{own.map_path}\n",
    )
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    set_text(own, header=f"root\t{DEST}\n")
    Alias.objects.create(domain=victim, key="root", key_folded="root", destinations=DEST)
    Domain.objects.filter(pk=victim.pk).update(serial=victim.serial + 1)
    mine = deploy_domain(own)
    theirs = deploy_domain(victim)
    assert mine.status == theirs.status == "ok", (mine.message, theirs.message)
    [to_own] = _shared(mine.findings)
    [to_victim] = _shared(theirs.findings)
    assert "Postfix consults victim.example's map first, so that map's answer wins" in to_own
    assert "Postfix consults victim.example's map first, so this map's answer wins" in to_victim
    assert str(victim.map_path) in to_own


@pytest.mark.django_db
def test_a_tolerated_ownership_conflict_warns_in_both_maps(maps: tuple[Domain, Domain]) -> None:
    own, victim = maps
    # Before the rule, own's map held a key of victim.example that victim's map defines too.
    Alias.objects.create(
        domain=own, key="info@victim.example", key_folded="info@victim.example", destinations="thief@example.org"
    )
    OwnershipConflict.objects.create(domain=own, mail_domain="victim.example", keys=1)
    Domain.objects.filter(pk=own.pk).update(serial=own.serial + 1)
    mine = deploy_domain(own)
    assert mine.status == "ok", mine.message
    found = codes(mine.findings)
    assert (WARNING, "foreign-key-tolerated", "info@victim.example") in found
    assert not [f for f in mine.findings if f.severity == ERROR]
    [to_own] = _shared(mine.findings)
    assert "also defined by the map of victim.example" in to_own
    theirs = deploy_domain(victim)
    assert theirs.status == "ok"
    [to_victim] = _shared(theirs.findings)
    assert "info@victim.example is also defined by the map of own.example" in to_victim
    # Another key of victim.example that own's map does not hold is not shared.
    assert not [m for m in _shared(theirs.findings) if "other@" in m]


@pytest.mark.django_db
def test_a_tolerated_conflict_does_not_tolerate_other_foreign_domains(maps: tuple[Domain, Domain]) -> None:
    own, _ = maps
    OwnershipConflict.objects.create(domain=own, mail_domain="victim.example", keys=1)
    Alias.objects.create(domain=own, key="x@third.example", key_folded="x@third.example", destinations=DEST)
    Domain.objects.filter(pk=own.pk).update(serial=own.serial + 1)
    result = deploy_domain(own)
    assert result.status == "failed"
    assert "x@third.example" in result.message


@pytest.mark.django_db
def test_managed_order_when_postfix_configuration_cannot_be_read(
    maps: tuple[Domain, Domain], aliasdesk_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Without a readable main.cf (postconf fails) the managed order decides: by name."""
    own, victim = maps
    set_text(own, footer=f"root\t{DEST}\n")
    set_text(victim, footer=f"root\t{DEST}\n")
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(tmp_path / "no-postfix-here")
    order = lookup_order([victim, own])
    assert order[own.pk] < order[victim.pk]
    context = map_ownership(victim, fetch_rows(victim.pk))
    assert "Postfix consults own.example's map first, so that map's answer wins" in context.shared["root"]
    # And with the maps listed in main.cf, the listed order wins over the names.
    conf = write_main_cf(tmp_path / "listed", f"virtual_alias_maps = hash:{victim.map_path} hash:{own.map_path}\n")
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    order = lookup_order([victim, own])
    assert order[victim.pk] < order[own.pk]


@pytest.mark.django_db
def test_a_switched_off_shared_key_does_not_warn(maps: tuple[Domain, Domain]) -> None:
    own, victim = maps
    set_text(own, footer=f"root\t{DEST}\n")
    alias = create_alias(victim, "root", DEST)
    update_alias(alias, version=alias.version, enabled=False)
    assert not _shared(deploy_domain(own).findings)


# ---------------------------------------------------------------------------------------
# ownership_findings, pure


def entry(key: str, line: int = 1, enabled: bool = True) -> Entry:
    return Entry(key, DEST, enabled, "", line)


OWNED = {"own.example", "bücher.example"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("info@own.example", []),
        ("INFO@OWN.EXAMPLE", []),
        ("@own.example", []),
        ('"we ird"@own.example', []),
        ("info@bücher.example", []),
        ("info@xn--bcher-kva.example", []),
        ("info@XN--BCHER-KVA.example", []),
        ("info@own.example.", []),
        ("info@victim.example", [(ERROR, "foreign-key")]),
        ("@victim.example", [(ERROR, "foreign-key")]),
        ("x@sub.own.example", [(ERROR, "foreign-key")]),
        ('"a@own.example"@victim.example', [(ERROR, "foreign-key")]),
        ("info@xn--mnchen-3ya.example", [(ERROR, "foreign-key")]),
        ("root", [(WARNING, "bare-local-name")]),
        ("victim.example", [(WARNING, "bare-domain-line")]),
        ("bücher.example", [(WARNING, "bare-domain-line")]),
    ],
)
def test_ownership_findings_by_key_form(key: str, expected: list[tuple[str, str]]) -> None:
    found = ownership_findings([entry(key, 7)], OWNED)
    assert [(f.severity, f.code) for f in found] == expected
    assert all(f.key == key and f.line == 7 for f in found)


def test_ownership_findings_messages_name_the_mail_domain() -> None:
    [foreign] = ownership_findings([entry("x@XN--MNCHEN-3YA.example")], OWNED)
    assert "belongs to münchen.example" in foreign.message
    [bare] = ownership_findings([entry("legacy.example")], OWNED)
    assert "declares legacy.example a virtual alias domain" in bare.message


def test_ownership_findings_skips_disabled_entries() -> None:
    assert ownership_findings([entry("info@victim.example", enabled=False), entry("root", enabled=False)], OWNED) == []


def test_ownership_findings_tolerated_domains_warn() -> None:
    found = ownership_findings(
        [entry("a@victim.example", 1), entry("b@VICTIM.example", 2), entry("c@third.example", 3)],
        OWNED,
        tolerated={"victim.example"},
    )
    assert [(f.severity, f.code, f.line) for f in found] == [
        (WARNING, "foreign-key-tolerated", 1),
        (WARNING, "foreign-key-tolerated", 2),
        (ERROR, "foreign-key", 3),
    ]


def test_ownership_findings_shared_keys_warn_case_insensitively() -> None:
    found = ownership_findings(
        [entry("ROOT", 4), entry("info@own.example", 5)], OWNED, shared={"root": "root is also defined by X"}
    )
    assert [(f.severity, f.code, f.line, f.message) for f in found] == [
        (WARNING, "bare-local-name", 4, found[0].message),
        (WARNING, "shared-key", 4, "root is also defined by X"),
    ]


def test_ownership_findings_each_key_once_however_many_share_a_domain() -> None:
    entries = [entry(f"u{i}@victim.example", i) for i in range(1, 101)]
    found = ownership_findings(entries, OWNED)
    assert [f.line for f in found] == list(range(1, 101))
    assert {f.code for f in found} == {"foreign-key"}


@pytest.mark.django_db
def test_lookup_order_reads_proxy_tables_of_virtual_alias_maps(
    maps: tuple[Domain, Domain], aliasdesk_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    own, victim = maps
    conf = write_main_cf(
        tmp_path / "proxied", f"virtual_alias_maps = proxy:hash:{victim.map_path}, proxy:hash:{own.map_path}\n"
    )
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    order = lookup_order([own, victim])
    assert order[victim.pk] < order[own.pk]
