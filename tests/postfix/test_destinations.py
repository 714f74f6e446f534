"""Destinations compared as Postfix compares them, and replaced in a list of them."""

from __future__ import annotations

from aliasdesk.postfix.maps.destinations import destination_form, replace_destination


def test_spellings_of_one_address_are_one_destination() -> None:
    same = ["bob@example.org", "Bob@Example.ORG", '"bob"@example.org', "bob@example.org.", " bob@example.org "]
    assert {destination_form(s) for s in same} == {"bob@example.org"}


def test_other_addresses_stay_apart() -> None:
    forms = {destination_form(s) for s in ["bob@example.org", "jimbob@example.org", "bob@example.org.uk", "bob"]}
    assert len(forms) == 4


def test_replace_puts_the_new_address_where_the_old_one_was() -> None:
    tokens = ["anna@x.org", "Bob@Example.org", "carla@x.org"]
    assert replace_destination(tokens, "bob@example.org", "dora@x.org") == ["anna@x.org", "dora@x.org", "carla@x.org"]


def test_replace_never_lists_an_address_twice() -> None:
    assert replace_destination(["bob@x.org", "carol@x.org"], "bob@x.org", "Carol@x.org") == ["carol@x.org"]
    assert replace_destination(["bob@x.org", '"bob"@x.org'], "bob@x.org", "dora@x.org") == ["dora@x.org"]


def test_remove_and_absent() -> None:
    assert replace_destination(["bob@x.org", "anna@x.org"], "BOB@x.org", None) == ["anna@x.org"]
    assert replace_destination(["bob@x.org"], "bob@x.org", None) == []
    assert replace_destination(["jimbob@x.org"], "bob@x.org", None) is None
