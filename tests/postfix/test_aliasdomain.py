"""Alias domains in Postfix terms: the lines of both forms, their warnings, and how the resolver
follows them (an unknown address of an expanded alias domain is not accepted)."""

from __future__ import annotations

import pytest

from aliasdesk.postfix.maps.aliasdomain import alias_domain_findings, alias_domain_lines
from aliasdesk.postfix.maps.resolve import AliasTable, explain, resolve
from aliasdesk.postfix.maps.validate import validate_entries
from aliasdesk.postfix.maps.virtual import Entry

TARGET = [
    Entry("info@target.example", "anna@example.org, ben@example.org", True),
    Entry("Sales@Target.Example", "carla@example.org", True),
    Entry("sales@target.example", "duplicate@example.org", True),  # postmap keeps the first
    Entry("off@target.example", "x@example.org", False),
    Entry('"first last"@target.example', "fl@example.org", True),
    Entry("news+tag@target.example", "tag@example.org", True),
    Entry("info@other.example", "o@example.org", True),
    Entry("root", "admin@example.org", True),
    Entry("target.example", "virtual-domain-line", True),
]


def test_expand_gives_one_line_per_live_address_of_the_target() -> None:
    assert alias_domain_lines("alias.example", "target.example", "expand", TARGET) == [
        ("info@alias.example", "info@target.example"),
        ("Sales@alias.example", "Sales@Target.Example"),
        ('"first last"@alias.example', '"first last"@target.example'),
        ("news+tag@alias.example", "news+tag@target.example"),
    ]


def test_catchall_is_postfixs_one_line() -> None:
    assert alias_domain_lines("alias.example", "target.example", "catchall", TARGET) == [
        ("@alias.example", "@target.example")
    ]


def test_expand_carries_a_catchall_of_the_target_over_last() -> None:
    lines = alias_domain_lines("alias.example", "target.example", "expand", [
        Entry("@target.example", "postmaster@example.org", True), Entry("a@target.example", "b@example.org", True)
    ])
    assert lines == [("a@alias.example", "a@target.example"), ("@alias.example", "@target.example")]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown alias domain mode"):
        alias_domain_lines("a.example", "t.example", "wildcard", [])


def test_internationalised_target_names_match_in_either_spelling() -> None:
    entries = [Entry("info@xn--bcher-kva.example", "x@example.org", True)]
    assert alias_domain_lines("alias.example", "bücher.example", "expand", entries) == [
        ("info@alias.example", "info@xn--bcher-kva.example")
    ]


def _table(mode: str) -> AliasTable:
    lines = alias_domain_lines("alias.example", "target.example", mode, TARGET)
    alias_map = [Entry(k, v, True) for k, v in lines]
    return AliasTable([alias_map, TARGET])


def test_resolver_follows_alias_to_target_to_destinations_in_expand_mode() -> None:
    resolution = resolve("Info+x@alias.example", _table("expand"), alias_domains=["alias.example"])
    assert resolution.recipients == ["anna+x@example.org", "ben+x@example.org"]
    hits = [(s.query, s.results) for s in resolution.steps if s.hit]
    assert hits[0] == ("Info@alias.example", ("info+x@target.example",))
    assert hits[1][0] == "info@target.example"
    assert not resolution.rejected


def test_an_unknown_address_of_an_expanded_alias_domain_is_not_accepted() -> None:
    resolution = resolve("nobody@alias.example", _table("expand"), alias_domains=["alias.example"])
    assert resolution.rejected and resolution.recipients == []
    assert "User unknown in virtual alias table" in resolution.problems[0]
    assert "not accepted" in explain(resolution)


def test_catchall_mode_accepts_every_address_and_hands_it_to_the_target() -> None:
    resolution = resolve("nobody@alias.example", _table("catchall"), alias_domains=["alias.example"])
    assert not resolution.rejected
    assert resolution.recipients == ["nobody@target.example"]
    known = resolve("sales@alias.example", _table("catchall"), alias_domains=["alias.example"])
    assert known.recipients == ["carla@example.org"]


def test_addresses_outside_alias_domains_are_never_rejected() -> None:
    resolution = resolve("nobody@elsewhere.example", _table("expand"), alias_domains=["alias.example"])
    assert resolution.recipients == ["nobody@elsewhere.example"] and not resolution.rejected


@pytest.mark.parametrize("mode", ["expand", "catchall"])
def test_the_generated_map_validates_without_loop_warnings(mode: str) -> None:
    lines = alias_domain_lines("alias.example", "target.example", mode, TARGET)
    findings = validate_entries([Entry(k, v, True, line=i + 1) for i, (k, v) in enumerate(lines)])
    assert [f for f in findings if f.code in {"loop", "recursion-limit", "expansion-limit"}] == []
    assert [f.code for f in findings if f.severity == "error"] == []


def test_catchall_mode_warns_of_backscatter() -> None:
    findings = alias_domain_findings("alias.example", "target.example", "catchall", TARGET)
    assert [f.code for f in findings] == ["alias-domain-backscatter"]
    assert "backscatter" in findings[0].message and findings[0].severity == "warning"


def test_expand_mode_with_nothing_to_expand_warns_that_no_mail_is_accepted() -> None:
    findings = alias_domain_findings("alias.example", "target.example", "expand", [])
    assert [f.code for f in findings] == ["alias-domain-empty"]


def test_mailboxes_of_the_target_without_an_alias_line_are_named() -> None:
    boxes = ["info@target.example", "box@target.example", "else@other.example"]
    expand = alias_domain_findings("alias.example", "target.example", "expand", TARGET, mailbox_addresses=boxes)
    assert [f.code for f in expand] == ["alias-domain-mailboxes"]
    assert "box@target.example box@target.example" in expand[0].message
    # the catch-all form reaches mailboxes, unless the target's own catch-all takes their mail
    plain = alias_domain_findings("alias.example", "target.example", "catchall", TARGET, mailbox_addresses=boxes)
    assert [f.code for f in plain] == ["alias-domain-backscatter"]
    with_catchall = [*TARGET, Entry("@target.example", "postmaster@example.org", True)]
    swallowed = alias_domain_findings(
        "alias.example", "target.example", "catchall", with_catchall, mailbox_addresses=boxes
    )
    assert [f.code for f in swallowed] == ["alias-domain-backscatter", "alias-domain-mailboxes"]
