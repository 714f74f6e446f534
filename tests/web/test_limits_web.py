"""Limits on the web pages: admins set them on the settings page; every form that writes
refuses what goes beyond them with the message at hand, and a lowered limit is warned about."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aliasdesk.aliases.models import Alias, Domain

pytestmark = [pytest.mark.django_db]


def settings_form(domain: Domain, **changes: str) -> dict[str, str]:
    form = {
        "version": str(domain.version),
        "header": domain.header,
        "footer": domain.footer,
        "localpart_pattern": domain.localpart_pattern,
        "allowed_destination_domains": domain.allowed_destination_domains,
        "max_aliases": "" if domain.max_aliases is None else str(domain.max_aliases),
        "max_destinations": "" if domain.max_destinations is None else str(domain.max_destinations),
    }
    form.update(changes)
    return form


def limit(domain: Domain, aliases: int | None = None, destinations: int | None = None) -> None:
    Domain.objects.filter(pk=domain.pk).update(max_aliases=aliases, max_destinations=destinations)


def test_admin_sets_limits_on_the_settings_page(login, example):
    url = reverse("domain-settings", args=[example.name])
    page = login("alice").get(url).content.decode()
    assert 'name="max_aliases"' in page and 'name="max_destinations"' in page
    assert "2 now, switched-off ones included" in page
    response = login("alice").post(url, settings_form(example, max_aliases="500", max_destinations="10"), follow=True)
    assert "Saved the limits of example.com. They hold from now on; the map is unchanged." in response.content.decode()
    example.refresh_from_db()
    assert (example.max_aliases, example.max_destinations) == (500, 10)
    page = login("alice").get(url).content.decode()
    assert 'value="500"' in page and 'value="10"' in page


def test_a_bad_limit_is_refused_at_its_field(login, example):
    url = reverse("domain-settings", args=[example.name])
    response = login("alice").post(url, settings_form(example, max_destinations="0"))
    assert response.status_code == 422
    page = response.content.decode()
    assert "Most destinations per alias: a whole number of 1 or more" in page
    assert 'id="id_max_destinations"' in page and 'aria-invalid="true"' in page


@pytest.mark.parametrize(("name", "status"), [("bob", 403), ("carol", 403), ("dave", 403), ("erin", 404)])
def test_only_admins_set_limits(login, example, name, status):
    url = reverse("domain-settings", args=[example.name])
    assert login(name).post(url, settings_form(example, max_aliases="1")).status_code == status
    assert Domain.objects.get(pk=example.pk).max_aliases is None


def test_a_limit_below_use_shows_a_warning_on_the_domain_pages(login, example):
    url = reverse("domain-settings", args=[example.name])
    login("alice").post(url, settings_form(example, max_aliases="1", max_destinations="1"))
    assert Alias.objects.filter(domain=example, deleted_at__isnull=True).count() == 2  # rows stay
    for page_url in (url, reverse("domain-detail", args=[example.name])):
        page = login("alice").get(page_url).content.decode()
        assert 'id="limit-warnings"' in page
        assert "example.com holds 2 aliases, more than its limit of 1" in page
        assert "1 alias has more than 1 destinations (info@example.com)" in page
    assert 'id="limit-warnings"' in login("bob").get(reverse("domain-detail", args=[example.name])).content.decode()


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_the_add_form_refuses_an_alias_beyond_the_maximum(login, example, name):
    limit(example, aliases=2)
    response = login(name).post(
        reverse("alias-create", args=[example.name]), {"key": "new@example.com", "destinations": "x@example.org"}
    )
    assert response.status_code == 422
    assert "example.com allows at most 2 aliases; 2 exist" in response.content.decode()
    assert not Alias.objects.filter(key="new@example.com").exists()


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_the_inline_edit_refuses_too_many_destinations(login, example, name):
    limit(example, destinations=2)
    alias = Alias.objects.get(key="sales@example.com")
    response = login(name).post(
        reverse("alias-edit", args=[example.name, alias.pk]),
        {"key": alias.key, "destinations": "a@x.org, b@x.org, c@x.org", "version": alias.version, "enabled": "on"},
    )
    assert "at most 2 destinations per alias; sales@example.com has 3" in response.content.decode()
    assert Alias.objects.get(pk=alias.pk).destinations == "carla@example.org"


def test_switching_on_beyond_the_destination_limit_answers_in_the_row(login, example):
    alias = Alias.objects.get(key="info@example.com")
    Alias.objects.filter(pk=alias.pk).update(enabled=False)
    limit(example, destinations=1)
    response = login("alice").post(
        reverse("alias-toggle", args=[example.name, alias.pk]), {"version": alias.version}
    )
    assert response.status_code == 200
    assert "info@example.com has 2" in response.content.decode()
    assert Alias.objects.get(pk=alias.pk).enabled is False


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_paste_beyond_the_maximum_adds_nothing(login, example, name):
    limit(example, aliases=3)
    text = "a@example.com x@example.org\nb@example.com y@example.org\n"
    response = login(name).post(reverse("alias-paste", args=[example.name]), {"text": text})
    assert response.status_code == 422
    assert "example.com allows at most 3 aliases; 2 exist; the paste adds 2 more" in response.content.decode()
    assert Alias.objects.filter(domain=example).count() == 2


def test_bulk_restore_beyond_the_maximum_says_why(login, example):
    ids = [str(pk) for pk in Alias.objects.values_list("pk", flat=True)]
    login("alice").post(reverse("alias-bulk", args=[example.name]), {"action": "delete", "ids": ids})
    limit(example, aliases=1)
    response = login("alice").post(
        reverse("alias-bulk", args=[example.name]), {"action": "restore", "ids": ids}, follow=True
    )
    assert "example.com allows at most 1 aliases; 0 exist; the restore adds 2 more" in response.content.decode()
    assert Alias.objects.filter(domain=example, deleted_at__isnull=True).count() == 0


def test_a_limit_change_is_in_the_audit_log(login, example):
    url = reverse("domain-settings", args=[example.name])
    login("alice").post(url, settings_form(example, max_aliases="500"))
    page = login("alice").get(reverse("audit-log") + "?kind=domain").content.decode()
    assert "max aliases" in page and "500" in page
