"""The managed maps against a real main.cf: real postconf and postmap on a private config dir.

- a catch-all that takes mailboxes' mail (virtual_mailbox_maps, hash) is a deploy warning
  naming them; a mailbox table that cannot be listed (pgsql:) is said, never skipped;
- a managed map missing from virtual_alias_maps, an unmanaged table listed before a
  managed one, a mail domain Postfix does not receive: warnings that say what to change;
- "where does it go?" follows the order of virtual_alias_maps;
- ``aliasdesk check`` lists the same.
"""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.services import create_alias, create_domain, update_alias
from aliasdesk.deploys.engine import deploy_domain
from aliasdesk.postfix.maps.validate import WARNING
from tests.conftest import require_postmap, write_main_cf

MAILBOXES = ["anna@example.com", "bob@example.com", "carl@example.com", "dora@other.test"]


@pytest.fixture
def postfix(db, aliasdesk_settings, map_dir: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """example.com and aaa.example managed; a private main.cf that lists aaa.example's map, then
    an unmanaged texthash table, then example.com's map; mailboxes in a hash table and a pgsql
    table; lost.example's map is not listed and its domain not received."""
    require_postmap()
    etc = tmp_path / "etc"
    etc.mkdir()
    legacy = etc / "legacy"
    legacy.write_text("old@example.com someone@example.org\n")
    vmailbox = etc / "vmailbox"
    vmailbox.write_text("".join(f"{box} {box.split('@')[1]}/{box.split('@')[0]}/\n" for box in MAILBOXES))
    pgsql = etc / "mailboxes.cf"
    pgsql.write_text("hosts = 127.0.0.1\nuser = postfix\ndbname = mail\nquery = SELECT 1 WHERE '%s' = ''\n")
    conf = write_main_cf(
        tmp_path / "conf",
        f"virtual_alias_maps = hash:{map_dir}/aaa.example, texthash:{legacy}, hash:{map_dir}/example.com\n"
        "virtual_alias_domains = example.com, aaa.example\n"
        "virtual_mailbox_domains = other.test\n"
        f"virtual_mailbox_maps = hash:{vmailbox}, proxy:pgsql:{pgsql}\n"
        "mydestination = localhost\n",
    )
    subprocess.run(["postmap", "-c", str(conf), f"hash:{vmailbox}"], check=True, capture_output=True)
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    example = create_domain("example.com", map_path=map_dir / "example.com")
    create_domain("aaa.example", map_path=map_dir / "aaa.example")
    create_alias(example, "anna@example.com", "anna@example.com")
    create_alias(example, "@example.com", "catchall@example.org")
    example.refresh_from_db()
    return {"conf": conf, "legacy": legacy, "pgsql": pgsql, "vmailbox": vmailbox, "example": example}


def found(result: object, code: str) -> list[str]:
    return [f.message for f in result.findings if f.code == code and f.severity == WARNING]  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_catchall_deploy_names_the_mailboxes_it_takes(postfix: dict) -> None:  # type: ignore[type-arg]
    result = deploy_domain(postfix["example"])
    assert result.status == "ok", result.message
    [shadow] = found(result, "catchall-shadows-mailbox")
    assert "bob@example.com" in shadow and "carl@example.com" in shadow
    assert "anna@example.com" not in shadow  # it has its own line
    assert "dora@other.test" not in shadow  # another domain: the catch-all does not reach it
    assert '"bob@example.com bob@example.com"' in shadow or '"carl@example.com carl@example.com"' in shadow


@pytest.mark.django_db
def test_a_mailbox_table_that_cannot_be_listed_is_said_not_skipped(postfix: dict) -> None:  # type: ignore[type-arg]
    result = deploy_domain(postfix["example"])
    [message] = found(result, "mailboxes-not-checked")
    assert message.startswith(f"could not check catch-alls against mailboxes in proxy:pgsql:{postfix['pgsql']}: ")
    assert "a catch-all of this map covers" in message


@pytest.mark.django_db
def test_no_mailbox_warning_for_a_map_without_catchall(postfix: dict) -> None:  # type: ignore[type-arg]
    aaa = Domain.objects.get(name="aaa.example")
    create_alias(aaa, "info@aaa.example", "x@example.org")
    result = deploy_domain(aaa)
    assert result.status == "ok", result.message
    assert not found(result, "mailboxes-not-checked") and not found(result, "catchall-shadows-mailbox")


@pytest.mark.django_db
def test_the_preview_shows_the_same_warnings(postfix: dict) -> None:  # type: ignore[type-arg]
    preview = deploy_domain(postfix["example"], dry_run=True)
    assert preview.status == "dry-run"
    assert found(preview, "catchall-shadows-mailbox")
    assert found(preview, "mailboxes-not-checked")
    assert found(preview, "unmanaged-table-first")


@pytest.mark.django_db
def test_an_unmanaged_table_before_a_managed_map_is_a_warning(postfix: dict, map_dir: Path) -> None:  # type: ignore[type-arg]
    [message] = found(deploy_domain(postfix["example"]), "unmanaged-table-first")
    assert f"texthash:{postfix['legacy']}" in message
    assert f"list hash:{map_dir}/example.com before texthash:{postfix['legacy']}" in message
    assert str(postfix["conf"] / "main.cf") in message
    # aaa.example's map comes before it: nothing answers before that one.
    aaa = Domain.objects.get(name="aaa.example")
    create_alias(aaa, "info@aaa.example", "x@example.org")
    assert not found(deploy_domain(aaa), "unmanaged-table-first")


@pytest.mark.django_db
def test_a_managed_map_missing_from_virtual_alias_maps_and_its_domain_not_received(
    postfix: dict, map_dir: Path  # type: ignore[type-arg]
) -> None:
    lost = create_domain("lost.example", map_path=map_dir / "lost.example")
    create_alias(lost, "info@lost.example", "x@example.org")
    result = deploy_domain(lost)
    assert result.status == "ok", result.message  # warnings, not errors: the admin decides
    [missing] = found(result, "map-not-in-postfix")
    assert f"hash:{map_dir}/lost.example is not in virtual_alias_maps" in missing
    assert f"add hash:{map_dir}/lost.example to virtual_alias_maps in {postfix['conf']}/main.cf" in missing
    [domain] = found(result, "domain-not-received")
    assert "lost.example is in none of mydestination, virtual_alias_domains" in domain
    assert "add lost.example to virtual_alias_domains" in domain
    # The listed maps with received domains have neither.
    ok = deploy_domain(postfix["example"])
    assert not found(ok, "map-not-in-postfix") and not found(ok, "domain-not-received")


@pytest.mark.django_db
def test_a_map_listed_with_another_type_is_a_warning(postfix: dict, aliasdesk_settings, map_dir: Path) -> None:  # type: ignore[no-untyped-def, type-arg]
    conf = write_main_cf(
        postfix["conf"].parent / "conf-lmdb",
        f"virtual_alias_maps = lmdb:{map_dir}/example.com\nvirtual_alias_domains = example.com\n",
    )
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    [message] = found(deploy_domain(postfix["example"], dry_run=True), "map-type-differs")
    assert f"virtual_alias_maps lists lmdb:{map_dir}/example.com" in message
    assert f"change it to hash:{map_dir}/example.com" in message


@pytest.mark.django_db
def test_the_default_virtual_alias_domains_asks_the_map_for_a_domain_line(
    postfix: dict, aliasdesk_settings, map_dir: Path  # type: ignore[no-untyped-def, type-arg]
) -> None:
    """virtual_alias_domains = $virtual_alias_maps (the default): a domain is received when a
    listed map has a bare ``example.com`` line."""
    conf = write_main_cf(postfix["conf"].parent / "conf-default", f"virtual_alias_maps = hash:{map_dir}/example.com\n")
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    first = deploy_domain(postfix["example"])
    assert first.status == "ok", first.message
    assert found(deploy_domain(postfix["example"], dry_run=True), "domain-not-received")
    Domain.objects.filter(pk=postfix["example"].pk).update(
        header="example.com\tvirtual\n", serial=postfix["example"].serial + 1
    )
    assert deploy_domain(postfix["example"]).status == "ok"
    assert not found(deploy_domain(postfix["example"], dry_run=True), "domain-not-received")


@pytest.mark.django_db
def test_a_patch_deploy_carries_the_warnings_and_a_mailbox_line_change_is_checked_whole(
    postfix: dict,  # type: ignore[type-arg]
) -> None:
    example = postfix["example"]
    assert deploy_domain(example).status == "ok"
    create_alias(example, "new@example.com", "x@example.org")
    patched = deploy_domain(example)
    assert patched.status == "ok" and patched.method == "patch", (patched.message, patched.why_full)
    assert found(patched, "unmanaged-table-first") and found(patched, "mailboxes-not-checked")
    # Switching off anna's own line hands her mail to the catch-all: the full build says so.
    anna = Alias.objects.get(domain=example, key="anna@example.com")
    update_alias(anna, version=anna.version, enabled=False)
    full = deploy_domain(example)
    assert full.status == "ok" and full.method == "full", full.message
    [shadow] = found(full, "catchall-shadows-mailbox")
    assert "anna@example.com" in shadow


@pytest.mark.django_db
def test_resolve_follows_the_order_of_virtual_alias_maps(postfix: dict, aliasdesk_settings, map_dir: Path) -> None:  # type: ignore[no-untyped-def, type-arg]
    """Two maps answer one key (a bare name, admins only): Postfix takes the first listed."""
    aaa = Domain.objects.get(name="aaa.example")
    create_alias(aaa, "root", "first-aaa@example.org")
    create_alias(postfix["example"], "root", "first-example@example.org")

    def answer() -> list[str]:
        out = StringIO()
        call_command("resolve", "root@localhost", "--json", "--local-domain", "localhost", stdout=out)
        return list(json.loads(out.getvalue())["recipients"])

    assert answer() == ["first-aaa@example.org"]  # aaa.example's map is listed first
    conf = write_main_cf(
        postfix["conf"].parent / "conf-reversed",
        f"virtual_alias_maps = hash:{map_dir}/example.com, hash:{map_dir}/aaa.example\n",
    )
    aliasdesk_settings.POSTFIX_CONFIG_DIR = str(conf)
    assert answer() == ["first-example@example.org"]


@pytest.mark.django_db
def test_check_lists_the_fit_warnings(postfix: dict, map_dir: Path) -> None:  # type: ignore[type-arg]
    create_domain("lost.example", map_path=map_dir / "lost.example")
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()
    assert f"lost.example: hash:{map_dir}/lost.example is not in virtual_alias_maps" in text
    assert "(aliasdesk.W010)" in text or "aliasdesk.W010" in text
    assert "lost.example: lost.example is in none of mydestination" in text
    assert f"example.com: virtual_alias_maps consults texthash:{postfix['legacy']}" in text
    assert "example.com: catch-all @example.com also takes the mail of 2 mailboxes" in text
    assert "bob@example.com, carl@example.com" in text
    assert f"could not check catch-alls against mailboxes in proxy:pgsql:{postfix['pgsql']}" in text


@pytest.mark.django_db
def test_without_a_readable_main_cf_nothing_is_claimed(postfix: dict, aliasdesk_settings) -> None:  # type: ignore[no-untyped-def, type-arg]
    """No ALIASDESK_POSTFIX_CONFIG_DIR and no /etc/postfix/main.cf: postmap gets a stand-in
    configuration, and there is no Postfix configuration to compare the maps with."""
    if Path("/etc/postfix/main.cf").exists():
        pytest.skip("this machine has /etc/postfix/main.cf")
    aliasdesk_settings.POSTFIX_CONFIG_DIR = None
    result = deploy_domain(postfix["example"])
    assert result.status == "ok", result.message
    fit_codes = {"map-not-in-postfix", "unmanaged-table-first", "domain-not-received", "mailboxes-not-checked"}
    assert not [f for f in result.findings if f.code in fit_codes]


@pytest.mark.django_db
def test_the_deploy_page_shows_the_warnings_before_the_button(postfix: dict, map_dir: Path) -> None:  # type: ignore[type-arg]
    from django.test import Client
    from django.urls import reverse

    from aliasdesk.accounts.models import User

    alice = User(username="alice", role=User.Role.ADMIN, is_staff=True)
    alice.set_unusable_password()
    alice.save()
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("deploy-preview", args=["example.com"])).content.decode()
    assert "catchall-shadows-mailbox" in page and "bob@example.com" in page
    assert "could not check catch-alls against mailboxes in proxy:pgsql:" in page
    assert "unmanaged-table-first" in page


@pytest.mark.django_db
def test_an_expanded_alias_domain_names_the_target_mailboxes_it_misses(postfix: dict, map_dir: Path) -> None:  # type: ignore[type-arg]
    from aliasdesk.aliases.aliasdomains import set_alias_of

    alias = create_domain("alias.example", map_path=map_dir / "alias.example")
    set_alias_of(alias, postfix["example"], "expand")
    result = deploy_domain(Domain.objects.get(name="alias.example"))
    assert result.status == "ok", result.message
    messages = found(result, "alias-domain-mailboxes")
    assert messages and "bob@example.com" in messages[0] and "anna@example.com" not in messages[0]
