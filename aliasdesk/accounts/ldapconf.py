"""Directory login settings from the ALIASDESK_LDAP_* variables (README: "Directory login").

``directory_settings(os.environ)`` gives the django-auth-ldap ``AUTH_LDAP_*`` settings and
aliasdesk's own ``LDAP_*`` ones, or only ``LDAP_ENABLED = False`` (and empty group lists)
while ALIASDESK_LDAP_URI is unset: then python-ldap is not even imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

ROLES = ("admin", "auditor", "editor", "viewer")  # highest first
GROUP_TYPES = {
    # ALIASDESK_LDAP_GROUP_TYPE: (django-auth-ldap class, objectClass of the groups)
    "groupOfNames": ("GroupOfNamesType", "groupOfNames"),
    "posixGroup": ("PosixGroupType", "posixGroup"),
    "activeDirectory": ("NestedActiveDirectoryGroupType", "group"),
}
USER_ATTR_MAP = {"first_name": "givenName", "last_name": "sn", "email": "mail"}


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(f"ALIASDESK_LDAP_{name}", default).strip() or default


def parse_group_list(text: str, variable: str) -> list[tuple[str, str]]:
    """``KEY=GROUP-DN;KEY=GROUP-DN`` as (key, dn) pairs; a key may name several groups."""
    pairs = []
    for n, item in enumerate(text.split(";"), 1):
        item = item.strip()
        if not item:
            continue
        key, sep, dn = item.partition("=")
        key, dn = key.strip(), dn.strip()
        if not sep or not key or "=" not in dn:
            raise ImproperlyConfigured(f"{variable}: item {n} ({item!r}) is not NAME=GROUP-DN")
        pairs.append((key, dn))
    return pairs


def parse_role_groups(text: str) -> list[tuple[str, str]]:
    """ALIASDESK_LDAP_ROLE_GROUPS: (role, group DN) pairs."""
    pairs = parse_group_list(text, "ALIASDESK_LDAP_ROLE_GROUPS")
    for role, _ in pairs:
        if role.lower() not in ROLES:
            raise ImproperlyConfigured(f"ALIASDESK_LDAP_ROLE_GROUPS: unknown role {role!r} (use {', '.join(ROLES)})")
    return [(role.lower(), dn) for role, dn in pairs]


def parse_domain_groups(text: str) -> list[tuple[str, str]]:
    """ALIASDESK_LDAP_DOMAIN_GROUPS: (domain name, group DN) pairs."""
    pairs = parse_group_list(text, "ALIASDESK_LDAP_DOMAIN_GROUPS")
    for domain, _ in pairs:
        if "." not in domain or " " in domain:
            raise ImproperlyConfigured(f"ALIASDESK_LDAP_DOMAIN_GROUPS: {domain!r} is not a domain name")
    return [(domain.lower().rstrip("."), dn) for domain, dn in pairs]


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = _get(env, name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ImproperlyConfigured(f"ALIASDESK_LDAP_{name}: {text!r} is not a whole number of at least 1")
    return value


def directory_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings for ``env`` (normally os.environ); ImproperlyConfigured says what is wrong."""
    uris = _get(env, "URI").split()
    if not uris:
        return {"LDAP_ENABLED": False, "LDAP_ROLE_GROUPS": [], "LDAP_DOMAIN_GROUPS": [], "LDAP_RECHECK_MINUTES": 15}
    for uri in uris:
        if not uri.lower().startswith(("ldap://", "ldaps://")):
            raise ImproperlyConfigured(f"ALIASDESK_LDAP_URI: {uri!r} is not an ldap:// or ldaps:// URI")
    user_base, group_base = _get(env, "USER_BASE"), _get(env, "GROUP_BASE")
    if not user_base or not group_base:
        raise ImproperlyConfigured("ALIASDESK_LDAP_URI is set: ALIASDESK_LDAP_USER_BASE and _GROUP_BASE are needed too")
    user_filter = _get(env, "USER_FILTER", "(uid=%(user)s)")
    if "%(user)s" not in user_filter:
        raise ImproperlyConfigured(f"ALIASDESK_LDAP_USER_FILTER: {user_filter!r} has no %(user)s")
    group_type = _get(env, "GROUP_TYPE", "groupOfNames")
    if group_type not in GROUP_TYPES:
        raise ImproperlyConfigured(
            f"ALIASDESK_LDAP_GROUP_TYPE: {group_type!r} is not one of {', '.join(GROUP_TYPES)}"
        )
    role_groups = parse_role_groups(_get(env, "ROLE_GROUPS"))
    if not role_groups:
        raise ImproperlyConfigured("ALIASDESK_LDAP_ROLE_GROUPS is empty: no directory user could sign in")
    ca_file = _get(env, "CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        raise ImproperlyConfigured(f"ALIASDESK_LDAP_CA_FILE: {ca_file} is not a readable file")
    timeout = _positive_int(env, "TIMEOUT", 5)

    import ldap
    from django_auth_ldap import config

    class_name, object_class = GROUP_TYPES[group_type]
    options: dict[int, Any] = {
        ldap.OPT_REFERRALS: 0,  # Active Directory's referrals need credentials libldap does not send
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
    }
    if ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
    options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above to this connection
    return {
        "LDAP_ENABLED": True,
        "LDAP_ROLE_GROUPS": role_groups,
        "LDAP_DOMAIN_GROUPS": parse_domain_groups(_get(env, "DOMAIN_GROUPS")),
        "LDAP_RECHECK_MINUTES": _positive_int(env, "RECHECK_MINUTES", 15),
        "AUTH_LDAP_SERVER_URI": " ".join(uris),
        "AUTH_LDAP_BIND_DN": _get(env, "BIND_DN"),
        "AUTH_LDAP_BIND_PASSWORD": env.get("ALIASDESK_LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_USER_SEARCH": config.LDAPSearch(user_base, ldap.SCOPE_SUBTREE, user_filter),
        "AUTH_LDAP_GROUP_SEARCH": config.LDAPSearch(group_base, ldap.SCOPE_SUBTREE, f"(objectClass={object_class})"),
        "AUTH_LDAP_GROUP_TYPE": getattr(config, class_name)(),
        "AUTH_LDAP_START_TLS": _get(env, "START_TLS").lower() in {"1", "true", "yes", "on"},
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_USER_ATTR_MAP": USER_ATTR_MAP,
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
    }
