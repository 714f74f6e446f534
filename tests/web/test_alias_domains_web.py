"""Alias domains on the web: the read-only page of generated lines, the admin's settings form,
"Where does it go?", and deploy on save of the target reaching its alias domains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.aliasdomains import set_alias_of
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain
from aliasdesk.deploys.engine import deploy_domain
from tests.conftest import require_postmap
from tests.deploys.helpers import postmap_query


@pytest.fixture
def alias(example: Domain, map_dir: Path) -> Domain:
    domain = create_domain("alias.example", map_path=map_dir / "alias.example")
    return set_alias_of(domain, example)


@pytest.mark.django_db
def test_the_page_says_what_it_forwards_to_and_lists_the_lines_read_only(
    alias: Domain, login: Callable[[str], Client]
) -> None:
    page = login("alice").get("/domains/alias.example/").content.decode()
    assert "is an alias domain of" in page and 'href="/domains/example.com/"' in page
    assert "Mode <strong>expand</strong>" in page
    assert "<code class=\"wrap-anywhere\">info@alias.example</code>" in page
    assert "<code class=\"wrap-anywhere\">info@example.com</code>" in page
    assert "2 generated lines" in page
    # nothing to change here: no add form, no bulk actions, no edit links, no "Add many"
    for control in ("/aliases/new", "/aliases/bulk", "/edit", "/paste", 'name="action"'):
        assert control not in page, control


@pytest.mark.django_db
def test_the_page_searches_the_generated_lines(alias: Domain, login: Callable[[str], Client]) -> None:
    page = login("alice").get("/domains/alias.example/?q=sales").content.decode()
    assert "sales@alias.example" in page and "info@alias.example" not in page and "1 generated line of 2" in page


@pytest.mark.django_db
def test_catchall_mode_is_shown_with_its_warning(alias: Domain, login: Callable[[str], Client]) -> None:
    set_alias_of(alias, alias.alias_of, "catchall")
    page = login("alice").get("/domains/alias.example/").content.decode()
    assert "Mode <strong>catch-all</strong>" in page and "backscatter" in page
    assert "<code class=\"wrap-anywhere\">@alias.example</code>" in page


@pytest.mark.django_db
def test_a_forged_post_adds_nothing_to_an_alias_domain(alias: Domain, login: Callable[[str], Client]) -> None:
    response = login("alice").post(
        "/domains/alias.example/aliases/new", {"key": "x@alias.example", "destinations": "y@example.org"}, follow=True
    )
    assert "is an alias domain of example.com" in response.content.decode()
    assert not Alias.objects.filter(domain=alias).exists()


@pytest.mark.django_db
def test_an_admin_makes_a_domain_an_alias_domain_in_its_settings(
    example: Domain, map_dir: Path, login: Callable[[str], Client]
) -> None:
    fresh = create_domain("fresh.example", map_path=map_dir / "fresh.example")
    client = login("alice")
    form = client.get("/domains/fresh.example/settings").content.decode()
    assert 'id="alias-domain-form"' in form and f'<option value="{example.pk}">example.com</option>' in form
    response = client.post(
        "/domains/fresh.example/settings/alias-of",
        {"alias_of": example.pk, "alias_mode": "catchall", "version": fresh.version},
        follow=True,
    )
    assert "is now an alias domain of example.com" in response.content.decode()
    fresh.refresh_from_db()
    assert fresh.alias_of_id == example.pk and fresh.alias_mode == "catchall"
    client.post("/domains/fresh.example/settings/alias-of", {"alias_of": "", "version": fresh.version})
    assert Domain.objects.get(pk=fresh.pk).alias_of_id is None


@pytest.mark.django_db
def test_a_refused_target_says_why_and_changes_nothing(
    example: Domain, other: Domain, login: Callable[[str], Client]
) -> None:
    response = login("alice").post(
        "/domains/other.org/settings/alias-of",
        {"alias_of": example.pk, "alias_mode": "expand", "version": other.version},
        follow=True,
    )
    assert "Not changed: other.org has 1 alias (the trash counts too)" in response.content.decode()
    assert Domain.objects.get(pk=other.pk).alias_of_id is None


@pytest.mark.django_db
def test_editors_cannot_make_alias_domains(example: Domain, map_dir: Path, login: Callable[[str], Client]) -> None:
    response = login("bob").post(
        "/domains/example.com/settings/alias-of", {"alias_of": "", "alias_mode": "expand", "version": 1}
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_where_does_it_go_shows_both_steps_and_refusal(alias: Domain, login: Callable[[str], Client]) -> None:
    client = login("alice")
    page = client.get("/resolve/", {"address": "info@alias.example"}).content.decode()
    assert "lookup info@alias.example (user@domain): found in map 1" in page
    assert "-&gt; info@example.com" in page and "anna@example.org" in page
    refused = client.get("/resolve/", {"address": "nobody@alias.example"}).content.decode()
    assert 'id="not-accepted"' in refused and "User unknown in virtual alias table" in refused


@pytest.mark.django_db(transaction=True)
def test_deploy_on_save_of_the_target_redeploys_its_alias_domain(
    alias: Domain, example: Domain, postfix_conf: Path
) -> None:
    require_postmap()
    assert deploy_domain(example).status == "ok" and deploy_domain(alias).status == "ok"
    Domain.objects.filter(pk__in=[example.pk, alias.pk]).update(deploy_on_save=True)
    create_alias(Domain.objects.get(pk=example.pk), "new@example.com", "x@example.org")
    path = Path(alias.map_path)
    assert postmap_query(path, "hash", postfix_conf, "new@alias.example") == "new@example.com"
    assert postmap_query(Path(example.map_path), "hash", postfix_conf, "new@example.com") == "x@example.org"
    last = alias.deploys.order_by("-id").first()  # type: ignore[attr-defined]
    assert last.status == "ok" and last.method == "full"


@pytest.mark.django_db
def test_a_viewer_of_the_alias_domain_sees_the_target_named_without_a_link(
    alias: Domain, login: Callable[[str], Client], everyone: dict[str, User]
) -> None:
    Grant.objects.create(user=everyone["erin"], domain=alias, role=Grant.Role.VIEWER)
    page = login("erin").get("/domains/alias.example/").content.decode()
    assert "is an alias domain of\n    example.com" in page and 'href="/domains/example.com/"' not in page


@pytest.mark.django_db
def test_the_domain_list_and_the_settings_preview_know_alias_domains(
    alias: Domain, login: Callable[[str], Client]
) -> None:
    client = login("alice")
    listing = client.get("/domains/").content.decode()
    assert "alias domain of example.com (expand)" in listing
    preview = client.get("/domains/alias.example/settings").content.decode()
    assert "info@alias.example\tinfo@example.com" in preview


@pytest.mark.django_db
def test_an_editor_who_cannot_see_the_alias_domain_learns_that_it_answers(
    alias: Domain, login: Callable[[str], Client]
) -> None:
    page = login("bob").get("/resolve/", {"address": "info@alias.example"}).content.decode()
    assert 'id="hidden-answers"' in page and "the map of <strong>alias.example</strong> defines it too" in page


@pytest.mark.django_db
def test_the_deploy_page_previews_and_deploys_the_generated_map(
    alias: Domain, login: Callable[[str], Client], postfix_conf: Path
) -> None:
    require_postmap()
    client = login("alice")
    preview = client.get("/domains/alias.example/deploy").content.decode()
    assert "+info@alias.example\tinfo@example.com" in preview
    response = client.post("/domains/alias.example/deploy", follow=True)
    assert response.status_code == 200
    assert postmap_query(Path(alias.map_path), "hash", postfix_conf, "sales@alias.example") == "sales@example.com"
