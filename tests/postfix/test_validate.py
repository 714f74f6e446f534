"""validate: what Postfix would misread, refuse or loop on, found before a deploy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliasdesk.postfix.maps.resolve import AliasTable, resolve
from aliasdesk.postfix.maps.validate import (
    ERROR,
    WARNING,
    Finding,
    _entry_findings,
    check_destination,
    check_key,
    check_value_text,
    validate_entries,
)
from aliasdesk.postfix.maps.virtual import Entry, decode_map_bytes, parse_virtual
from tests.conftest import realdata


def entries(text: str) -> list[Entry]:
    parsed = parse_virtual(text)
    return parsed.entries


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.key) for f in findings]


def chain(prefix: str, length: int) -> list[Entry]:
    """``length`` aliases, each forwarding to the next; the last goes to a mailbox."""
    return [Entry(f"{prefix}{i}@d.example", f"{prefix}{i + 1}@d.example", True, "", i + 1) for i in range(length)]


# --- keys and addresses ------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    "user@example.com", "@example.com", "postmaster", "example.com", '"we ird"@example.com',
    "first.last+tag@sub.example.co.uk", "info@bücher.example", "info@xn--bcher-kva.example", "Ünïcode@bücher.example",
    "a@[192.0.2.1]", "a@[IPv6:2001:db8::1]", "o'brien@example.com", "user@localhost",
])
def test_check_key_accepts_every_key_form(key: str) -> None:
    assert check_key(key) is None


@pytest.mark.parametrize(("key", "said"), [
    ("we ird@example.com", "white space"),
    ("a,b@example.com", "comma"),
    ("#info@example.com", "comment"),
    ("info@exam\nple.com", "U+000A"),
    ("info\x00@example.com", "U+0000"),
    ("info\t@example.com", "U+0009"),
    ("", "empty"),
    ('"joe"@example.com', "never matches"),
    ('"a\\ b"@example.com', 'write it as "a b"@example.com'),
    ("a..b@example.com", "'..'"),
    (".a@example.com", "'.'"),
    ("info@example.com.", "trailing dot"),
    ("info@exa..mple.com", "empty label"),
    ("info@-example.com", "starts or ends with '-'"),
    ("info@exam_ple.com", "'_'"),
    ("info@xn--zz.example", "internationalised"),
    ("info@192.0.2.1", "[192.0.2.1]"),
    ("@", "nothing after"),
    ("a@b@example.com", "'@'"),
    ('"unbalanced@example.com', "unbalanced"),
    ("x" * 65 + "@example.com", "64 bytes"),
    ("info@" + "a" * 64 + ".example", "63 characters"),
])
def test_check_key_refuses_with_a_message_saying_why(key: str, said: str) -> None:
    message = check_key(key)
    assert message is not None and said in message


@pytest.mark.parametrize("address", [
    "devnull", "parseword", "alice@example.org", "@example.org", '"we ird"@example.org', '"joe"@example.org',
    "user+tag@bücher.example", "info@xn--bcher-kva.example", "9015551212@messaging.sprintpcs.com",
])
def test_check_destination_accepts_addresses_bare_names_and_at_domain(address: str) -> None:
    assert check_destination(address) is None


@pytest.mark.parametrize(("address", "said"), [
    ("|/usr/bin/procmail", "command or a file"),
    ("/dev/null", "command or a file"),
    (":include:/etc/list", "command or a file"),
    ("a@example.org, b@example.org", "comma"),
    ("a@example.org b@example.org", "white space"),
    ("#note", "comment"),
    ("a@exa mple.org", "white space"),
    ("a@example.org\r", "U+000D"),
])
def test_check_destination_refuses_what_postfix_would_split_or_cannot_deliver(address: str, said: str) -> None:
    message = check_destination(address)
    assert message is not None and said in message


@given(st.text(), st.text())
def test_check_destination_never_accepts_newline_comma_space_or_leading_hash(head: str, tail: str) -> None:
    for text in (f"{head}\n{tail}", f"{head}, {tail}", f"#{head}{tail}", f"{head}\x00{tail}"):
        assert check_destination(text) is not None
        assert check_key(text) is not None


@given(st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?@[a-z0-9]{1,20}\.(com|org|example)", fullmatch=True))
def test_plain_addresses_are_accepted_as_keys_and_destinations(address: str) -> None:
    assert check_key(address) is None
    assert check_destination(address) is None


# --- values ---------------------------------------------------------------------------------


def test_hash_in_value_is_three_addresses_to_postfix() -> None:
    (finding,) = check_value_text("a@example.org # note")
    assert (finding.severity, finding.code) == (WARNING, "hash-in-value")
    assert "3 addresses a@example.org, #, note" in finding.message


def test_hash_inside_an_address_is_not_a_comment() -> None:
    assert check_value_text("a#b@example.org") == []


def test_control_character_in_value_is_an_error() -> None:
    (finding,) = check_value_text("a@example.org\x07")
    assert (finding.severity, finding.code) == (ERROR, "control-character")


@pytest.mark.parametrize("value", ["", "   ", ",", " , "])
def test_empty_value_is_an_error(value: str) -> None:
    assert [(f.severity, f.code) for f in check_value_text(value)] == [(ERROR, "empty-value")]


def test_at_domain_result_only_works_alone() -> None:
    assert check_value_text("@example.org") == []
    assert [f.code for f in check_value_text("@example.org, z@example.net")] == ["at-domain-not-alone"]


def test_tab_separated_destinations_are_fine() -> None:
    assert check_value_text("a@example.org,\tb@example.org") == []


# --- whole maps -----------------------------------------------------------------------------


def test_duplicate_key_after_case_folding_is_an_error_pointing_at_the_first() -> None:
    findings = validate_entries(entries("Info@Example.com a@x.example\ninfo@example.com b@x.example\n"))
    (finding,) = findings
    assert (finding.severity, finding.code, finding.line) == (ERROR, "duplicate-key", 2)
    assert "line 1" in finding.message


def test_duplicate_keys_fold_like_postmap_with_smtputf8() -> None:
    both = [Entry("straße@example.com", "a@x.example", True, "", 1),
            Entry("STRASSE@example.com", "b@x.example", True, "", 2)]
    assert codes(validate_entries(both)) == [("duplicate-key", "STRASSE@example.com")]
    assert validate_entries(both, utf8=False) == []


def test_disabled_entries_are_not_checked() -> None:
    found = validate_entries([Entry("a@example.com", "x@y.example"), Entry("A@example.com", "bad value#", False)])
    assert found == []


def test_bad_key_and_destination_are_warnings_control_characters_errors() -> None:
    found = validate_entries([
        Entry("a@exam_ple.com", "x@y.example", True, "", 1),
        Entry("b@example.com", "x@y.example, y@-bad.example", True, "", 2),
        Entry("c\x01@example.com", "x@y.example", True, "", 3),
    ])
    assert [(f.severity, f.code, f.line) for f in found] == [
        (WARNING, "bad-key", 1), (WARNING, "bad-destination", 2), (ERROR, "control-character", 3)]
    assert found[1].message.startswith("y@-bad.example:")


def test_self_mapping_is_not_a_loop() -> None:
    assert validate_entries(entries("a@d.example a@d.example, b@d.example\n")) == []


def test_two_aliases_pointing_at_each_other_are_a_loop_listing_the_cycle() -> None:
    text = "a@d.example b@d.example\nb@d.example c@d.example\nc@d.example a@d.example\n"
    (finding,) = validate_entries(entries(text))
    assert (finding.code, finding.severity, finding.line) == ("loop", WARNING, 1)
    assert "a@d.example -> b@d.example -> c@d.example -> a@d.example" in finding.message


def test_cycle_through_a_key_that_keeps_a_copy_of_itself_ends_there() -> None:
    # Checked against Postfix 3.7: mail to sa@ is delivered to sb@, not deferred.
    assert validate_entries(entries("sa@d.example sb@d.example\nsb@d.example sa@d.example, sb@d.example\n")) == []


def test_address_that_comes_back_with_its_extension_is_a_loop() -> None:
    # Postfix adds +x again on every round until the address is over 1000 characters.
    (finding,) = validate_entries(entries("grow@d.example grow+x@d.example\n"))
    assert finding.code == "loop" and "leads back to grow@d.example" in finding.message


def test_loop_through_catch_alls_is_found() -> None:
    found = validate_entries(entries("@a.example x@b.example\n@b.example y@a.example\n"))
    assert codes(found) == [("loop", "@a.example")]


def test_loop_from_an_alias_through_a_catch_all_is_found() -> None:
    found = validate_entries(entries("@a.example alias@b.example\nalias@b.example someone@a.example\n"))
    assert [f.code for f in found] == ["loop"]


def test_loop_through_a_domain_alias_catch_all_is_found() -> None:
    # d@q -> c@p -> d@p, and "@p @q" makes d@p into d@q again.
    text = "d@q.example c@p.example\nc@p.example d@p.example, x@r.example\n@p.example @q.example\n"
    assert [(f.code, f.key) for f in validate_entries(entries(text))] == [("loop", "d@q.example")]


def test_key_that_comes_back_as_itself_through_a_domain_alias_loops_unless_it_keeps_a_copy() -> None:
    assert [f.code for f in validate_entries(entries("a@p.example @q.example\n@q.example @p.example\n"))] == ["loop"]
    assert validate_entries(entries("b@q.example b@q.example, b@p.example\n@p.example @q.example\n")) == []


def test_entering_a_catch_all_with_one_of_its_own_values_ends_there() -> None:
    text = "@p.example b@q.example, c@p.example\nb@q.example c@p.example, x@r.example\n"
    assert validate_entries(entries(text)) == []


def test_catch_all_to_its_own_domain_is_not_a_loop() -> None:
    assert validate_entries(entries("@d.example postmaster@d.example\n")) == []


def test_user_keys_close_a_loop_only_on_local_domains() -> None:
    text = "a@d.example bob@local.test\nbob a@d.example\n"
    assert validate_entries(entries(text)) == []
    assert [f.code for f in validate_entries(entries(text), local_domains=["local.test"])] == ["loop"]


def test_nesting_of_999_is_fine_1000_is_reported_where_it_starts() -> None:
    # Postfix 3.7 defers d5 of a 1005-long chain (1000 lookups that hit) and delivers d6.
    assert validate_entries(chain("d", 999)) == []
    (finding,) = validate_entries(chain("d", 1000))
    assert (finding.code, finding.key) == ("recursion-limit", "d0@d.example")


def test_more_than_1000_addresses_is_reported_once_where_it_crosses_the_limit() -> None:
    wide = ", ".join(f"m{i}@x.example" for i in range(600))
    text = f"top@d.example big@d.example\nbig@d.example half@d.example, {wide}\nhalf@d.example {wide}\n"
    assert codes(validate_entries(entries(text))) == [("expansion-limit", "big@d.example")]
    flat = ", ".join(f"m{i}@x.example" for i in range(1001))
    assert [f.code for f in validate_entries(entries(f"all@d.example {flat}\n"))] == ["expansion-limit"]
    exact = ", ".join(f"m{i}@x.example" for i in range(1000))
    assert validate_entries(entries(f"all@d.example {exact}\n")) == []


def test_catch_all_that_shadows_mailboxes_lists_them() -> None:
    text = "@m.example catch@x.example\ninfo@m.example info@m.example\nsales@m.example info@m.example\n"
    boxes = ["info@m.example", "bob@m.example", "eve@m.example", "carol@other.example"]
    (finding,) = validate_entries(entries(text), mailbox_addresses=boxes)
    assert (finding.code, finding.key, finding.line) == ("catchall-shadows-mailbox", "@m.example", 1)
    assert "2 mailboxes" in finding.message and "bob@m.example, eve@m.example" in finding.message
    assert '"bob@m.example bob@m.example"' in finding.message


def test_catch_all_next_to_aliases_of_the_same_domain_is_fine() -> None:
    text = "@m.example catch@x.example\ninfo@m.example info@m.example\nsales@m.example a@x.example\n"
    assert validate_entries(entries(text), mailbox_addresses=["info@m.example"]) == []
    assert validate_entries(entries(text)) == []


def test_finding_to_dict() -> None:
    assert Finding(ERROR, "x", "y", "k", 3).to_dict() == {
        "severity": "error", "code": "x", "message": "y", "key": "k", "line": 3}


# The bulk screens must flag every entry the exact per-entry checks would complain about.
_PIECES = st.sampled_from([*'ab09.@-+_,# \t"|/\x00\nÄß', "xn--", "..", "@@", "x.example", "a" * 64])
_TRICKY = st.lists(_PIECES, max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_TRICKY, _TRICKY), max_size=8))
def test_screens_miss_nothing_the_exact_checks_find(pairs: list[tuple[str, str]]) -> None:
    items = [Entry(key if i % 2 else f"k{i}{key}", value, True, "", i + 1) for i, (key, value) in enumerate(pairs)]
    found = [f for f in validate_entries(items) if f.code not in ("duplicate-key", "loop")]
    folded: dict[str, int] = {}
    expected = [f for e in items if folded.setdefault(e.key.casefold(), e.line) == e.line
                for f in _entry_findings(e, {})]
    per_entry = {"bad-key", "bad-destination", "control-character", "empty-value", "hash-in-value",
                 "at-domain-not-alone"}
    assert [f for f in found if f.code in per_entry] == expected


_USERS = ["a@p.example", "b@p.example", "c@q.example", "d@q.example", "a@q.example"]
_VALUES = st.one_of(st.lists(st.sampled_from([*_USERS, "x@r.example"]), min_size=1, max_size=3).map(", ".join),
                    st.sampled_from(["@p.example", "@q.example"]))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_USERS, "@p.example", "@q.example"]), _VALUES, min_size=1, max_size=6))
def test_a_loop_is_reported_exactly_when_postfix_would_defer_some_address(aliases: dict[str, str]) -> None:
    items = [Entry(key, value, True, "", line) for line, (key, value) in enumerate(aliases.items(), start=1)]
    reported = [f for f in validate_entries(items) if f.code == "loop"]
    table = AliasTable(items)
    probes = [*_USERS, "z@p.example", "z@q.example"]
    assert bool(reported) == any(resolve(address, table).deferred for address in probes)


def test_real_maps_have_no_findings_but_the_known_duplicate() -> None:
    seen = []
    for path in sorted(realdata("maps").rglob("*.virtual")):
        text, _ = decode_map_bytes(path.read_bytes())
        seen += [(path.name, f.code, f.key) for f in validate_entries(parse_virtual(text).entries)]
    assert [(code, key) for _, code, key in seen] == [("duplicate-key", "osm-mirror@v.nix.is")]


@pytest.mark.slow
def test_half_a_million_entries_give_the_planted_findings() -> None:
    # Speed is measured in bench/bench_validate.py, not asserted here.
    from bench.bench_validate import make_entries

    found = validate_entries(make_entries(500_000))
    assert {f.code for f in found} == {"loop", "hash-in-value", "bad-destination"}
