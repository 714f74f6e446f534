"""Importing map files: everything postmap accepts, nothing from a file with errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aliasdesk.aliases.importer import ImportRefused, import_map
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import AliasError
from tests.conftest import realdata

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, text: str | bytes, name: str = "virtual") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_it_takes_header_comments_and_disabled_entries(aliasdesk_settings, tmp_path):
    src = write(
        tmp_path,
        "# managed by hand\n# second header line\n\n"
        "# ticket 42\ninfo@example.com anna@example.org,ben@example.org\n"
        "#old@example.com gone@example.org\n"
        "sales@example.com\tcarla@example.org\n"
        "  dan@example.org\n"
        "# catch-all below\n",
    )
    report = import_map(src, "example.com")
    domain = Domain.objects.get(name="example.com")
    assert domain.header == "# managed by hand\n# second header line\n"
    assert domain.footer == "# catch-all below\n"
    rows = list(Alias.objects.values_list("key", "destinations", "enabled", "comment"))
    assert rows == [
        ("info@example.com", "anna@example.org, ben@example.org", True, "ticket 42"),
        ("old@example.com", "gone@example.org", False, ""),
        ("sales@example.com", "carla@example.org, dan@example.org", True, ""),
    ]
    assert report.created == 3 and report.disabled == 1


def test_duplicate_key_keeps_first_and_switches_later_off(aliasdesk_settings, tmp_path):
    src = write(tmp_path, "a@example.com one@x.org\nA@Example.com two@x.org\n")
    report = import_map(src, "example.com")
    first, second = Alias.objects.order_by("id")
    assert first.enabled and first.destinations == "one@x.org"
    assert not second.enabled and "duplicate of line 1" in second.comment
    assert [p.line for p in report.problems] == [2]


def test_file_with_errors_imports_nothing_and_lists_every_error(aliasdesk_settings, tmp_path):
    src = write(tmp_path, b"ok@example.com a@x.org\nnovalue@example.com\nbad@example.com a\x01b@x.org\n\xff\xfe@x y\n")
    with pytest.raises(ImportRefused) as caught:
        import_map(src, "example.com")
    assert sorted({p.line for p in caught.value.problems if p.severity == "error"}) == [2, 3, 4]
    assert not Domain.objects.exists()
    assert not Alias.objects.exists()


def test_caml_list_file_is_refused_naming_line_1(aliasdesk_settings):
    with pytest.raises(ImportRefused) as caught:
        import_map(realdata("maps", "caml-list.virtual"), "inbox.ocaml.org")
    assert [p.line for p in caught.value.problems if p.severity == "error"] == [1]


def test_byte_order_mark_is_stripped_and_said(aliasdesk_settings, tmp_path):
    src = write(tmp_path, b"\xef\xbb\xbf# header\n\na@example.com b@x.org\n")
    report = import_map(src, "example.com")
    assert Domain.objects.get().header == "# header\n"
    assert any("byte-order mark" in p.message for p in report.problems)


def test_existing_key_is_refused_without_replace(aliasdesk_settings, tmp_path):
    import_map(write(tmp_path, "a@example.com b@x.org\n"), "example.com")
    with pytest.raises(ImportRefused):
        import_map(write(tmp_path, "A@example.com c@x.org\n", "v2"), "example.com")
    assert Alias.objects.count() == 1


def test_replace_updates_adds_and_soft_deletes_with_history(aliasdesk_settings, tmp_path):
    import_map(write(tmp_path, "a@example.com b@x.org\nc@example.com d@x.org\n"), "example.com")
    report = import_map(
        write(tmp_path, "a@example.com z@x.org\ne@example.com f@x.org\n", "v2"), "example.com", replace=True
    )
    assert (report.created, report.updated, report.removed) == (1, 1, 1)
    live = dict(Alias.objects.filter(deleted_at__isnull=True).values_list("key", "destinations"))
    assert live == {"a@example.com": "z@x.org", "e@example.com": "f@x.org"}
    a = Alias.objects.get(key="a@example.com")
    assert [h.destinations for h in a.history.order_by("history_id")] == ["b@x.org", "z@x.org"]


def test_import_into_domain_with_other_map_file_is_refused(aliasdesk_settings, tmp_path):
    import_map(write(tmp_path, "a@example.com b@x.org\n"), "example.com")
    with pytest.raises(AliasError, match="writes"):
        import_map(write(tmp_path, "c@example.com b@x.org\n", "v2"), "example.com", map_file=tmp_path / "other")


def test_bad_domain_name_is_refused(aliasdesk_settings, tmp_path):
    with pytest.raises(AliasError, match="not a domain name"):
        import_map(write(tmp_path, "a@example.com b@x.org\n"), "exa mple.com")
