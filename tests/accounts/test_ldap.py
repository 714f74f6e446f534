"""Directory login against a real slapd: passwords, groups to roles and grants, the recheck
of open sessions, a directory that is down or silent, local accounts, TLS, AD nested groups."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.test import Client
from django.utils import timezone

from aliasdesk.accounts.directory import NO_ROLE_MESSAGE, UNAVAILABLE_MESSAGE
from aliasdesk.accounts.models import Grant, User
from aliasdesk.aliases.models import Domain
from tests.accounts.slapd import LOCAL_PASSWORD, SUFFIX, Slapd

pytestmark = pytest.mark.django_db

Configure = Callable[..., dict[str, Any]]


def sign_in(name: str, password: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post("/login/", {"username": name, "password": password})
    return client, response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def grants(name: str) -> dict[str, str]:
    return dict(Grant.objects.filter(user__username=name).values_list("domain__name", "role"))


def age_check(name: str, minutes: float) -> None:
    """Pretend the last directory check of ``name`` was ``minutes`` ago."""
    User.objects.filter(username=name).update(directory_checked_at=timezone.now() - timedelta(minutes=minutes))


def membership(group: str, uid: str, change: str) -> str:
    return (f"dn: cn={group},ou=groups,{SUFFIX}\nchangetype: modify\n{change}: member\n"
            f"member: uid={uid},ou=people,{SUFFIX}\n")


# --- sign-in -------------------------------------------------------------------------------

def test_right_password_signs_in_as_a_directory_user(slapd: Slapd, use_directory: Configure) -> None:
    use_directory(slapd)
    client, response = sign_in("anna", "anna-pass")
    assert response.status_code == 302 and signed_in(client)
    anna = User.objects.get(username="anna")
    assert anna.is_directory and anna.role == User.Role.ADMIN and anna.is_staff
    assert not anna.has_usable_password()  # no stale local password
    assert (anna.first_name, anna.last_name, anna.email) == ("Anna", "Admin", "anna@corp.test")
    assert client.get("/users/").status_code == 200


def test_wrong_password_is_refused_and_creates_nobody(slapd: Slapd, use_directory: Configure) -> None:
    use_directory(slapd)
    client, response = sign_in("anna", "not-annas-pass")
    assert response.status_code == 200 and not signed_in(client)
    assert "That user name and password do not match" in response.content.decode()
    assert not User.objects.filter(username="anna").exists()
    _, response = sign_in("nobody-here", "whatever")
    assert not User.objects.filter(username="nobody-here").exists()


def test_login_signals_are_sent(slapd: Slapd, use_directory: Configure) -> None:
    """Audit and throttling hook Django's login signals: directory sign-ins send them too."""
    use_directory(slapd)
    seen: list[str] = []

    def ok(sender: Any, user: User, **kwargs: Any) -> None:
        seen.append(f"in:{user.username}")

    def failed(sender: Any, credentials: dict[str, str], **kwargs: Any) -> None:
        seen.append(f"failed:{credentials['username']}")

    user_logged_in.connect(ok)
    user_login_failed.connect(failed)
    try:
        sign_in("ben", "ben-pass")
        sign_in("ben", "wrong")
        sign_in("dan", "dan-pass")  # right password, no role group
    finally:
        user_logged_in.disconnect(ok)
        user_login_failed.disconnect(failed)
    assert seen == ["in:ben", "failed:ben", "failed:dan"]


def test_user_in_no_role_group_gets_nothing(slapd: Slapd, use_directory: Configure) -> None:
    use_directory(slapd)
    client, response = sign_in("dan", "dan-pass")
    assert not signed_in(client)
    assert NO_ROLE_MESSAGE in response.content.decode()
    assert not User.objects.filter(username="dan").exists()


def test_highest_role_group_wins(slapd: Slapd, use_directory: Configure) -> None:
    use_directory(slapd)
    for name, role in (("erik", "auditor"), ("gus", "admin"), ("ben", "editor"), ("cleo", "viewer")):
        client, _ = sign_in(name, f"{name}-pass")
        assert signed_in(client), name
        assert User.objects.get(username=name).role == role, name
    # auditors and admins see every domain and keep no grants
    assert grants("erik") == {} and grants("gus") == {}


def test_domain_groups_give_grants_by_role(slapd: Slapd, use_directory: Configure) -> None:
    use_directory(slapd)
    ben, _ = sign_in("ben", "ben-pass")
    cleo, _ = sign_in("cleo", "cleo-pass")
    assert grants("ben") == {"example.com": "editor"}
    assert grants("cleo") == {"example.com": "viewer"}
    assert ben.get("/domains/example.com/").status_code == 200
    assert ben.get("/domains/other.org/").status_code == 404
    assert cleo.get("/domains/example.com/").status_code == 200


def test_grants_follow_the_directory_exactly(slapd: Slapd, use_directory: Configure, domains: Any) -> None:
    """A hand-made grant of a directory user goes at the next sign-in."""
    use_directory(slapd)
    sign_in("ben", "ben-pass")
    Grant.objects.create(user=User.objects.get(username="ben"), domain=domains["other.org"], role="editor")
    sign_in("ben", "ben-pass")
    assert grants("ben") == {"example.com": "editor"}


# --- groups change: next sign-in and open sessions ------------------------------------------

@pytest.fixture
def fay_restored(slapd: Slapd) -> Iterator[None]:
    """fay's memberships as directory.ldif has them, whatever the test did."""
    yield
    for group in ("aliasdesk-editors", "mail-example-com"):
        with contextlib.suppress(Exception):  # still a member
            slapd.modify(membership(group, "fay", "add"))
    with contextlib.suppress(Exception):
        slapd.modify(membership("aliasdesk-admins", "fay", "delete"))


def test_removed_from_a_group_loses_the_grant(slapd: Slapd, use_directory: Configure, fay_restored: None) -> None:
    use_directory(slapd, RECHECK_MINUTES="15")
    fay, _ = sign_in("fay", "fay-pass")
    assert grants("fay") == {"example.com": "editor", "other.org": "editor"}
    slapd.modify(membership("mail-example-com", "fay", "delete"))

    # the open session keeps what it had until the last check is RECHECK_MINUTES old
    age_check("fay", 14)
    assert fay.get("/domains/example.com/").status_code == 200
    age_check("fay", 16)
    assert fay.get("/domains/example.com/").status_code == 404
    assert grants("fay") == {"other.org": "editor"}
    assert fay.get("/domains/other.org/").status_code == 200

    # and a new sign-in reads the groups again
    again, _ = sign_in("fay", "fay-pass")
    assert signed_in(again) and grants("fay") == {"other.org": "editor"}

    # a role change reaches the open session too
    slapd.modify(membership("aliasdesk-admins", "fay", "add"))
    age_check("fay", 16)
    assert fay.get("/users/").status_code == 200
    assert User.objects.get(username="fay").role == "admin" and grants("fay") == {}


def test_removed_from_every_role_group_is_signed_out(
    slapd: Slapd, use_directory: Configure, fay_restored: None
) -> None:
    use_directory(slapd)
    fay, _ = sign_in("fay", "fay-pass")
    slapd.modify(membership("aliasdesk-editors", "fay", "delete"))
    age_check("fay", 20)
    response = fay.get("/domains/example.com/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not signed_in(fay)
    assert grants("fay") == {}
    assert User.objects.get(username="fay").role == User.Role.VIEWER
    _, response = sign_in("fay", "fay-pass")
    assert NO_ROLE_MESSAGE in response.content.decode()


# --- the directory is down or silent --------------------------------------------------------

def test_directory_down(own_slapd: Slapd, use_directory: Configure, local_admin: User) -> None:
    use_directory(own_slapd, RECHECK_MINUTES="15")
    ben, _ = sign_in("ben", "ben-pass")
    assert signed_in(ben)
    own_slapd.stop()

    root, _ = sign_in("root", LOCAL_PASSWORD)
    assert signed_in(root)
    client, response = sign_in("ben", "ben-pass")
    assert not signed_in(client)
    assert UNAVAILABLE_MESSAGE in response.content.decode()

    # the open session: one more interval of grace, then signed out
    age_check("ben", 20)
    assert ben.get("/domains/example.com/").status_code == 200
    assert grants("ben") == {"example.com": "editor"}
    age_check("ben", 31)
    response = ben.get("/domains/example.com/")
    assert response.status_code == 302 and not signed_in(ben)


class SilentServer:
    """Accepts TCP connections on loopback and never answers: a directory that hangs.
    ``blackhole``: its accept queue is full, so new connections are not even answered
    (Linux drops the SYN), like an address whose packets vanish."""

    def __init__(self, blackhole: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0 if blackhole else 50)
        self.port = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        while blackhole:
            filler = socket.socket()
            filler.settimeout(0.3)
            self.fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", self.port))
            except TimeoutError:
                break

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()


@pytest.mark.parametrize("kind", ["closed port", "silent server", "blackholed"])
def test_unanswering_directory_never_slows_local_logins(
    kind: str, slapd: Slapd, use_directory: Configure, local_admin: User, settings: Any
) -> None:
    """Asking a silent or blackholed directory costs TIMEOUT (3 s); local sign-ins never ask it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # time the backends, not Argon2
    local_admin.set_password(LOCAL_PASSWORD)
    local_admin.save()
    silent = SilentServer(blackhole=kind == "blackholed")
    port = 1 if kind == "closed port" else silent.port  # nothing listens on port 1
    try:
        use_directory(slapd, URI=f"ldap://127.0.0.1:{port}", TIMEOUT="3")
        started = time.monotonic()
        root, _ = sign_in("root", LOCAL_PASSWORD)
        assert signed_in(root)
        wrong, _ = sign_in("root", "not-the-password")  # a local account never asks the directory
        assert not signed_in(wrong)
        assert time.monotonic() - started < 2.5  # asking the directory would cost its 3-second timeout

        started = time.monotonic()
        client, response = sign_in("ben", "ben-pass")
        assert not signed_in(client)
        assert UNAVAILABLE_MESSAGE in response.content.decode()
        assert time.monotonic() - started < 10
    finally:
        silent.close()


# --- local accounts -------------------------------------------------------------------------

def test_local_account_is_not_taken_over(
    slapd: Slapd, use_directory: Configure, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from aliasdesk.accounts.services import add_user

    use_directory(slapd)
    alice, _ = add_user("alice", User.Role.EDITOR, password=LOCAL_PASSWORD)
    client, _ = sign_in("alice", "alice-directory-pass")
    assert not signed_in(client)
    assert "not asked for local accounts" in caplog.text
    alice.refresh_from_db()
    assert not alice.is_directory and alice.check_password(LOCAL_PASSWORD)
    client, _ = sign_in("ALICE", "alice-directory-pass")  # nor in another letter case
    assert not signed_in(client)
    client, _ = sign_in("alice", LOCAL_PASSWORD)
    assert signed_in(client)


def test_convert_command(slapd: Slapd, use_directory: Configure, local_admin: User, capsys: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from aliasdesk.accounts.services import add_user

    use_directory(slapd)
    add_user("alice", User.Role.EDITOR, password=LOCAL_PASSWORD)
    local_session, _ = sign_in("alice", LOCAL_PASSWORD)
    call_command("user", "convert", "alice", "--to", "directory")
    alice = User.objects.get(username="alice")
    assert alice.is_directory and not alice.has_usable_password()
    assert local_session.get("/domains/").status_code == 302  # the local session ended
    client, _ = sign_in("alice", LOCAL_PASSWORD)
    assert not signed_in(client)
    client, _ = sign_in("alice", "alice-directory-pass")
    assert signed_in(client)
    assert User.objects.get(username="alice").role == "viewer" and grants("alice") == {"example.com": "viewer"}

    call_command("user", "convert", "alice", "--to", "local")
    password = capsys.readouterr().out.split("password: ")[1].strip()
    assert client.get("/domains/").status_code == 302  # the directory session ended
    alice = User.objects.get(username="alice")
    assert not alice.is_directory and alice.role == "viewer" and grants("alice") == {"example.com": "viewer"}
    client, _ = sign_in("alice", password)
    assert signed_in(client)

    with pytest.raises(CommandError, match="last active local administrator"):
        call_command("user", "convert", "root", "--to", "directory")
    with pytest.raises(CommandError, match="is a local user already"):
        call_command("user", "convert", "alice", "--to", "local")
    with pytest.raises(CommandError, match="no such user"):
        call_command("user", "convert", "zed", "--to", "local")


def test_convert_needs_directory_login_on(db: Any, settings: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from aliasdesk.accounts.services import add_user

    settings.LDAP_ENABLED = False
    add_user("alice", User.Role.EDITOR, password=LOCAL_PASSWORD)
    with pytest.raises(CommandError, match="directory login is off"):
        call_command("user", "convert", "alice", "--to", "directory")
    assert not User.objects.get(username="alice").is_directory


# --- TLS ------------------------------------------------------------------------------------

def test_start_tls_with_the_test_ca(slapd: Slapd, use_directory: Configure, pki: Any) -> None:
    use_directory(slapd, START_TLS="1", CA_FILE=str(pki.ca))
    client, _ = sign_in("ben", "ben-pass")
    assert signed_in(client)


def test_start_tls_refused_with_a_wrong_ca(slapd: Slapd, use_directory: Configure, pki: Any) -> None:
    use_directory(slapd, START_TLS="1", CA_FILE=str(pki.other_ca))
    client, response = sign_in("ben", "ben-pass")
    assert not signed_in(client)
    assert UNAVAILABLE_MESSAGE in response.content.decode()


def test_ldaps_with_the_test_ca_and_several_uris(slapd: Slapd, use_directory: Configure, pki: Any) -> None:
    use_directory(slapd, URI=f"ldaps://127.0.0.1:1 {slapd.ldaps_uri}", CA_FILE=str(pki.ca))
    client, _ = sign_in("ben", "ben-pass")
    assert signed_in(client)
    use_directory(slapd, URI=slapd.ldaps_uri, CA_FILE=str(pki.other_ca))
    client, _ = sign_in("ben", "ben-pass")
    assert not signed_in(client)


# --- other group types ----------------------------------------------------------------------

def test_active_directory_nested_groups(slapd: Slapd, use_directory: Configure) -> None:
    ad = f"ou=ad,{SUFFIX}"
    use_directory(
        slapd,
        USER_BASE=ad,
        GROUP_BASE=ad,
        USER_FILTER="(sAMAccountName=%(user)s)",
        GROUP_TYPE="activeDirectory",
        ROLE_GROUPS=f"editor=CN=Mail-Editors,OU=ad,{SUFFIX}",
        DOMAIN_GROUPS=f"example.com=cn=Mail-Example,ou=ad,{SUFFIX}",
    )
    # hana is in IT-Staff, which is in Mail-Editors, which is in Mail-Example
    client, _ = sign_in("hana", "hana-pass")
    assert signed_in(client)
    assert User.objects.get(username="hana").role == "editor"
    assert grants("hana") == {"example.com": "editor"}
    client, response = sign_in("ivo", "ivo-pass")
    assert not signed_in(client) and NO_ROLE_MESSAGE in response.content.decode()


def test_posix_groups(slapd: Slapd, use_directory: Configure) -> None:
    posix = f"ou=posix,{SUFFIX}"
    use_directory(
        slapd,
        GROUP_BASE=posix,
        GROUP_TYPE="posixGroup",
        ROLE_GROUPS=f"editor=cn=px-editors,{posix}",
        DOMAIN_GROUPS=f"example.com=cn=px-mail,{posix}",  # pia's primary group (gidNumber)
    )
    client, _ = sign_in("pia", "pia-pass")
    assert signed_in(client)
    assert User.objects.get(username="pia").role == "editor" and grants("pia") == {"example.com": "editor"}


# --- what admins and directory users see ------------------------------------------------------

def test_pages_say_managed_by_the_directory(slapd: Slapd, use_directory: Configure, local_admin: User) -> None:
    from aliasdesk.accounts.services import AccountError
    from aliasdesk.aliases.grants import grant_domain

    use_directory(slapd)
    ben, _ = sign_in("ben", "ben-pass")
    assert "managed by the directory" in ben.get("/password/").content.decode()
    root, _ = sign_in("root", LOCAL_PASSWORD)
    listing = root.get("/users/").content.decode()
    assert "directory</span>" in listing and "local</span>" in listing
    target = User.objects.get(username="ben")
    page = root.get(f"/users/{target.pk}/").content.decode()
    assert "Managed by the directory" in page and "Make it a local account" in page
    assert "Set the new password" not in page

    response = root.post(f"/users/{target.pk}/password", {"password": "New-pass-12345", "password2": "New-pass-12345"})
    assert response.status_code == 422
    assert not User.objects.get(username="ben").has_usable_password()
    response = root.post(f"/users/{target.pk}/", {"role": "admin", "is_active": "on"})
    assert response.status_code == 422 and User.objects.get(username="ben").role == "editor"
    with pytest.raises(AccountError, match="directory"):
        grant_domain(target, Domain.objects.get(name="other.org"), "editor")

    # deactivating a directory user locally ends their session
    root.post(f"/users/{target.pk}/", {"role": "editor"})
    assert ben.get("/domains/").status_code == 302
    client, _ = sign_in("ben", "ben-pass")
    assert not signed_in(client)


def test_convert_button(slapd: Slapd, use_directory: Configure, local_admin: User) -> None:
    from aliasdesk.accounts.services import add_user

    use_directory(slapd)
    cleo, _ = add_user("cleo", User.Role.VIEWER, password=LOCAL_PASSWORD)
    root, _ = sign_in("root", LOCAL_PASSWORD)
    response = root.post(f"/users/{cleo.pk}/source", {"to": "directory"})
    assert response.status_code == 302
    assert User.objects.get(username="cleo").is_directory
    response = root.post(f"/users/{local_admin.pk}/source", {"to": "directory"})
    assert response.status_code == 422 and "your own account" in response.content.decode()
    response = root.post(f"/users/{cleo.pk}/source", {"to": "local"})
    assert response.status_code == 302 and not User.objects.get(username="cleo").is_directory


# --- with two-factor login and throttling -------------------------------------------------

def test_directory_user_with_two_factor_login_gives_the_code(slapd: Slapd, use_directory: Configure) -> None:
    """Two-factor login holds for directory users: after the directory's password the code."""
    from aliasdesk.accounts import twofactor
    from tests.accounts.conftest import current_code

    use_directory(slapd)
    client, _ = sign_in("anna", "anna-pass")
    anna = User.objects.get(username="anna")
    client.post("/logout/")
    device = twofactor.start_enrolment(anna)
    assert twofactor.confirm_enrolment(anna, device, current_code(device)) is not None
    client, response = sign_in("anna", "anna-pass")
    assert response["Location"] == "/login/code/" and not signed_in(client)
    device.refresh_from_db()
    client.post("/login/code/", {"code": current_code(device, offset=1)})  # the current one went into enrolment
    assert signed_in(client)


def test_wrong_directory_passwords_lock_the_account_before_the_directory_would(
    slapd: Slapd, use_directory: Configure, settings: Any
) -> None:
    """aliasdesk's lockout comes first: after ALIASDESK_LOGIN_FAILURES wrong passwords even the
    right one is refused from that address, and the directory is not asked again."""
    use_directory(slapd)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("anna", "wrong-pass")
    client, response = sign_in("anna", "anna-pass")
    assert not signed_in(client) and response.status_code == 429


def test_role_and_grant_changes_from_the_directory_are_in_the_audit_log(slapd: Slapd, use_directory: Configure) -> None:
    from aliasdesk.accounts.models import SecurityEvent

    use_directory(slapd)
    sign_in("ben", "ben-pass")
    events = list(SecurityEvent.objects.filter(subject__username="ben").values_list("action", "detail"))
    assert ("grant.added", "directory groups") in events
