"""ALIASDESK_LDAP_* parsing: what the settings module builds, and the clear refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from aliasdesk.accounts.ldapconf import directory_settings, parse_domain_groups, parse_role_groups

BASE = {
    "ALIASDESK_LDAP_URI": "ldap://dc1.corp.test  ldaps://dc2.corp.test:636",
    "ALIASDESK_LDAP_USER_BASE": "ou=people,dc=corp,dc=test",
    "ALIASDESK_LDAP_GROUP_BASE": "ou=groups,dc=corp,dc=test",
    "ALIASDESK_LDAP_ROLE_GROUPS": "admin=cn=admins,ou=groups,dc=corp,dc=test",
}


def test_role_groups_are_role_and_dn_pairs() -> None:
    text = " Admin = cn=a,dc=x ; editor=cn=e,dc=x;;viewer=cn=v, dc=x ;editor=cn=e2,dc=x"
    assert parse_role_groups(text) == [
        ("admin", "cn=a,dc=x"), ("editor", "cn=e,dc=x"), ("viewer", "cn=v, dc=x"), ("editor", "cn=e2,dc=x"),
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("boss=cn=a,dc=x", "unknown role 'boss'"),
    ("admin", "item 1 ('admin') is not NAME=GROUP-DN"),
    ("admin=cn=a,dc=x;editor=", "item 2"),
    ("=cn=a,dc=x", "is not NAME=GROUP-DN"),
])
def test_bad_role_groups_are_refused(text: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_role_groups(text)


def test_domain_groups() -> None:
    assert parse_domain_groups("Example.COM.=cn=m,dc=x;other.org=cn=o,dc=x") == [
        ("example.com", "cn=m,dc=x"), ("other.org", "cn=o,dc=x"),
    ]
    with pytest.raises(ImproperlyConfigured, match="'localhost' is not a domain name"):
        parse_domain_groups("localhost=cn=m,dc=x")


def test_off_while_the_uri_is_unset() -> None:
    assert directory_settings({}) == {
        "LDAP_ENABLED": False, "LDAP_ROLE_GROUPS": [], "LDAP_DOMAIN_GROUPS": [], "LDAP_RECHECK_MINUTES": 15,
    }
    assert directory_settings({"ALIASDESK_LDAP_URI": "  "})["LDAP_ENABLED"] is False


def test_settings_from_the_variables(tmp_path: Path) -> None:
    import ldap
    from django_auth_ldap.config import NestedActiveDirectoryGroupType

    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    values = directory_settings({
        **BASE,
        "ALIASDESK_LDAP_BIND_DN": "cn=svc,dc=corp,dc=test",
        "ALIASDESK_LDAP_BIND_PASSWORD": " secret with spaces ",
        "ALIASDESK_LDAP_USER_FILTER": "(sAMAccountName=%(user)s)",
        "ALIASDESK_LDAP_GROUP_TYPE": "activeDirectory",
        "ALIASDESK_LDAP_START_TLS": "1",
        "ALIASDESK_LDAP_CA_FILE": str(ca),
        "ALIASDESK_LDAP_RECHECK_MINUTES": "5",
    })
    assert values["LDAP_ENABLED"] is True
    assert values["AUTH_LDAP_SERVER_URI"] == "ldap://dc1.corp.test ldaps://dc2.corp.test:636"
    assert values["AUTH_LDAP_BIND_PASSWORD"] == " secret with spaces "
    assert values["AUTH_LDAP_USER_SEARCH"].filterstr == "(sAMAccountName=%(user)s)"
    assert values["AUTH_LDAP_GROUP_SEARCH"].filterstr == "(objectClass=group)"
    assert isinstance(values["AUTH_LDAP_GROUP_TYPE"], NestedActiveDirectoryGroupType)
    assert values["AUTH_LDAP_START_TLS"] is True
    options = values["AUTH_LDAP_CONNECTION_OPTIONS"]
    assert options[ldap.OPT_X_TLS_CACERTFILE] == str(ca)
    assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX  # must come after the TLS options
    assert values["LDAP_RECHECK_MINUTES"] == 5
    defaults = directory_settings(BASE)
    assert defaults["AUTH_LDAP_USER_SEARCH"].filterstr == "(uid=%(user)s)"
    assert defaults["AUTH_LDAP_GROUP_SEARCH"].filterstr == "(objectClass=groupOfNames)"
    assert defaults["AUTH_LDAP_START_TLS"] is False and defaults["LDAP_RECHECK_MINUTES"] == 15
    assert defaults["AUTH_LDAP_BIND_DN"] == ""
    assert ldap.OPT_X_TLS_CACERTFILE not in defaults["AUTH_LDAP_CONNECTION_OPTIONS"]


@pytest.mark.parametrize(("change", "message"), [
    ({"ALIASDESK_LDAP_URI": "dc1.corp.test"}, "not an ldap:// or ldaps:// URI"),
    ({"ALIASDESK_LDAP_USER_BASE": ""}, "_USER_BASE and _GROUP_BASE are needed"),
    ({"ALIASDESK_LDAP_USER_FILTER": "(uid=%s)"}, "has no %\\(user\\)s"),
    ({"ALIASDESK_LDAP_GROUP_TYPE": "groupOfUniqueNames"}, "is not one of groupOfNames, posixGroup, activeDirectory"),
    ({"ALIASDESK_LDAP_ROLE_GROUPS": ""}, "no directory user could sign in"),
    ({"ALIASDESK_LDAP_CA_FILE": "/nonexistent/ca.pem"}, "is not a readable file"),
    ({"ALIASDESK_LDAP_RECHECK_MINUTES": "0"}, "RECHECK_MINUTES: '0' is not a whole number"),
    ({"ALIASDESK_LDAP_RECHECK_MINUTES": "soon"}, "is not a whole number"),
])
def test_bad_settings_say_what_is_wrong(change: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        directory_settings({**BASE, **change})


def _settings_in_a_fresh_process(env: dict[str, str]) -> str:
    code = ("import sys; from django.conf import settings; "
            "print(settings.AUTHENTICATION_BACKENDS, 'ldap' in sys.modules, settings.LDAP_ENABLED)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALIASDESK_LDAP_")}
    env = {**clean, **env, "DJANGO_SETTINGS_MODULE": "aliasdesk.settings"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_settings_module_without_a_uri_has_no_directory(tmp_path: Path) -> None:
    out = _settings_in_a_fresh_process({"ALIASDESK_DATA_DIR": str(tmp_path)})
    assert out == "['axes.backends.AxesStandaloneBackend', 'aliasdesk.accounts.backends.LocalBackend'] False False"


def test_settings_module_with_a_uri_adds_the_directory_after_local_accounts(tmp_path: Path) -> None:
    out = _settings_in_a_fresh_process({"ALIASDESK_DATA_DIR": str(tmp_path), **BASE})
    assert out == ("['axes.backends.AxesStandaloneBackend', 'aliasdesk.accounts.backends.LocalBackend', "
                   "'aliasdesk.accounts.directory.DirectoryBackend']"
                   " True True")


def test_command_names_a_bad_variable_in_one_line(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALIASDESK_LDAP_")}
    env = {**clean, **BASE, "ALIASDESK_DATA_DIR": str(tmp_path), "ALIASDESK_LDAP_GROUP_TYPE": "nested"}
    result = subprocess.run([sys.executable, "-m", "aliasdesk", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "aliasdesk: ALIASDESK_LDAP_GROUP_TYPE: 'nested' is not one of groupOfNames, posixGroup, activeDirectory"
    ]
