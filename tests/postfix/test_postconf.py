"""Reading Postfix's configuration and mailbox tables, with the real postconf and postmap."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aliasdesk.postfix.maps.mailboxes import list_mailboxes
from aliasdesk.postfix.maps.postconf import (
    ManagedMap,
    ManagedTables,
    fit_findings,
    parse_postconf,
    read_config,
    split_list,
    table_lookup,
    table_parts,
)
from aliasdesk.postfix.maps.postmap import Postmap
from tests.conftest import require_postmap, write_main_cf


def postconf() -> str:
    return shutil.which("postconf") or "/usr/sbin/postconf"


def test_split_list_takes_commas_and_white_space_and_keeps_braces_whole() -> None:
    assert split_list("hash:/a, texthash:/b\tlmdb:/c,,  proxy:pgsql:/d.cf") == [
        "hash:/a", "texthash:/b", "lmdb:/c", "proxy:pgsql:/d.cf"
    ]
    assert split_list("inline:{ a@x=b@y, c@x=d@y }, hash:/e") == ["inline:{ a@x=b@y, c@x=d@y }", "hash:/e"]
    assert split_list("") == []


def test_table_parts_sees_through_proxy() -> None:
    assert table_parts("proxy:hash:/etc/postfix/virtual") == ("hash", "/etc/postfix/virtual")
    assert table_parts("pgsql:/etc/postfix/pg.cf") == ("pgsql", "/etc/postfix/pg.cf")


def test_managed_tables_answer_as_each_maps_is_table(tmp_path: Path) -> None:
    """One set lookup says what asking every map's ``is_table`` says: the same path, written
    another way, through a linked directory, relative, or another file."""
    real = tmp_path / "maps"
    real.mkdir()
    (tmp_path / "linked").symlink_to(real)
    maps = [ManagedMap(f"d{n}.example", "hash", str(real / f"d{n}.example")) for n in range(50)]
    maps.append(ManagedMap("rel.example", "hash", "maps/rel.example"))
    (real / "d7.example").write_text("")  # deployed or not, a map is known by its path
    tables = [
        f"hash:{real}/d3.example",
        f"proxy:hash:{real}//d4.example",
        f"lmdb:{real}/./d5.example",
        f"hash:{tmp_path}/linked/d7.example",
        f"hash:{tmp_path}/linked/d8.example",
        f"hash:{tmp_path}/linked/../maps/d9.example",
        f"hash:{real}/d50.example",
        f"hash:{tmp_path}/linked/other",
        "hash:maps/rel.example",
        "hash:./maps/rel.example",
        "texthash:/etc/postfix/virtual",
        "inline:{ a@x=b@y }",
    ]
    known = ManagedTables(maps)
    for table in tables:
        assert (table in known) == any(m.is_table(table) for m in maps), table
    assert [t for t in tables if t in known] == [*tables[:6], "hash:maps/rel.example"]


def test_parse_postconf_reads_empty_values() -> None:
    assert parse_postconf("a = b c\nrelay_domains =\nmydestination = x, y\n") == {
        "a": "b c", "relay_domains": "", "mydestination": "x, y"
    }


def test_read_config_expands_and_is_kept_until_main_cf_changes(tmp_path: Path) -> None:
    require_postmap()
    conf = write_main_cf(tmp_path / "conf", "myhostname = mx.test.invalid\nmydestination = $myhostname, localhost\n")
    first = read_config(postconf(), str(conf))
    assert first is not None
    assert first.tables("mydestination") == ["mx.test.invalid", "localhost"]
    assert first.local_domains() == ["mx.test.invalid", "localhost", "mx.test.invalid"]
    assert read_config(postconf(), str(conf)) is first  # no second postconf run
    write_main_cf(conf, "virtual_alias_maps = hash:/etc/postfix/virtual\n")
    second = read_config(postconf(), str(conf))
    assert second is not None and second is not first
    assert second.tables("virtual_alias_maps") == ["hash:/etc/postfix/virtual"]


def test_read_config_without_main_cf_is_none(tmp_path: Path) -> None:
    require_postmap()
    assert read_config(postconf(), str(tmp_path / "nothing")) is None


def test_list_mailboxes_lists_what_can_be_listed_and_names_the_rest(tmp_path: Path) -> None:
    require_postmap()
    text = "a@one.test one/a/\n@one.test catchall/\nb@two.test two/b/\n"
    for name in ("h", "l", "c", "t"):
        (tmp_path / name).write_text(text)
    conf = write_main_cf(
        tmp_path / "conf",
        f"virtual_mailbox_maps = hash:{tmp_path}/h lmdb:{tmp_path}/l cdb:{tmp_path}/c texthash:{tmp_path}/t "
        f"regexp:{tmp_path}/r hash:{tmp_path}/missing\n",
    )
    for kind, name in (("hash", "h"), ("lmdb", "l"), ("cdb", "c")):
        subprocess.run(["postmap", "-c", str(conf), f"{kind}:{tmp_path}/{name}"], check=True, capture_output=True)
    config = read_config(postconf(), str(conf))
    assert config is not None
    listing = list_mailboxes(config, Postmap(config_dir=str(conf)))
    assert sorted(listing.addresses) == sorted(["a@one.test", "b@two.test"] * 4)  # no @domain keys
    unlisted = dict(listing.unlisted)
    assert set(unlisted) == {f"regexp:{tmp_path}/r", f"hash:{tmp_path}/missing"}
    assert "cannot be listed" in unlisted[f"regexp:{tmp_path}/r"]
    assert f"{tmp_path}/missing.db cannot be read" in unlisted[f"hash:{tmp_path}/missing"]


@pytest.mark.parametrize(
    ("domains", "received"),
    [
        ("virtual_alias_domains = one.test", True),
        ("virtual_alias_domains = ONE.test", True),
        ("virtual_alias_domains = .test", True),  # a parent pattern
        ("virtual_alias_domains = !one.test, .test", False),  # the first match decides
        ("relay_domains = test", True),  # relay_domains: a parent matches its subdomains
        ("mydestination = test", False),
        ("virtual_mailbox_domains = xn--bcher-kva.example", True),  # bücher.example's ASCII spelling
        ("virtual_alias_domains = FILE", True),
        ("virtual_alias_domains = TABLE", True),
        ("virtual_alias_domains = proxy:TABLE", True),  # asked directly: no proxymap runs here
        ("virtual_alias_domains = other.test, hash:/nonexistent/table", None),  # cannot be asked: said
    ],
)
def test_a_domain_is_received_as_postfix_matches_its_lists(
    tmp_path: Path, domains: str, received: bool | None
) -> None:
    require_postmap()
    (tmp_path / "domains").write_text("# our domains\nother.test\none.test\n")
    (tmp_path / "table").write_text("one.test whatever\n")
    domains = domains.replace("FILE", f"{tmp_path}/domains").replace("TABLE", f"hash:{tmp_path}/table")
    conf = write_main_cf(tmp_path / "conf", f"mydestination =\n{domains}\n")
    subprocess.run(["postmap", "-c", str(conf), f"hash:{tmp_path}/table"], check=True, capture_output=True)
    config = read_config(postconf(), str(conf))
    assert config is not None
    if "bücher" in domains or "xn--" in domains:
        this = ManagedMap("bücher.example", "hash", "/m", (("bücher.example", "xn--bcher-kva.example"),))
    else:
        this = ManagedMap("one.test", "hash", "/m", (("one.test", "one.test"),))
    findings = fit_findings(config, this, [this], table_lookup(Postmap(config_dir=str(conf))))
    not_received = [f.message for f in findings if f.code == "domain-not-received"]
    failed = [f.message for f in findings if f.code == "domain-check-failed"]
    if received is None:
        assert not not_received and failed == [failed[0]]
        assert "could not check whether Postfix receives mail for one.test: hash:/nonexistent/table" in failed[0]
    else:
        assert bool(not_received) is not received and not failed


def test_aliasdesks_own_sql_table_serves_every_managed_map(tmp_path: Path) -> None:
    from aliasdesk.postfix.maps.postconf import OWN_TABLE_MARK, is_own_sql_table

    own = tmp_path / "aliasdesk-virtual.cf"
    own.write_text(f"{OWN_TABLE_MARK} (aliasdesk postfix-config sqlite).\ndbpath = /x\n")
    other = tmp_path / "other.cf"
    other.write_text("dbpath = /x\nquery = SELECT 1\n")
    assert is_own_sql_table(f"proxy:sqlite:{own}") and is_own_sql_table(f"sqlite:{own}")
    assert not is_own_sql_table(f"sqlite:{other}") and not is_own_sql_table(f"hash:{own}")
    assert not is_own_sql_table(f"pgsql:{tmp_path / 'missing.cf'}")
