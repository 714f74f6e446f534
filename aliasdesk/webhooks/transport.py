"""The one side effect of webhooks: an HTTP POST to a receiver, with its safety rules.

- Only ``http`` and ``https`` URLs, without credentials in them.
- The host name is resolved at every delivery and every address it gives is checked:
  private, loopback, link-local, multicast, reserved and unspecified addresses are refused
  unless the hook allows private addresses. The connection then goes to an address that was
  checked (never a second lookup), so a name that changes its answer in between (DNS
  rebinding) cannot lead the request elsewhere. HTTPS still verifies the certificate against
  the name in the URL.
- Redirects are never followed (http.client does not): a 3xx counts as a failed attempt.
- Connect and read time out (``TIMEOUT`` seconds each); only the first ``KEEP`` bytes of the
  answer are read. Proxy variables (``https_proxy``) are not used.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

TIMEOUT = 10.0
KEEP = 1024


class Refused(Exception):
    """The URL or the address it leads to may not be called; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass
class Response:
    status: int
    body: str
    duration_ms: int
    location: str = ""  # of a redirect (not followed)


def parse_url(url: str) -> Target:
    """The parts of a hook URL, or Refused (a scheme other than http/https, no host, credentials)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise Refused(_("not a URL: %(error)s") % {"error": exc}) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme:
            raise Refused(_("only http:// and https:// URLs can receive webhooks, not one without a scheme"))
        raise Refused(_("only http:// and https:// URLs can receive webhooks, not %(scheme)s:") % {"scheme": scheme})
    if not parts.hostname:
        raise Refused(_("the URL names no host"))
    if parts.username is not None or parts.password is not None:
        raise Refused(_("the URL may not hold a user name or password: the signature proves the sender"))
    if any(ch.isspace() or ord(ch) < 32 for ch in url.strip()):
        raise Refused(_("the URL contains spaces or control characters"))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80), path)


def address_problem(address: str) -> str:
    """Why a webhook may not go to ``address`` without "allow private addresses" ("" when it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = [
        (ip.is_unspecified, gettext_lazy("%(address)s is an unspecified address")),
        (ip.is_loopback, gettext_lazy("%(address)s is a loopback address")),
        (ip.is_link_local, gettext_lazy("%(address)s is a link-local address")),
        (ip.is_multicast, gettext_lazy("%(address)s is a multicast address")),
        (ip.is_private, gettext_lazy("%(address)s is a private address")),
        (ip.is_reserved, gettext_lazy("%(address)s is a reserved address")),
        (not ip.is_global, gettext_lazy("%(address)s is not a public address")),
    ]
    return next((str(what) % {"address": address} for bad, what in checks if bad), "")


def literal_problem(host: str) -> str:
    """For a host written as an address: why it is refused; "" for a name or a public address."""
    try:
        return address_problem(host)
    except ValueError:
        return ""


def resolve(target: Target, allow_private: bool) -> list[str]:
    """The addresses to connect to, each one checked; Refused if any is not allowed."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(_("cannot resolve %(host)s: %(error)s") % {"host": target.host, "error": exc}) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise Refused(
                    _("%(host)s: %(problem)s (tick “allow private addresses” to send there)")
                    % {"host": target.host, "problem": problem}
                )
    if not addresses:
        raise Refused(_("%(host)s has no address") % {"host": target.host})
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to one given address; the Host header keeps the URL's name."""

    def __init__(self, target: Target, address: str) -> None:
        super().__init__(target.host, target.port, timeout=TIMEOUT)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), TIMEOUT)
        self.sock.settimeout(TIMEOUT)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, with TLS: the certificate must match the URL's name (SNI too)."""

    def __init__(self, target: Target, address: str) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=TIMEOUT, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), TIMEOUT)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock.settimeout(TIMEOUT)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> Response:
    """POST ``body`` to ``url``; the response's status and first ``KEEP`` bytes.

    Raises Refused (URL or address not allowed) or OSError (no connection, timeout, TLS).
    """
    target = parse_url(url)
    addresses = resolve(target, allow_private)
    started = time.monotonic()
    last_error: OSError | None = None
    for address in addresses:
        conn = _PinnedHTTPS(target, address) if target.scheme == "https" else _PinnedHTTP(target, address)
        try:
            conn.connect()
        except ssl.SSLError:
            conn.close()
            raise
        except OSError as exc:  # next address (IPv6 then IPv4, say)
            conn.close()
            last_error = exc
            continue
        try:
            conn.request("POST", target.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read(KEEP)
            location = (answer.getheader("Location") or "")[:300]
            return Response(answer.status, data.decode("utf-8", "replace"), _ms(started), location)
        except http.client.HTTPException as exc:
            raise OSError(f"bad HTTP answer: {exc.__class__.__name__} {exc}") from exc
        finally:
            conn.close()
    assert last_error is not None
    raise last_error


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
