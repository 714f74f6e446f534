"""History change reasons name keys and files: a long one is kept whole on every database
(a varchar(100) took it on SQLite and refused the whole change on PostgreSQL and MariaDB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aliasdesk.aliases.importer import import_map
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain

pytestmark = pytest.mark.django_db


def test_a_long_key_that_claims_its_mail_domain_is_written_with_its_reason(aliasdesk_settings) -> None:  # type: ignore[no-untyped-def]
    domain = create_domain("example.com")
    mail_domain = ("a" * 60 + ".") * 3 + "example"
    key = f"{'someone-with-a-long-name-' * 2}x@{mail_domain}"
    create_alias(domain, key, "anna@example.org")
    reasons = list(Domain.history.filter(id=domain.pk).values_list("history_change_reason", flat=True))
    assert f"keys of it written: {key}" in reasons


def test_an_import_from_a_long_path_keeps_the_path_in_the_reason(aliasdesk_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / ("a-folder-with-a-long-name-" * 6)
    folder.mkdir()
    src = folder / "example.com.virtual"
    src.write_text("info@example.com anna@example.org\ninfo@example.net ben@example.org\n")
    import_map(src, "example.com")
    assert Alias.objects.filter(domain__name="example.com").count() == 2
    reasons = set(Domain.history.values_list("history_change_reason", flat=True))
    assert any(reason and str(src) in reason for reason in reasons), reasons
