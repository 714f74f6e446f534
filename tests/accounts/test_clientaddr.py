"""The client address: X-Forwarded-For is believed only from a trusted proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from aliasdesk.accounts.clientaddr import client_address


def address(remote: str, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **extra))


def test_a_direct_request_is_its_own_client():
    assert address("192.0.2.7") == "192.0.2.7"


def test_a_forged_forwarded_for_from_an_untrusted_address_is_ignored():
    assert address("192.0.2.7", "198.51.100.1") == "192.0.2.7"
    assert address("192.0.2.7", "127.0.0.1") == "192.0.2.7"


def test_the_proxy_on_this_host_is_believed():
    assert address("127.0.0.1", "198.51.100.1") == "198.51.100.1"
    assert address("::1", "2001:db8::5") == "2001:db8::5"


def test_only_the_hop_our_proxy_added_counts_not_what_the_client_wrote_before_it():
    # The client sent "X-Forwarded-For: 203.0.113.9"; nginx appended the real address.
    assert address("127.0.0.1", "203.0.113.9, 198.51.100.1") == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.1.0.0/16"]
    assert address("127.0.0.1", "203.0.113.9, 198.51.100.1, 10.1.2.3") == "198.51.100.1"
    assert address("10.1.9.9", "198.51.100.1") == "198.51.100.1"
    assert address("10.2.0.1", "198.51.100.1") == "10.2.0.1"  # outside the trusted network


def test_without_trusted_proxies_the_header_is_never_believed(settings):
    settings.TRUSTED_PROXIES = []
    assert address("127.0.0.1", "198.51.100.1") == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("", "127.0.0.1"),
        ("garbage", "127.0.0.1"),
        ("198.51.100.1:4711", "198.51.100.1"),
        ("[2001:db8::5]:4711", "2001:db8::5"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        ("garbage, 198.51.100.1", "198.51.100.1"),
    ],
)
def test_what_proxies_write_is_read_and_garbage_is_not_believed(forwarded: str, expected: str):
    assert address("127.0.0.1", forwarded) == expected


def test_a_bad_trusted_proxies_setting_stops_the_start(monkeypatch):
    import subprocess
    import sys

    env = {"ALIASDESK_TRUSTED_PROXIES": "127.0.0.1,not-an-address", "DJANGO_SETTINGS_MODULE": "aliasdesk.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env={**__import__("os").environ, **env},
        capture_output=True, text=True,
    )
    assert result.returncode != 0 and "not-an-address" in result.stderr
