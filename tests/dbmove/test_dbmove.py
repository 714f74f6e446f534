"""dbexport/dbimport on the test database (any engine: scripts/test-db.sh runs these on
PostgreSQL and MariaDB): the file's form, a whole round trip, and every kind of damaged
file or unfit database refused with nothing written."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain, VirtualEntry
from aliasdesk.aliases.services import create_alias
from aliasdesk.aliases.virtual_store import forget_lookup_file, table_database
from aliasdesk.aliases.virtual_table import sync_all
from aliasdesk.dbmove.dump import export_database
from aliasdesk.dbmove.load import import_database
from aliasdesk.dbmove.tables import DbMoveError, moved_tables
from tests.dbmove.sample import PASSWORD, make_sample_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample(aliasdesk_settings: Any, map_dir: Path) -> None:
    # a quick hasher here: the engines' test signs in with the real one
    aliasdesk_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    make_sample_data(map_dir)


def empty_database() -> None:
    """Every moved table emptied (as a fresh, migrated database is)."""
    with connection.constraint_checks_disabled():
        for table in moved_tables():
            table.model._base_manager.all()._raw_delete(connection.alias)  # type: ignore[attr-defined]


def row_counts() -> dict[str, int]:
    return {t.name: t.model._base_manager.count() for t in moved_tables()}


def lines_of(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def rows_of(lines: list[Any], table: str) -> list[dict[str, Any]]:
    columns = next(t["columns"] for t in lines[0]["tables"] if t["table"] == table)
    start = lines.index({"table": table}) + 1
    count = next(t["rows"] for t in lines[0]["tables"] if t["table"] == table)
    return [dict(zip(columns, row, strict=True)) for row in lines[start : start + count]]


def test_the_file_is_json_lines_with_every_value_in_one_form(sample: None, tmp_path: Path) -> None:
    path = tmp_path / "db.jsonl"
    export_database(str(path))
    lines = lines_of(path)
    header = lines[0]
    assert (header["format"], header["version"]) == ("aliasdesk-dbexport", 1)
    names = [t["table"] for t in header["tables"]]
    assert names == sorted(names)
    assert {"aliases_alias", "aliases_historicalalias", "accounts_user", "api_apitoken_domains", "otp_totp_totpdevice",
            "otp_static_statictoken", "maillog_hosthour", "deploys_nodemap", "auth_group_permissions"} <= set(names)
    assert not {"aliasdesk_virtual", "aliasdesk_virtual_sync", "aliases_livecheck", "django_session",
                "auth_permission", "django_content_type", "axes_accessattempt"} & set(names)
    deploy = rows_of(lines, "deploys_deploy")[0]
    assert deploy["started_at"] == "2025-03-04T05:06:07.891011Z"
    assert deploy["finished_at"] == "2025-03-04T05:06:07.891012Z"
    assert deploy["forced"] is False
    assert deploy["timings"] == {"postmap": 1e-06, "render": 0.25, "total": 12}
    raw = path.read_text()
    assert '{"postmap":1e-06,"render":0.25,"total":12}' in raw  # keys sorted
    assert '{"a":[2,{"y":1.5,"z":null}],"b":1}' in raw
    assert rows_of(lines, "accounts_user_user_permissions")[0]["permission_id"] == ["change_user", "accounts", "user"]
    assert [r["hour"] for r in rows_of(lines, "maillog_hosthour")] == ["2025-03-04T05:00:00.000000Z"] * 2
    aliases = rows_of(lines, "aliases_alias")
    assert [a["id"] for a in aliases] == sorted(a["id"] for a in aliases)
    assert any(a["valid_until"] == "2031-01-02" for a in aliases)
    assert "josé@example.com" in raw  # UTF-8 as it is


def test_an_import_gives_back_the_same_bytes_and_a_working_database(sample: None, tmp_path: Path) -> None:
    first, packed = tmp_path / "1.jsonl", tmp_path / "1.jsonl.gz"
    export_database(str(first))
    export_database(str(packed))
    assert gzip.decompress(packed.read_bytes()) == first.read_bytes()
    counts = row_counts()
    highest = max(Alias.objects.values_list("pk", flat=True))
    empty_database()
    assert import_database(str(packed)) == counts
    again = tmp_path / "2.jsonl.gz"
    export_database(str(again))
    assert again.read_bytes() == packed.read_bytes()  # gzip without a time stamp: same bytes too
    assert User.objects.get(username="Alice").check_password(PASSWORD)
    info = next(a for a in Alias.objects.all() if a.key == "Info@example.com")
    assert [h.history_change_reason for h in info.history.order_by("history_id")][-1] == "ticket 7"
    new = create_alias(Domain.objects.get(name="example.com"), "new@example.com", "n@example.org")
    assert new.pk > highest
    assert User.objects.create(username="newcomer").pk > 4


def test_a_database_with_data_is_refused_and_kept(sample: None, tmp_path: Path) -> None:
    path = tmp_path / "db.jsonl"
    export_database(str(path))
    before = row_counts()
    with pytest.raises(DbMoveError, match=r"^the database is not empty \(table accounts_\w+ has rows\)"):
        import_database(str(path))
    assert row_counts() == before


def _set(table: str, column: str, value: Any) -> Callable[[list[Any]], None]:
    def change(lines: list[Any]) -> None:
        columns = next(t["columns"] for t in lines[0]["tables"] if t["table"] == table)
        lines[lines.index({"table": table}) + 1][columns.index(column)] = value

    return change


def _header(change: Callable[[dict[str, Any]], None]) -> Callable[[list[Any]], None]:
    return lambda lines: change(lines[0])


def _add_column(header: dict[str, Any]) -> None:
    header["tables"][0]["columns"].append("colour")


def _rename_table(lines: list[Any]) -> None:
    lines[0]["tables"][0]["table"] = "aliases_colour"


DAMAGE: dict[str, tuple[Callable[[list[Any]], None], str]] = {
    "version 2": (_header(lambda h: h.update(version=2)), "format version 2; this aliasdesk reads version 1"),
    "another format": (_header(lambda h: h.update(format="x")), "not a file of 'aliasdesk dbexport'"),
    "unknown table": (_rename_table, "unknown table 'aliases_colour'"),
    "unknown column": (_header(_add_column), "unknown or repeated column 'colour'"),
    "a string for a boolean": (
        _set("aliases_alias", "enabled", "yes"),
        "aliases_alias.enabled: expected true or false",
    ),
    "a local time": (
        _set("deploys_deploy", "started_at", "2025-03-04T05:06:07"),
        "deploys_deploy.started_at: '2025-03-04T05:06:07' is not a UTC datetime",
    ),
    "text for a number": (_set("aliases_alias", "version", "1"), "aliases_alias.version: expected an integer"),
    "null for a name": (_set("aliases_domain", "name", None), "aliases_domain.name: no value (null)"),
    "a name too long": (_set("aliases_domain", "name", "x" * 254), "longer than 253 characters"),
    "an unknown permission": (
        _set("accounts_user_user_permissions", "permission_id", ["fly", "accounts", "user"]),
        "['fly', 'accounts', 'user'] is not in this database",
    ),
    "a row too short": (lambda lines: lines[lines.index({"table": "aliases_alias"}) + 1].pop(), "values for"),
    "a row too many": (lambda lines: lines.append([1]), "more than the header announces"),
    "a table's mark missing": (lambda lines: lines.remove({"table": "aliases_alias"}), "expected the rows of"),
    "the last row missing": (
        lambda lines: lines.pop(max(i for i, line in enumerate(lines) if isinstance(line, list))),
        "otp_totp_totpdevice has fewer rows than its 1",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_file_writes_nothing(damage: str, sample: None, tmp_path: Path) -> None:
    path = tmp_path / "db.jsonl"
    export_database(str(path))
    lines = lines_of(path)
    change, message = DAMAGE[damage]
    change(lines)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    empty_database()
    with pytest.raises(DbMoveError, match="^" + str(path)) as caught:
        import_database(str(path))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert set(row_counts().values()) == {0}


@pytest.mark.parametrize("cut", ["mid-line", "gzip", "empty", "not json"])
def test_a_file_cut_short_writes_nothing(cut: str, sample: None, tmp_path: Path) -> None:
    path = tmp_path / "db.jsonl"
    export_database(str(path))
    data = path.read_bytes()
    message = {
        "mid-line": "is cut short",
        "gzip": "the gzip file is damaged or cut short",
        "empty": "the file is empty",
        "not json": "line 1 is not JSON",
    }[cut]
    if cut == "mid-line":
        path.write_bytes(data[:-7])
    elif cut == "gzip":
        path.write_bytes(gzip.compress(data)[:-100])
    elif cut == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"PK\x03\x04 not a dump\n")
    empty_database()
    with pytest.raises(DbMoveError, match=message):
        import_database(str(path))
    assert set(row_counts().values()) == {0}


def test_a_row_the_database_refuses_takes_every_row_back(sample: None, tmp_path: Path) -> None:
    path = tmp_path / "db.jsonl"
    export_database(str(path))
    lines = lines_of(path)
    start = lines.index({"table": "aliases_alias"}) + 1
    lines.insert(start + 1, lines[start])  # the same primary key twice: only the database sees it
    next(t for t in lines[0]["tables"] if t["table"] == "aliases_alias")["rows"] += 1
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    empty_database()
    with pytest.raises(DbMoveError, match=r"^nothing imported: the database refused a row"):
        import_database(str(path))
    assert set(row_counts().values()) == {0}


def test_the_postfix_lookup_table_is_rebuilt(sample: None, tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite lookup database (tests/dbmove/test_engines.py covers the servers)")
    try:
        sync_all(create=True)
        using = table_database()
        assert using is not None
        path = tmp_path / "db.jsonl"
        export_database(str(path))
        assert lines_of(path)[0]["postfix_lookup"] is True
        empty_database()  # the lookup file keeps its old rows meanwhile: they must not count
        VirtualEntry.objects.using(using).update(value="stale@example.org")
        import_database(str(path))
        answers = dict(VirtualEntry.objects.using(using).values_list("lookup_key", "value").order_by("-position"))
        assert answers["josé@example.com"] == "jose.garcia@example.org"
        assert answers["info@example.com"] == "anna@example.org"
        assert "stale@example.org" not in answers.values()
    finally:
        forget_lookup_file()
