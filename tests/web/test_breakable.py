"""|breakable: long addresses may wrap after "@" and ".", and stay escaped."""

from __future__ import annotations

from django.template import engines


def render(text: str, value: object) -> str:
    return engines["django"].from_string(text).render({"value": value})


def test_it_lets_an_address_break_after_at_and_dots():
    assert render("{{ value|breakable }}", "anna.berg@mail.example.com") == (
        "anna.<wbr>berg@<wbr>mail.<wbr>example.<wbr>com"
    )


def test_it_escapes_before_marking_safe():
    assert render("{{ value|breakable }}", '<b>x</b>@a.b "q"') == (
        "&lt;b&gt;x&lt;/b&gt;@<wbr>a.<wbr>b &quot;q&quot;"
    )


def test_it_takes_what_is_not_text():
    assert render("{{ value|breakable }}", None) == "None"
    assert render("{% autoescape off %}{{ value|breakable }}{% endautoescape %}", "a@b") == "a@<wbr>b"
