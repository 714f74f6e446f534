"""``aliasdesk import``: CSV and XLSX files besides maps, and ``--dry-run``, which prints what
would be added, changed, switched off and deleted and changes nothing."""

from __future__ import annotations

import datetime
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aliasdesk.aliases.models import Alias, Domain
from tests.cli.conftest import Run, unchanged

pytestmark = pytest.mark.django_db


def test_a_dry_run_prints_the_preview_and_changes_nothing(run: Run, example: Domain, tmp_path: Path) -> None:
    src = tmp_path / "virtual"
    src.write_text("new@example.com\tnew@example.org\n#sales@example.com\tcarla@example.org\n")
    with unchanged():
        out = run("import", str(src), "--domain", "example.com", "--replace", "--dry-run")
    assert "added: line 1: new@example.com\tnew@example.org" in out
    assert "switched off: line 2: sales@example.com\tcarla@example.org -> carla@example.org (off)" in out
    assert "deleted: info@example.com\tanna@example.org, ben@example.org" in out
    assert out.strip().endswith(
        "dry run, nothing changed: example.com would get 1 added, 0 changed, 1 switched off, 1 deleted, 0 unchanged"
    )


def test_a_dry_run_of_a_new_domain_creates_nothing(run: Run, aliasdesk_settings: object, tmp_path: Path) -> None:
    src = tmp_path / "virtual"
    src.write_text("a@fresh.example\tx@example.org\n")
    out = run("import", str(src), "--domain", "fresh.example", "--dry-run")
    assert "would get 1 added" in out
    assert not Domain.objects.filter(name="fresh.example").exists()
    assert not Alias.objects.exists()


def test_a_dry_run_lists_the_problems_and_fails(run: Run, example: Domain, tmp_path: Path) -> None:
    src = tmp_path / "virtual"
    src.write_text("ok@example.com x@example.org\nnovalue@example.com\n")
    err = StringIO()
    with unchanged(), pytest.raises(CommandError, match="1 problem\\(s\\), nothing imported"):
        call_command("import", str(src), "--domain", "example.com", "--dry-run", stdout=StringIO(), stderr=err)
    assert f"{src}: line 2: " in err.getvalue()


def test_it_imports_a_csv(run: Run, example: Domain, tmp_path: Path) -> None:
    src = tmp_path / "aliases.csv"
    src.write_text(
        "key,destinations,enabled,comment,valid_until\n"
        'csv@example.com,"a@example.org, b@example.org",no,"two\nlines",2030-06-30\n'
    )
    out = run("import", str(src), "--domain", "example.com")
    assert "1 added" in out
    alias = Alias.objects.get(key="csv@example.com")
    assert (alias.destinations, alias.enabled, alias.comment) == ("a@example.org, b@example.org", False, "two\nlines")
    assert alias.valid_until == datetime.date(2030, 6, 30)
    assert alias.history.latest().history_change_reason == "import · via CLI"  # type: ignore[attr-defined]


def test_it_imports_an_xlsx_and_takes_format_from_the_option(run: Run, example: Domain, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Key", "Destinations", "Enabled"])
    sheet.append(["xl@example.com", "x@example.org", "on"])
    src = tmp_path / "export.bin"
    book.save(src)
    out = run("import", str(src), "--domain", "example.com", "--format", "xlsx")
    assert "1 added" in out
    assert Alias.objects.get(key="xl@example.com").destinations == "x@example.org"
