"""Admin pages: domain settings, drift, deploy details, users and grants, the audit log.

Each page is tried by who may use it and by who may not (404 when the page or the
domain is none of their business, 403 when they may see the domain but not change it).
"""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from aliasdesk.accounts.models import Grant, SecurityEvent, User
from aliasdesk.aliases import domain_services
from aliasdesk.aliases.importer import bulk_insert_aliases
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, update_alias
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.deploys.models import Deploy
from aliasdesk.postfix.maps.virtual import Entry
from tests.conftest import require_postmap

pytestmark = [pytest.mark.django_db]


def settings_url(domain: Domain) -> str:
    return reverse("domain-settings", args=[domain.name])


def settings_form(domain: Domain, **changes: str) -> dict[str, str]:
    form = {
        "version": str(domain.version),
        "header": domain.header,
        "footer": domain.footer,
        "localpart_pattern": domain.localpart_pattern,
        "allowed_destination_domains": domain.allowed_destination_domains,
    }
    form.update(changes)
    return form


def postmap_query(path: Path, conf: Path, key: str) -> str | None:
    proc = subprocess.run(["postmap", "-c", str(conf), "-q", key, f"hash:{path}"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


# --- Domain settings -----------------------------------------------------------------------


def test_admin_sees_settings_with_a_preview_of_the_map(login, example):
    example.header = "# managed by aliasdesk\n"
    example.footer = "@example.com\tpostmaster@example.com\n"
    example.save()
    response = login("alice").get(settings_url(example))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_header"' in page and "# managed by aliasdesk" in page
    assert "info@example.com\tanna@example.org, ben@example.org" in page
    assert "@example.com\tpostmaster@example.com" in page


@pytest.mark.parametrize("name", ["bob", "carol", "dave", "erin"])
def test_settings_page_is_not_there_for_non_admins(login, example, name):
    assert login(name).get(settings_url(example)).status_code == 404


@pytest.mark.parametrize(("name", "status"), [("bob", 403), ("carol", 403), ("dave", 403), ("erin", 404)])
def test_non_admins_cannot_save_settings(login, example, name, status):
    response = login(name).post(settings_url(example), settings_form(example, header="# mine\n"))
    assert response.status_code == status
    example.refresh_from_db()
    assert example.header == ""


def test_settings_tab_shows_for_admins_only(login, example):
    assert settings_url(example).encode() in login("alice").get(f"/domains/{example.name}/").content
    assert settings_url(example).encode() not in login("bob").get(f"/domains/{example.name}/").content


def test_admin_saves_settings_with_history_and_a_new_serial(login, alice, example):
    serial, version = example.serial, example.version
    form = settings_form(
        example,
        header="# example.com\r\n# edits by hand are overwritten\r\n\r\n",
        footer="# catch-all, keep last\r\n@example.com\tpostmaster@example.com",
        localpart_pattern="[a-z0-9.+-]+",
        allowed_destination_domains="example.org\r\nExample.net\r\n",
    )
    response = login("alice").post(settings_url(example), form)
    assert response.status_code == 302
    example.refresh_from_db()
    assert example.header == "# example.com\n# edits by hand are overwritten\n"
    assert example.footer == "# catch-all, keep last\n@example.com\tpostmaster@example.com\n"
    assert example.localpart_pattern == "[a-z0-9.+-]+"
    assert example.allowed_destination_domains == "example.org\nexample.net"
    assert example.version == version + 1
    assert example.serial == serial + 1
    record = example.history.order_by("-history_id").first()
    assert record.history_user == alice and record.header == example.header


def test_saving_unchanged_settings_changes_nothing(login, example):
    serial = example.serial
    response = login("alice").post(settings_url(example), settings_form(example))
    assert response.status_code == 302
    example.refresh_from_db()
    assert (example.serial, example.version) == (serial, 1)


def test_bad_header_is_refused_with_its_line_number(login, example):
    form = settings_form(example, header="# fine\nspecial@example.com\n  \x01bad\n")
    response = login("alice").post(settings_url(example), form)
    assert response.status_code == 422
    assert "Header, line 3: control character U+0001" in response.content.decode()
    response = login("alice").post(settings_url(example), settings_form(example, footer="# x\nnovalue@example.com\n"))
    assert response.status_code == 422
    assert 'Footer, line 2: &quot;novalue@example.com&quot; has no value' in response.content.decode()
    example.refresh_from_db()
    assert (example.header, example.footer, example.version) == ("", "", 1)


def test_footer_that_would_continue_the_last_alias_is_refused(login, example):
    response = login("alice").post(settings_url(example), settings_form(example, footer="  more@example.org\n"))
    assert response.status_code == 422
    assert "Footer, line 1: line starts with white space" in response.content.decode()


def test_bad_pattern_and_bad_destination_domains_are_refused(login, example):
    form = settings_form(example, localpart_pattern="([a-z", allowed_destination_domains="example.org\nnot a domain!")
    response = login("alice").post(settings_url(example), form)
    page = response.content.decode()
    assert response.status_code == 422
    assert "Name pattern: not a valid regular expression" in page
    assert "line 2" in page
    example.refresh_from_db()
    assert example.localpart_pattern == "" and example.allowed_destination_domains == ""


def test_saved_policy_applies_to_new_aliases(login, example):
    form = settings_form(example, localpart_pattern="[a-z]+", allowed_destination_domains="example.org")
    login("alice").post(settings_url(example), form)
    example.refresh_from_db()
    with pytest.raises(Exception, match="pattern"):
        create_alias(example, "Bad.Name@example.com", "x@example.org")
    with pytest.raises(Exception, match="only forward"):
        create_alias(example, "good@example.com", "x@elsewhere.net")


def test_stale_save_is_refused_and_shows_the_other_admins_values(login, alice, example):
    # Another administrator saves while alice still has version 1 open.
    domain_services.update_domain_settings(
        example, domain_services.DomainSettings(header="# theirs\n"), version=1, user=alice
    )
    response = login("alice").post(settings_url(example), settings_form(example, version="1", footer="# mine\n"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "someone else saved first" in page
    assert "# theirs" in page  # their header, shown and kept in the form
    assert "# mine" in page  # alice's footer is still in the form
    assert 'name="version" value="2"' in page
    example.refresh_from_db()
    assert (example.header, example.footer, example.version) == ("# theirs\n", "", 2)


def test_stale_save_flags_fields_both_changed(login, alice, example):
    domain_services.update_domain_settings(
        example, domain_services.DomainSettings(header="# theirs\n"), version=1, user=alice
    )
    response = login("alice").post(settings_url(example), settings_form(example, version="1", header="# mine\n"))
    page = response.content.decode()
    assert response.status_code == 409
    assert "you changed it too" in page and "# theirs" in page and "# mine" in page


def test_preview_renders_the_first_aliases_and_counts_the_rest(login, example):
    for n in range(33):
        create_alias(example, f"user{n}@example.com", f"user{n}@example.org")
    url = reverse("domain-settings-preview", args=[example.name])
    response = login("alice").post(url, {"header": "# top\n", "footer": "# bottom\n@example.com\tpm@example.org\n"})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("# top") < page.index("info@example.com") < page.index("5 more aliases") < page.index("# bottom")
    assert "user27@example.com" in page and "user28@example.com" not in page


def test_preview_shows_problems_as_you_type(login, example):
    url = reverse("domain-settings-preview", args=[example.name])
    response = login("alice").post(url, {"header": "# a\n\tindented\n", "footer": ""})
    assert "Header, line 2: line starts with white space" in response.content.decode()


@pytest.mark.parametrize(("name", "status"), [("bob", 403), ("carol", 403), ("erin", 404)])
def test_preview_is_for_admins_only(login, example, name, status):
    url = reverse("domain-settings-preview", args=[example.name])
    assert login(name).post(url, {"header": "", "footer": ""}).status_code == status


def test_readonly_demo_shows_settings_but_saves_nothing(login, example, settings):
    settings.DEMO_READONLY = True
    client = login("alice")
    response = client.get(settings_url(example))
    assert response.status_code == 200 and b"disabled" in response.content
    assert client.post(settings_url(example), settings_form(example, header="# x\n")).status_code == 403


# --- Drift and deploy details ---------------------------------------------------------------


@pytest.fixture
def drifted(example, postfix_conf) -> Path:
    """example.com deployed, then edited by hand on disk and compiled, as an administrator would."""
    require_postmap()
    assert deploy_domain(example).status == "ok"
    path = Path(example.map_path)
    text = path.read_text().replace("sales@example.com", "#sales@example.com")
    path.write_text(text + "handmade@example.com\tsomeone@example.org\n")
    subprocess.run(["postmap", "-c", str(postfix_conf), f"hash:{path}"], check=True)
    return path


def test_drift_offers_both_choices_to_an_admin(login, drifted, example):
    page = login("alice").get(reverse("deploy-preview", args=[example.name])).content.decode()
    assert "edited by hand" in page
    assert "Import the hand edits" in page and "Overwrite them" in page
    assert "handmade@example.com" in page


def test_drift_offers_only_overwrite_to_an_editor(login, drifted, example):
    client = login("bob")
    page = client.get(reverse("deploy-preview", args=[example.name])).content.decode()
    assert "Overwrite them" in page and "Import the hand edits" not in page
    assert client.post(reverse("deploy-import", args=[example.name])).status_code == 403
    assert not Alias.objects.filter(key="handmade@example.com").exists()


def test_import_of_hand_edits_end_to_end(login, alice, drifted, example, postfix_conf):
    client = login("alice")
    response = client.post(reverse("deploy-import", args=[example.name]))
    assert response.status_code == 302
    assert response["Location"] == reverse("deploy-preview", args=[example.name])
    made = Alias.objects.get(domain=example, key="handmade@example.com", deleted_at__isnull=True)
    assert made.destinations == "someone@example.org"
    assert Alias.objects.get(domain=example, key="sales@example.com").enabled is False
    assert made.history.first().history_user == alice

    page = client.get(reverse("deploy-preview", args=[example.name])).content.decode()
    assert "edited by hand" not in page and "Import the hand edits" not in page

    # The next change deploys as usual, hand edits included.
    create_alias(example, "new@example.com", "nina@example.org", user=alice)
    response = client.post(reverse("deploy-preview", args=[example.name]))
    deploy = Deploy.objects.filter(domain=example).first()
    assert deploy.status == "ok", deploy.error
    assert response["Location"] == reverse("deploy-detail", args=[example.name, deploy.pk])
    assert postmap_query(drifted, postfix_conf, "handmade@example.com") == "someone@example.org"
    assert postmap_query(drifted, postfix_conf, "new@example.com") == "nina@example.org"
    assert postmap_query(drifted, postfix_conf, "sales@example.com") is None


def test_overwrite_deploys_over_the_hand_edits(login, drifted, example, postfix_conf):
    response = login("bob").post(reverse("deploy-preview", args=[example.name]), {"force": "1"})
    assert response.status_code == 302
    deploy = Deploy.objects.filter(domain=example).first()
    assert deploy.status == "ok" and deploy.forced
    assert "handmade@example.com" not in drifted.read_text()
    assert postmap_query(drifted, postfix_conf, "sales@example.com") == "carla@example.org"


def test_import_of_a_broken_file_changes_nothing_and_says_where(login, drifted, example):
    drifted.write_text(drifted.read_text() + "novalue@example.com\n")
    response = login("alice").post(reverse("deploy-import", args=[example.name]))
    assert response.status_code == 422
    assert re.search(r"line \d+: &quot;novalue@example.com&quot; has no value", response.content.decode())
    assert not Alias.objects.filter(key="handmade@example.com").exists()


def test_deploy_detail_shows_outcome_timings_and_coloured_diff(login, example, other, postfix_conf):
    require_postmap()
    result = deploy_domain(example, user=User.objects.get(username="alice"))
    url = reverse("deploy-detail", args=[example.name, result.deploy_id])
    page = login("dave").get(url).content.decode()
    assert "Deployed" in page and "alice" in page
    assert "postmap" in page and "total" in page
    assert '<span class="add">+info@example.com\tanna@example.org, ben@example.org</span>' in page
    history = login("bob").get(reverse("deploy-history", args=[example.name])).content.decode()
    assert url in history


def test_deploy_detail_speaks_the_readers_language(login, example, postfix_conf):
    require_postmap()
    with translation.override("de"):  # deployed from a German page: recorded in English all the same
        result = deploy_domain(example, user=User.objects.get(username="alice"))
    assert Deploy.objects.get(pk=result.deploy_id).why_full == "no deploy to patch yet"
    url = reverse("deploy-detail", args=[example.name, result.deploy_id])
    page = login("dave").get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "(noch keine Übernahme, die sich patchen ließe)" in page
    steps = re.findall(r'<th scope="row">([^<]+)</th>', page)
    assert "Map erzeugen" in steps and "Stichprobe" in steps and steps[-1] == "Gesamt"
    assert "render" not in steps and "total" not in steps
    assert f"{example.map_path} (auf der Festplatte)</span>" in page and f"{example.map_path} (neu)</span>" in page
    english = login("dave").get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "(no deploy to patch yet)" in english and f"{example.map_path} (on disk)</span>" in english
    assert re.findall(r'<th scope="row">([^<]+)</th>', english)[-1] == "total"


def test_deploy_detail_is_hidden_outside_the_users_domains(login, example, other):
    require_postmap()
    mine = deploy_domain(example).deploy_id
    theirs = deploy_domain(other).deploy_id
    assert login("erin").get(reverse("deploy-detail", args=[example.name, mine])).status_code == 404
    assert login("bob").get(reverse("deploy-detail", args=[other.name, theirs])).status_code == 404
    # A deploy of another domain under a visible domain's name: not found either.
    assert login("alice").get(reverse("deploy-detail", args=[example.name, theirs])).status_code == 404


# --- Users and grants -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bob", "carol", "dave", "erin"])
def test_user_pages_are_not_there_for_non_admins(login, everyone, example, name):
    client = login(name)
    target = everyone["erin"].pk
    for url in ("/users/", "/users/new", f"/users/{target}/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/users/new", {"username": "x", "role": "admin"}).status_code == 404
    assert client.post(f"/users/{target}/", {"role": "admin", "is_active": "on"}).status_code == 404
    assert client.post(f"/users/{target}/grants", {"domain": example.pk, "role": "editor"}).status_code == 404
    assert User.objects.get(pk=target).role == "editor" and not Grant.objects.filter(user_id=target).exists()


def test_admin_creates_a_user_with_an_argon2_password(login, everyone):
    client = login("alice")
    assert client.get("/users/").status_code == 200
    form = {"username": "frank", "role": "viewer", "password": "a long pass 42", "password2": "a long pass 42"}
    response = client.post("/users/new", form)
    frank = User.objects.get(username="frank")
    assert response.status_code == 302 and response["Location"] == f"/users/{frank.pk}/"
    assert frank.role == "viewer" and frank.password.startswith("argon2")
    assert frank.check_password("a long pass 42")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "frank", "password": "a long pass 42", "password2": "a long pass 43"}, "passwords differ"),
        ({"username": "frank", "password": "short", "password2": "short"}, "password refused"),
        ({"username": "bob", "password": "a long pass 42", "password2": "a long pass 42"}, "exists already"),
        ({"username": "fr ank", "password": "a long pass 42", "password2": "a long pass 42"}, "valid username"),
    ],
)
def test_create_user_refuses_bad_input(login, everyone, form, message):
    response = login("alice").post("/users/new", {"role": "editor", **form})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not User.objects.filter(username__in=["frank", "fr ank"]).exists()


def test_admin_changes_role_and_active_flag(login, everyone):
    bob = everyone["bob"]
    response = login("alice").post(f"/users/{bob.pk}/", {"role": "viewer"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.role == "viewer" and not bob.is_active
    assert set(bob.grants.values_list("role", flat=True)) == {"viewer"}  # a viewer's grants read only


def test_admin_cannot_remove_own_admin_role_or_lock_themselves_out(login, alice):
    client = login("alice")
    response = client.post(f"/users/{alice.pk}/", {"role": "auditor", "is_active": "on"})
    assert response.status_code == 422
    assert "your own administrator role" in response.content.decode()
    response = client.post(f"/users/{alice.pk}/", {"role": "admin"})
    assert response.status_code == 422
    alice.refresh_from_db()
    assert alice.role == "admin" and alice.is_active


def test_admin_demotes_another_admin(login, alice):
    other = User.objects.create(username="zoe", role="admin", is_staff=True)
    assert login("alice").post(f"/users/{other.pk}/", {"role": "auditor", "is_active": "on"}).status_code == 302
    other.refresh_from_db()
    assert other.role == "auditor" and not other.is_staff


def test_admin_resets_a_password(login, everyone):
    erin = everyone["erin"]
    client = login("alice")
    form = {"password": "new pass for erin", "password2": "new pass for erin"}
    assert client.post(f"/users/{erin.pk}/password", form).status_code == 302
    erin.refresh_from_db()
    assert erin.check_password("new pass for erin")
    bad = client.post(f"/users/{erin.pk}/password", {"password": "new pass one", "password2": "new pass two"})
    assert bad.status_code == 422 and "the two passwords differ" in bad.content.decode()


def test_admin_grants_and_revokes_domains(login, everyone, example, other):
    erin = everyone["erin"]
    client = login("alice")
    assert login("erin").get(f"/domains/{other.name}/").status_code == 404
    response = client.post(f"/users/{erin.pk}/grants", {"domain": other.pk, "role": "editor"})
    assert response.status_code == 302
    assert Grant.objects.get(user=erin, domain=other).role == "editor"
    assert login("erin").get(f"/domains/{other.name}/").status_code == 200
    # htmx: the grants section comes back in place, with the change.
    response = client.post(
        f"/users/{erin.pk}/grants", {"domain": other.pk, "role": "viewer"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and b'id="grants"' in response.content and b"<html" not in response.content
    assert Grant.objects.get(user=erin, domain=other).role == "viewer"
    response = client.post(f"/users/{erin.pk}/grants/{other.pk}/revoke")
    assert response.status_code == 302
    assert not Grant.objects.filter(user=erin, domain=other).exists()
    assert login("erin").get(f"/domains/{other.name}/").status_code == 404


def test_grants_that_make_no_sense_are_refused(login, everyone, example):
    client = login("alice")
    response = client.post(f"/users/{everyone['dave'].pk}/grants", {"domain": example.pk, "role": "editor"})
    assert response.status_code == 422 and "domain viewer" in response.content.decode()
    response = client.post(f"/users/{everyone['carol'].pk}/grants", {"domain": example.pk, "role": "viewer"})
    assert response.status_code == 422 and "sees every domain" in response.content.decode()
    assert Grant.objects.get(user=everyone["dave"]).role == "viewer"


# --- Audit log ------------------------------------------------------------------------------


def test_audit_log_shows_alias_and_domain_changes_with_before_and_after(login, everyone, example):
    alias = Alias.objects.get(key="sales@example.com")
    update_alias(alias, version=alias.version, user=everyone["bob"], destinations="dora@example.org")
    login("alice").post(settings_url(example), settings_form(example, header="# new header\n"))
    for name in ("alice", "carol"):
        response = login(name).get("/audit/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "<del>carla@example.org</del>" in page and "<ins>dora@example.org</ins>" in page
        assert "domain settings" in page and "+# new header" in page
        assert page.index("# new header") < page.index("dora@example.org")  # newest first


@pytest.mark.parametrize("name", ["bob", "dave", "erin"])
def test_audit_log_is_for_admins_and_auditors_only(login, example, name):
    assert login(name).get("/audit/").status_code == 404


def test_audit_log_filters_by_user_domain_kind_and_date(login, everyone, example, other):
    sales = Alias.objects.get(key="sales@example.com")
    update_alias(sales, version=sales.version, user=everyone["bob"], comment="by bob")
    info = Alias.objects.get(key="info@other.org")
    update_alias(info, version=info.version, user=everyone["alice"], comment="by alice")
    client = login("carol")

    page = client.get("/audit/", {"user": "bob"}).content.decode()
    assert "by bob" in page and "by alice" not in page
    page = client.get("/audit/", {"domain": "other.org"}).content.decode()
    assert "by alice" in page and "by bob" not in page and "info@other.org" in page
    page = client.get("/audit/", {"kind": "domain"}).content.decode()
    assert "by bob" not in page and "domain settings" in page
    page = client.get("/audit/", {"user": "-", "kind": "alias"}).content.decode()
    assert "info@example.com" in page and "by bob" not in page  # the fixtures' rows have no user
    today = timezone.localdate()
    page = client.get("/audit/", {"since": str(today + timedelta(days=1))}).content.decode()
    assert "No changes match these filters" in page
    page = client.get("/audit/", {"since": str(today), "until": str(today)}).content.decode()
    assert "by bob" in page and "by alice" in page
    page = client.get("/audit/", {"user": "nobody"}).content.decode()
    assert "no user called nobody" in page


def test_audit_log_dates_are_typed_as_the_language_writes_them(login, everyone, example):
    sales = Alias.objects.get(key="sales@example.com")
    update_alias(sales, version=sales.version, user=everyone["bob"], comment="by bob")
    client = login("carol")
    today, tomorrow = timezone.localdate(), timezone.localdate() + timedelta(days=1)
    german = {"HTTP_ACCEPT_LANGUAGE": "de"}
    page = client.get("/audit/", {"since": f"{tomorrow:%d.%m.%Y}"}, **german).content.decode()
    assert "Keine Änderungen" in page and "by bob" not in page
    assert f'name="since" value="{tomorrow:%d.%m.%Y}" placeholder="TT.MM.JJJJ"' in page
    assert f"since={tomorrow.isoformat()}" in page  # the downloads take it as an ISO date
    page = client.get("/audit/", {"since": today.isoformat(), "until": f"{today:%d.%m.%y}"}, **german).content.decode()
    assert "by bob" in page and f'value="{today:%d.%m.%Y}"' in page  # ISO is read too
    page = client.get("/audit/", {"since": "31.02.2026"}, **german).content.decode()
    assert "„31.02.2026“ ist kein Datum: Schreiben Sie es als TT.MM.JJJJ." in page
    assert 'value="31.02.2026"' in page and 'aria-invalid="true"' in page and "by bob" in page
    page = client.get("/audit/", {"since": f"{tomorrow:%m/%d/%Y}"}).content.decode()
    assert 'placeholder="YYYY-MM-DD"' in page and "is not a date: write it as YYYY-MM-DD" in page
    assert "by bob" in page


ROW_RE = re.compile(
    r'<tr role="row">\s*<td role="cell" class="when">.*?<td role="cell" class="what">'
    r'(?:<span class="key">([^<]*)</span>|<span class="badge">domain settings</span>'
    r'|<span class="badge[^"]*">([^<]*)</span>)',
    re.DOTALL,
)


def audit_rows(page: str) -> list[str]:
    """The alias key (or "" for a domain change, "event: …" for a security event) of each row."""
    return [key or (f"event: {event}" if event else "") for key, event in ROW_RE.findall(page)]


def pager_link(page: str, rel: str) -> str | None:
    found = re.search(rf'href="\?([^"]*)" rel="{rel}"', page)
    return "/audit/?" + found.group(1).replace("&amp;", "&") if found else None


def test_audit_log_pages_through_everything_newest_first(login, example):
    # An import writes many rows at the same instant: the pages must neither skip nor repeat.
    bulk_insert_aliases(example, [Entry(f"bulk{n}@example.com", "x@example.org") for n in range(130)], None, "t")
    client = login("carol")  # a security event (carol signed in) among the changes
    expected = Alias.history.count() + Domain.history.count() + SecurityEvent.objects.count()
    pages = [client.get("/audit/").content.decode()]
    while (older := pager_link(pages[-1], "next")) is not None:
        pages.append(client.get(older).content.decode())
    rows = [row for page in pages for row in audit_rows(page)]
    assert len(pages) == -(-expected // 50)
    assert len(rows) == expected
    bulk = [key for key in rows if key.startswith("bulk")]
    assert bulk == [f"bulk{n}@example.com" for n in range(129, -1, -1)]  # newest first, each once

    # And back: "Newer" from the second page gives the first page again.
    newer = pager_link(pages[1], "prev")
    assert newer is not None
    assert audit_rows(client.get(newer).content.decode()) == audit_rows(pages[0])
    assert pager_link(pages[0], "prev") is None


def test_audit_log_page_costs_a_fixed_number_of_queries(login, everyone, example, django_assert_max_num_queries):
    for n in range(60):
        alias = create_alias(example, f"q{n}@example.com", "x@example.org", user=everyone["bob"])
        update_alias(alias, version=alias.version, user=everyone["bob"], comment=f"change {n}")
    client = login("carol")
    with django_assert_max_num_queries(15):
        response = client.get("/audit/")
    assert len(audit_rows(response.content.decode())) == 50
