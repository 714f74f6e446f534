"""Deploy on save: a domain with the setting on goes live in Postfix right after each save."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, update_alias
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from tests.conftest import require_postmap
from tests.deploys.helpers import postmap_query

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live(example: Domain) -> Domain:
    require_postmap()
    assert deploy_domain(example).status == "ok"
    Domain.objects.filter(pk=example.pk).update(deploy_on_save=True)
    return Domain.objects.get(pk=example.pk)


def test_off_by_default_a_save_waits_for_the_deploy_button(example: Domain, map_dir: Path) -> None:
    require_postmap()
    deploy_domain(example)
    create_alias(example, "later@example.com", "x@example.org")
    assert "later@example.com" not in (map_dir / "example.com").read_text()


def test_each_save_is_deployed_right_away_as_a_patch(live: Domain, map_dir: Path, postfix_conf: Path) -> None:
    create_alias(live, "new@example.com", "x@example.org")
    path = map_dir / "example.com"
    assert postmap_query(path, "hash", postfix_conf, "new@example.com") == "x@example.org"
    alias = Alias.objects.get(key="new@example.com")
    update_alias(alias, version=alias.version, destinations="y@example.org")
    assert postmap_query(path, "hash", postfix_conf, "new@example.com") == "y@example.org"
    last = Deploy.objects.filter(domain=live).first()
    assert last is not None and last.status == "ok" and last.method == "patch"


def test_the_inline_edit_says_it_went_live(live: Domain, login: Callable[[str], Client], postfix_conf: Path) -> None:
    client = login("alice")
    alias = Alias.objects.get(key="sales@example.com")
    response = client.post(
        f"/domains/example.com/aliases/{alias.pk}/edit",
        {"key": alias.key, "destinations": "zoe@example.org", "enabled": "on", "version": alias.version},
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="deploy-status" hx-swap-oob="true"' in page and "saved and deployed" in page
    path = Path(live.map_path)
    assert postmap_query(path, "hash", postfix_conf, "sales@example.com") == "zoe@example.org"


def test_a_failed_deploy_is_shown_where_the_user_saved(
    live: Domain, login: Callable[[str], Client], settings: object
) -> None:
    settings.POSTMAP = "/nonexistent/postmap"  # type: ignore[attr-defined]
    client = login("alice")
    response = client.post(
        "/domains/example.com/aliases/new", {"key": "fail@example.com", "destinations": "x@example.org"}, follow=True
    )
    page = response.content.decode()
    assert "saved, but the deploy failed" in page and "postmap program not found" in page
    assert Alias.objects.filter(key="fail@example.com").exists()  # the save itself stands


def test_the_setting_is_on_the_settings_page_and_kept_in_history(
    example: Domain, login: Callable[[str], Client]
) -> None:
    client = login("alice")
    page = client.get("/domains/example.com/settings").content.decode()
    assert 'name="deploy_on_save"' in page
    form = {
        "version": example.version,
        "header": example.header,
        "footer": example.footer,
        "localpart_pattern": "",
        "allowed_destination_domains": "",
        "extra_domains": "",
        "deploy_on_save": "on",
    }
    client.post("/domains/example.com/settings", form)
    domain = Domain.objects.get(pk=example.pk)
    assert domain.deploy_on_save
    assert domain.rebuild_serial < domain.serial  # switching it on changes nothing in the map
    assert domain.history.first().deploy_on_save  # type: ignore[attr-defined]


def test_two_quick_saves_leave_the_later_state_live(live: Domain, map_dir: Path, postfix_conf: Path) -> None:
    """Each deploy takes its snapshot under the map lock: a later save is never overwritten by an earlier one."""
    alias = Alias.objects.get(key="info@example.com")
    for n in range(5):
        alias = update_alias(alias, version=alias.version, destinations=f"v{n}@example.org")
    assert postmap_query(map_dir / "example.com", "hash", postfix_conf, "info@example.com") == "v4@example.org"
    assert Domain.objects.get(pk=live.pk).deployed_serial == Domain.objects.get(pk=live.pk).serial


def test_a_rollback_goes_live_with_deploy_on_save(live: Domain, map_dir: Path) -> None:
    from aliasdesk.deploys import rollback

    first = Deploy.objects.filter(domain=live, status="ok").first()
    assert first is not None
    installed = (map_dir / "example.com").read_bytes()
    create_alias(live, "new@example.com", "x@example.org")
    alias = Alias.objects.get(key="info@example.com")
    update_alias(alias, version=alias.version, destinations="y@example.org")
    assert (map_dir / "example.com").read_bytes() != installed
    rollback.apply_rollback(live, first, None)
    assert (map_dir / "example.com").read_bytes() == installed
    last_ok = Deploy.objects.filter(domain=live, status="ok").first()
    assert last_ok is not None and last_ok.pk != first.pk and last_ok.sha256 == first.sha256
