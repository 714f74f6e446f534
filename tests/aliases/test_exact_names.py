"""Names, keys, paths and log text compare exactly on every database.

MariaDB's default collation takes hjolavefsja.is and hjólavefsjá.is, straße and strasse,
Mail.log and mail.log for the same text; aliasdesk must not (aliasdesk/aliases/collation.py).
These run on whichever database the suite uses: `make test-mariadb` is where they bite.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from aliasdesk.aliases.models import Alias, Domain, MailDomain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.maillog.models import LogSource, ReasonDay

pytestmark = pytest.mark.django_db


@pytest.fixture
def example(aliasdesk_settings) -> Domain:  # type: ignore[no-untyped-def]
    return create_domain("example.com")


def test_domains_whose_names_differ_only_in_accents_are_two_maps(aliasdesk_settings) -> None:  # type: ignore[no-untyped-def]
    plain = create_domain("hjolavefsja.is")
    accented = create_domain("hjólavefsjá.is")
    assert plain.pk != accented.pk
    assert Domain.objects.get(name=plain.name) == plain
    assert Domain.objects.get(name=accented.name) == accented


def test_mail_domains_that_differ_only_in_accents_belong_to_their_own_maps(example: Domain) -> None:
    other = create_domain("example.net")
    MailDomain.objects.create(name="hjolavefsja.is", domain=example)
    MailDomain.objects.create(name="hjólavefsjá.is", domain=other)
    assert MailDomain.objects.get(name="hjolavefsja.is").domain == example
    assert MailDomain.objects.get(name="hjólavefsjá.is").domain == other


def test_keys_that_differ_only_in_accents_or_sharp_s_are_two_aliases(example: Domain) -> None:
    for key in ("strasse@example.com", "straße@example.com", "jose@example.com", "josé@example.com"):
        create_alias(example, key, "someone@example.org")
    assert Alias.objects.filter(domain=example, key_folded="strasse@example.com").count() == 1
    assert Alias.objects.filter(domain=example, key_folded="josé@example.com").count() == 1


def test_log_paths_and_reasons_that_differ_only_in_case_are_counted_apart() -> None:
    LogSource.objects.create(node="mx1", path="/var/log/mail.log")
    LogSource.objects.create(node="mx1", path="/var/log/Mail.log")
    assert LogSource.objects.filter(path="/var/log/mail.log").count() == 1
    day = datetime.date(2026, 1, 2)
    for reason in ("Connection refused", "connection refused"):
        ReasonDay.objects.create(day=day, host="mx1", kind=ReasonDay.Kind.DEFERRED, reason=reason, count=1)
    assert ReasonDay.objects.filter(reason="connection refused").count() == 1


@pytest.mark.skipif(connection.vendor != "mysql", reason="collations are a MariaDB/MySQL matter")
def test_mariadb_search_still_ignores_case_in_destinations_and_comments(example: Domain) -> None:
    create_alias(example, "info@example.com", "Anna@Example.org", comment="Ticket OPS-1")
    rows = Alias.objects.filter(domain=example)
    assert rows.filter(destinations__icontains="anna@example.ORG").count() == 1
    assert rows.filter(comment__icontains="ops-1").count() == 1
