"""`aliasdesk demo --no-serve`: the logins with the domains they cover, where the data lives,
and a second run that leaves the demo's pending changes undeployed and says so."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import update_alias

pytestmark = [pytest.mark.django_db, pytest.mark.postfix]


def demo() -> str:
    out = StringIO()
    call_command("demo", "--no-serve", stdout=out, stderr=out)
    return out.getvalue()


def test_the_demo_says_who_covers_what_and_a_second_run_deploys_nothing(aliasdesk_settings):
    first = demo()
    assert "demo data ready — logins:" in first and "http://" not in first
    assert "editor     demo-editor-pass     editor   example.com, example.org" in first
    assert "admin      demo-admin-pass      admin    every domain" in first
    assert f"data and maps: {aliasdesk_settings.DATA_DIR}" in first
    assert not Domain.objects.exclude(serial=F("deployed_serial")).exists()  # all deployed

    alias = Alias.objects.filter(domain__name="example.com", enabled=True).first()
    assert alias is not None
    update_alias(alias, version=alias.version, enabled=False)
    second = demo()
    assert "the demo data was there already: left as it is; 1 domain has changes not deployed" in second
    domain = Domain.objects.get(name="example.com")
    assert domain.serial != domain.deployed_serial

