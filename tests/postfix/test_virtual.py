"""virtual(5) parsing and rendering: postmap's reading rules, and render/parse round trips."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aliasdesk.postfix.maps.virtual import (
    Entry,
    normalize_comment,
    parse_virtual,
    read_back,
    render_virtual,
    split_destinations,
)

LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,12}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,8}){1,2}", fullmatch=True)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
KEY = st.one_of(ADDRESS, ADDRESS, DOMAIN.map(lambda d: "@" + d), LOCAL)
VALUE = st.lists(st.one_of(ADDRESS, LOCAL), min_size=1, max_size=4).map(", ".join)
COMMENT_LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
COMMENT = st.lists(COMMENT_LINE, max_size=3).map(lambda lines: normalize_comment("\n".join(lines)))
ENTRY = st.builds(lambda k, v, e, c: Entry(k, v, e, c), KEY, VALUE, st.booleans(), COMMENT)
BLOCK = st.lists(COMMENT_LINE.map(lambda t: ("# " + t).rstrip()), max_size=3).map(
    lambda lines: "".join(line + "\n" for line in lines)
)


def shape(entries: list[Entry]) -> list[tuple[str, str, bool, str]]:
    return [(e.key, e.value, e.enabled, e.comment) for e in entries]


@settings(max_examples=300, deadline=None)
@given(BLOCK, st.lists(ENTRY, max_size=8, unique_by=lambda e: e.key.lower()), BLOCK)
def test_parse_of_render_gives_back_what_was_rendered(header, entries, footer):
    text = render_virtual(header, shape(entries), footer)
    parsed = parse_virtual(text)
    assert shape(parsed.entries) == shape(entries)
    assert parsed.errors == []
    if entries:  # without entries, header and footer are one comment block
        assert parsed.header == header
        assert parsed.footer == footer
        assert render_virtual(parsed.header, shape(parsed.entries), parsed.footer) == text


# Anything a row could hold, hostile too: blanks, quotes, marks, control characters.
NASTY = st.text(st.sampled_from(list('ab@.# \t"\r\n\x00\x0b\x7f\ufeff\u00a0é')), max_size=8)
ROW = st.tuples(
    st.one_of(KEY, NASTY),
    st.one_of(VALUE, NASTY),
    st.booleans(),
    st.one_of(COMMENT, st.just(""), NASTY),
)
RAW_BLOCK = st.one_of(BLOCK, NASTY.map(lambda t: t + "\n" if t else t), st.just("a@x.test b@y.test\n"))


@settings(max_examples=500, deadline=None)
@given(RAW_BLOCK, st.lists(ROW, max_size=8), RAW_BLOCK)
def test_read_back_is_what_the_parse_reads_or_none(header, rows, footer):
    """The deploy check's shortcut: never a different answer from the parse, only none."""
    fast = read_back(header, rows, footer)
    if fast is None:
        return
    parsed = parse_virtual(render_virtual(header, rows, footer))
    assert fast.entries == parsed.entries
    assert fast.problems == parsed.errors


@settings(max_examples=100, deadline=None)
@given(BLOCK, st.lists(ENTRY, max_size=8, unique_by=lambda e: e.key.lower()), BLOCK)
def test_read_back_answers_for_the_maps_aliasdesk_writes(header, entries, footer):
    rows = shape(entries)
    fast = read_back(header, rows, footer)
    assert fast is not None
    assert fast.entries == parse_virtual(render_virtual(header, rows, footer)).entries


def test_hash_inside_a_value_is_part_of_the_value():
    entry = parse_virtual("k@x.test a@y.test # note\n").entries[0]
    assert entry.destinations == ["a@y.test", "#", "note"]


def test_continuation_joins_across_comments_and_blank_lines_as_postmap_does():
    parsed = parse_virtual("a@x b@y\n# comment\n  c@y\n\n  d@y\ne@x f@y\n")
    assert shape(parsed.entries) == [("a@x", "b@y  c@y  d@y", True, ""), ("e@x", "f@y", True, "comment")]


def test_continuation_keeps_the_blanks_around_the_line_break_as_postmap_does():
    # Verified with postmap 3.7: only the line break goes ("b@y,  \t" + "    c@y" are kept).
    parsed = parse_virtual("a@x b@y, \t\n    c@y  \n")
    assert parsed.entries[0].value == "b@y, \t    c@y"


def test_leading_continuation_line_is_an_error_naming_its_line():
    parsed = parse_virtual("  c@y\na@x b@y\n")
    assert [(p.line, p.severity) for p in parsed.problems] == [(1, "error")]


def test_entry_without_value_is_an_error():
    parsed = parse_virtual("inbox.ocaml.org\ncaml-list@inbox.ocaml.org root\n")
    assert [p.line for p in parsed.errors] == [1]
    assert [e.key for e in parsed.entries] == ["caml-list@inbox.ocaml.org"]


def test_duplicate_key_after_case_folding_is_a_warning_and_first_is_kept():
    parsed = parse_virtual("Info@x.test a@y\ninfo@X.test b@y\n")
    assert [(p.line, p.severity) for p in parsed.problems] == [(2, "warning")]


def test_crlf_lines_and_byte_order_mark():
    parsed = parse_virtual("\ufeff# head\r\n\r\na@x b@y\r\n")
    assert parsed.header == "# head\n"
    assert shape(parsed.entries) == [("a@x", "b@y", True, "")]
    assert any("byte-order mark" in p.message for p in parsed.warnings)


def test_control_character_is_an_error():
    parsed = parse_virtual("a@x b\x01@y\n")
    assert [p.line for p in parsed.errors] == [1]


def test_commented_out_entry_is_a_disabled_alias_but_prose_is_a_comment():
    parsed = parse_virtual("#off@x.test a@y.test\n# see the wiki: http://w/x\nk@x.test b@y\n")
    assert shape(parsed.entries) == [
        ("off@x.test", "a@y.test", False, ""),
        ("k@x.test", "b@y", True, "see the wiki: http://w/x"),
    ]


def test_quoted_local_part_stays_one_destination():
    assert split_destinations('"we ird"@x.test, b@y  c@z') == ['"we ird"@x.test', "b@y", "c@z"]


def test_leading_comment_block_directly_above_first_entry_is_its_comment():
    parsed = parse_virtual("# ticket 7\na@x b@y\n")
    assert parsed.header == ""
    assert parsed.entries[0].comment == "ticket 7"
