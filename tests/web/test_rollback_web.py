"""The rollback page under a domain's deploy history: who sees the action, the preview
(diff and counts, nothing changed), the confirmation, and what refuses it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aliasdesk.aliases import domain_services as ds
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, update_alias
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def first(example: Domain) -> Deploy:
    require_postmap()
    result = deploy_domain(example)
    assert result.status == "ok", result.message
    info = Alias.objects.get(key="info@example.com")
    update_alias(info, version=info.version, destinations="zoe@example.org")
    create_alias(example, "new@example.com", "nina@example.org")
    example.refresh_from_db()
    ds.update_domain_settings(example, ds.DomainSettings(header="# later header\n"), version=example.version)
    return Deploy.objects.get(pk=result.deploy_id)


def url(deploy: Deploy) -> str:
    return reverse("deploy-rollback", args=[deploy.domain.name, deploy.pk])


def rows(domain: Domain) -> list[tuple[object, ...]]:
    return list(Alias.objects.filter(domain=domain).order_by("id").values_list("key", "destinations", "deleted_at"))


@pytest.mark.parametrize(("name", "shown"), [("alice", True), ("bob", True), ("carol", False), ("dave", False)])
def test_the_history_offers_a_rollback_to_those_who_may_edit(login, first, name, shown):
    page = login(name).get(reverse("deploy-history", args=["example.com"])).content.decode()
    assert ("Roll back to this" in page) is shown
    assert (url(first) in page) is shown


def test_the_preview_shows_the_diff_and_the_counts_and_changes_nothing(login, first):
    before = rows(first.domain), Domain.objects.get(pk=first.domain_id).serial
    response = login("alice").get(url(first))
    assert response.status_code == 200
    page = response.content.decode()
    detail = reverse("deploy-detail", args=["example.com", first.pk])
    assert f'Roll back to <a href="{detail}">deploy #{first.pk}' in page
    assert '<span class="del">-info@example.com\tzoe@example.org</span>' in page
    assert '<span class="add">+info@example.com\tanna@example.org, ben@example.org</span>' in page
    assert '<span class="del">-# later header</span>' in page
    assert "same bytes" in page
    counts = page[page.index('class="rollback-counts"'):]
    assert '<span class="badge badge-ok">0</span> restored' in counts
    assert '<span class="badge badge-bad">1</span> removed' in counts
    assert '<span class="badge badge-warn">1</span> changed' in counts
    assert (rows(first.domain), Domain.objects.get(pk=first.domain_id).serial) == before


def test_an_editor_is_told_the_header_stays(login, first):
    page = login("bob").get(url(first)).content.decode()
    assert 'id="header-kept"' in page and "-# later header" not in page
    serial = Domain.objects.get(pk=first.domain_id).serial
    response = login("bob").post(url(first), {"serial": serial}, follow=True)
    page = response.content.decode()
    assert f"example.com is back to deploy #{first.pk}" in page and "1 removed, 1 changed" in page
    assert "The header and footer are for administrators: they stay as they are now." in page
    fresh = Domain.objects.get(pk=first.domain_id)
    assert fresh.header == "# later header\n"
    assert Alias.objects.get(key="info@example.com").destinations == "anna@example.org, ben@example.org"


def test_an_admin_confirms_and_the_next_deploy_installs_the_same_bytes(login, first):
    serial = Domain.objects.get(pk=first.domain_id).serial
    response = login("alice").post(url(first), {"serial": serial})
    assert response.status_code == 302 and response["Location"] == reverse("deploy-preview", args=["example.com"])
    result = deploy_domain(Domain.objects.get(pk=first.domain_id))
    assert Deploy.objects.get(pk=result.deploy_id).sha256 == first.sha256


@pytest.mark.parametrize(("name", "status"), [("carol", 403), ("dave", 403), ("erin", 404)])
def test_others_may_neither_preview_nor_roll_back(login, first, name, status):
    serial = Domain.objects.get(pk=first.domain_id).serial
    assert login(name).get(url(first)).status_code == status
    before = rows(first.domain)
    assert login(name).post(url(first), {"serial": serial}).status_code == status
    assert rows(first.domain) == before


def test_a_change_since_the_preview_is_not_rolled_back(login, first):
    serial = Domain.objects.get(pk=first.domain_id).serial
    create_alias(first.domain, "newer@example.com", "otto@example.org")
    before = rows(first.domain)
    response = login("alice").post(url(first), {"serial": serial})
    assert response.status_code == 409
    assert "the domain changed since the preview" in response.content.decode()
    assert rows(first.domain) == before


def test_a_refused_change_lists_why_and_applies_nothing(login, first):
    Domain.objects.filter(pk=first.domain_id).update(max_destinations=1)  # info@ had 2 destinations then
    serial = Domain.objects.get(pk=first.domain_id).serial
    before = rows(first.domain)
    response = login("alice").post(url(first), {"serial": serial})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Not rolled back: 1 change refused." in page
    assert "example.com allows at most 1 destinations per alias; info@example.com has 2" in page
    assert rows(first.domain) == before


def test_a_deploy_that_installed_nothing_has_no_rollback(login, example):
    failed = Deploy.objects.create(domain=example, status=Deploy.Status.FAILED, error="postmap failed")
    assert login("alice").get(url(failed)).status_code == 404
