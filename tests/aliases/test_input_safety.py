"""Nothing a user types can inject a line break, a comment or another key into a map."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import AliasError, clean_comment, clean_destinations, clean_key
from aliasdesk.postfix.maps.virtual import parse_virtual, render_virtual

NASTY = st.text(
    st.one_of(st.characters(), st.sampled_from(["\n", "\r", "#", " ", "\t", ",", '"', "@", "\x00", "\u2028", "\x85"])),
    max_size=40,
)


@settings(max_examples=1500, deadline=None)
@given(NASTY, NASTY, NASTY, st.booleans())
def test_typed_text_is_refused_or_reads_back_as_exactly_one_entry(key, destinations, comment, enabled):
    domain = Domain(name="example.com")
    try:
        k = clean_key(domain, key)
        d = clean_destinations(destinations, domain)
        c = clean_comment(comment)
    except AliasError:
        return
    text = render_virtual("# header\n", [(k, d, enabled, c)], "# footer\n")
    parsed = parse_virtual(text)
    assert parsed.errors == []
    assert [(e.key, e.value, e.enabled, e.comment) for e in parsed.entries] == [(k, d, enabled, c)]
    assert parsed.header == "# header\n" and parsed.footer == "# footer\n"


@pytest.mark.parametrize(
    "key",
    ["a@example.com\nevil@example.com", "#a@example.com", "a b@example.com", "a@exa\rmple.com", "a,b@example.com", ""],
)
def test_bad_keys_are_refused(key):
    with pytest.raises(AliasError) as caught:
        clean_key(Domain(name="example.com"), key)
    assert caught.value.field == "key"


@pytest.mark.parametrize("value", ["", "a@x.org # note", "a@x.org\x00", "|/bin/sh", "/var/mail/x", "a@-bad-.org"])
def test_bad_destinations_are_refused(value):
    with pytest.raises(AliasError) as caught:
        clean_destinations(value, Domain(name="example.com"))
    assert caught.value.field == "destinations"


def test_domain_policy_limits_names_and_destination_domains():
    domain = Domain(name="example.com", localpart_pattern=r"[a-z]+", allowed_destination_domains="example.org\n")
    assert clean_key(domain, "sales@example.com") == "sales@example.com"
    with pytest.raises(AliasError, match="pattern"):
        clean_key(domain, "sales2@example.com")
    with pytest.raises(AliasError, match="only forward"):
        clean_destinations("a@elsewhere.net", domain)


def test_destinations_may_be_typed_one_per_line():
    assert clean_destinations("a@x.org\nb@x.org\r\n c@x.org", Domain(name="example.com")) == "a@x.org, b@x.org, c@x.org"
