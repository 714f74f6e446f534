"""The address a request really comes from: the one place that decides it.

Behind the documented reverse proxy every request arrives from the proxy (127.0.0.1), and
the client is named in X-Forwarded-For, which anyone can also send. The header is believed
only from ALIASDESK_TRUSTED_PROXIES: it is read from the right (the hop our proxy added)
leftwards, past trusted proxies only, and the first address that is not a trusted proxy is
the client. A request from any other address is its own client, whatever it claims.
Login throttling (django-axes, AXES_CLIENT_IP_CALLABLE) and the audit log use this.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(text: str) -> Address | None:
    """An address as proxies write it (IPv6 maybe in brackets, IPv4 maybe with a port)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(address: Address) -> bool:
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request: HttpRequest) -> str:
    """The client's address as text ("" when the request has none, as in some tests)."""
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return ""
    client = peer
    if is_trusted_proxy(peer):
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        for hop in reversed(hops):
            address = _parse(hop)
            if address is None:
                break  # garbage: keep the last hop that a trusted proxy vouched for
            client = address
            if not is_trusted_proxy(address):
                break
    return str(client)
