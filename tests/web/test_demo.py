"""`aliasdesk demo --no-serve`: the logins with the domains they cover, where the data lives,
and a second run that leaves the demo's pending changes undeployed and says so."""

from __future__ import annotations

from datetime import timedelta
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



def test_the_demo_has_content_for_every_page(aliasdesk_settings):
    """Unused aliases beside used ones, expiring and expired ones, a trash, a map edited by hand
    and the deploy refused for it; a second run makes no deploy."""
    from django.utils import timezone

    from aliasdesk.deploys.models import Deploy
    from aliasdesk.deploys.overview import with_deploy_state
    from aliasdesk.maillog.models import AliasUsage
    from aliasdesk.maillog.traffic import unused_filter, unused_since

    demo()
    today = timezone.localdate()
    live = Alias.objects.filter(deleted_at__isnull=True)
    assert live.filter(unused_filter(unused_since(90))).exists()  # unused for the default period
    assert AliasUsage.objects.filter(last_seen__isnull=False).exists()  # while others have mail
    assert live.filter(enabled=True, valid_until__gte=today, valid_until__lte=today + timedelta(days=14)).count() >= 4
    expired = live.filter(valid_until__lt=today)
    assert expired.exists() and not expired.filter(enabled=True).exists()  # the deploy switched them off
    assert Alias.objects.filter(deleted_at__isnull=False).count() >= 3  # the trash
    states = {d.name: d for d in with_deploy_state(Domain.objects.filter(deleted_at__isnull=True))}
    assert [name for name, d in states.items() if d.drift] == ["example.org"]
    failed = Deploy.objects.get(status=Deploy.Status.FAILED)
    assert failed.domain.name == "example.org" and "changed by hand" in failed.error
    assert states["example.org"].last_deploy == failed

    deploys = Deploy.objects.count()
    assert "left as it is" in demo()
    assert Deploy.objects.count() == deploys


def test_the_demo_domain_list_shows_the_drifted_map_not_as_deployed(aliasdesk_settings):
    from django.test import Client
    from django.urls import reverse

    from aliasdesk.accounts.models import User

    demo()
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    page = client.get(reverse("domain-list")).content.decode()
    row = page[page.index("example.org</strong>") : page.index("</tr>", page.index("example.org</strong>"))]
    assert "edited by hand" in row and "Failed" in row and "Deployed" not in row
