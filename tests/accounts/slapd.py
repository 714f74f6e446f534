"""A real OpenLDAP directory for the directory login tests (see ../shared/design/LDAP.md).

``slapd`` is one private server per test session (each xdist worker has its own) on free
loopback ports, plain LDAP with StartTLS and LDAPS, its certificate signed by a test CA made
here with openssl; directory.ldif holds people and groups, ad.schema the bit of Active
Directory's schema the activeDirectory group type searches. ``own_slapd`` is a second
server a test may kill. Without Debian's slapd and ldap-utils the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aliasdesk.accounts.ldapconf import directory_settings
from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import create_domain

HERE = Path(__file__).resolve().parent
SLAPD = Path("/usr/sbin/slapd")
SUFFIX = "dc=corp,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "admin-secret"
SERVICE_DN = f"cn=aliasdesk,ou=services,{SUFFIX}"
SERVICE_PW = "service-secret"
LOCAL_PASSWORD = "local-Secret-42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass
class Pki:
    ca: Path
    other_ca: Path  # a CA that did not sign the server's certificate
    cert: Path
    key: Path


def make_pki(folder: Path) -> Pki:
    """A test CA, a certificate for 127.0.0.1 / localhost signed by it, and an unrelated CA."""
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=aliasdesk test {name}",
                 "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem"))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(folder / "server.key"), "-out", str(folder / "server.csr"))
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(folder / "ca.pem"),
             "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(folder / "san.ext"), "-out", str(folder / "server.pem"))
    return Pki(folder / "ca.pem", folder / "other-ca.pem", folder / "server.pem", folder / "server.key")


class Slapd:
    """One slapd in the foreground of its own process group, stopped by ``stop``."""

    def __init__(self, folder: Path, pki: Pki) -> None:
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_uri = f"ldaps://127.0.0.1:{self.tls_port}"
        (folder / "db").mkdir()
        schema = "\n".join(f"include /etc/ldap/schema/{s}.schema" for s in ("core", "cosine", "inetorgperson", "nis"))
        (folder / "slapd.conf").write_text(f"""{schema}
include {HERE / "ad.schema"}
pidfile {folder / "slapd.pid"}
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {pki.ca}
TLSCertificateFile {pki.cert}
TLSCertificateKeyFile {pki.key}
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {folder / "db"}
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
""")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(SLAPD), "-d", "0", "-f", str(self.folder / "slapd.conf"), "-h", f"{self.uri}/ {self.ldaps_uri}/"],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "slapd.log", "wb"), start_new_session=True,  # noqa: SIM115
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            probe = subprocess.run(["ldapsearch", "-x", "-H", self.uri, "-b", "", "-s", "base"], capture_output=True)
            if probe.returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"slapd did not start: {(self.folder / 'slapd.log').read_text()[-2000:]}")

    def load(self, ldif: str) -> None:
        self._modify("ldapadd", ldif)

    def modify(self, ldif: str) -> None:
        """ldapmodify as the directory's root."""
        self._modify("ldapmodify", ldif)

    def _modify(self, program: str, ldif: str) -> None:
        subprocess.run([program, "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW],
                       input=ldif.encode(), check=True, capture_output=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def env(self, **extra: str) -> dict[str, str]:
        """ALIASDESK_LDAP_* for this directory: people and groupOfNames groups."""
        env = {
            "ALIASDESK_LDAP_URI": self.uri,
            "ALIASDESK_LDAP_BIND_DN": SERVICE_DN,
            "ALIASDESK_LDAP_BIND_PASSWORD": SERVICE_PW,
            "ALIASDESK_LDAP_USER_BASE": f"ou=people,{SUFFIX}",
            "ALIASDESK_LDAP_GROUP_BASE": f"ou=groups,{SUFFIX}",
            "ALIASDESK_LDAP_ROLE_GROUPS": ";".join(
                f"{role}=cn=aliasdesk-{role}s,ou=groups,{SUFFIX}" for role in ("admin", "auditor", "editor", "viewer")
            ),
            "ALIASDESK_LDAP_DOMAIN_GROUPS": f"example.com=cn=mail-example-com,ou=groups,{SUFFIX};"
            f"other.org=cn=mail-other-org, ou=groups, {SUFFIX};missing.example=cn=mail-other-org,ou=groups,{SUFFIX}",
            "ALIASDESK_LDAP_TIMEOUT": "2",
        }
        env.update({f"ALIASDESK_LDAP_{k}": v for k, v in extra.items()})
        return env


def _require_slapd() -> None:
    if not SLAPD.exists() or shutil.which("ldapadd") is None:
        pytest.skip("slapd and ldap-utils are not installed (Debian packages slapd ldap-utils: make debian-deps)")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    _require_slapd()
    return make_pki(tmp_path_factory.mktemp("pki"))


def _started(folder: Path, pki: Pki) -> Slapd:
    server = Slapd(folder, pki)
    server.start()
    try:
        server.load((HERE / "directory.ldif").read_text())
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Slapd]:
    server = _started(tmp_path_factory.mktemp("slapd"), pki)
    yield server
    server.stop()


@pytest.fixture
def own_slapd(tmp_path: Path, pki: Pki) -> Iterator[Slapd]:
    """A directory of this test's own, which it may kill."""
    folder = tmp_path / "own-slapd"
    folder.mkdir()
    server = _started(folder, pki)
    yield server
    server.stop()


@pytest.fixture
def domains(db: Any, aliasdesk_settings: Any, map_dir: Path) -> dict[str, Domain]:
    return {name: create_domain(name, map_path=map_dir / name) for name in ("example.com", "other.org")}


@pytest.fixture
def use_directory(settings: Any, domains: dict[str, Domain]) -> Callable[..., dict[str, Any]]:
    """``use_directory(server, **ALIASDESK_LDAP_overrides)``: settings built from those
    variables by aliasdesk's own parser, as the settings module builds them at start."""

    def configure(server: Slapd, **extra: str) -> dict[str, Any]:
        values = directory_settings(server.env(**extra))
        for name, value in values.items():
            setattr(settings, name, value)
        settings.AUTHENTICATION_BACKENDS = [
            "axes.backends.AxesStandaloneBackend",
            "aliasdesk.accounts.backends.LocalBackend",
            "aliasdesk.accounts.directory.DirectoryBackend",
        ]
        return values

    return configure


@pytest.fixture
def local_admin(db: Any) -> User:
    """root: a local administrator with a real password."""
    from aliasdesk.accounts.services import add_user

    user, _ = add_user("root", User.Role.ADMIN, password=LOCAL_PASSWORD)
    return user
