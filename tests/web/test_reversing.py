"""{% url %} remembers what it reversed (aliasdesk/aliases/templatetags/reversing.py) and still
answers as Django's does: the same URLs, `as var`, errors for unknown names."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse, set_script_prefix

from aliasdesk.aliases.templatetags.reversing import _reversed


def render(text: str, **context: object) -> str:
    return Template(text).render(Context(context))


def test_the_same_urls_as_reverse_and_remembered() -> None:
    _reversed.cache_clear()
    assert render("{% url 'domain-list' %}") == reverse("domain-list")
    assert render("{% url 'domain-detail' name %}", name="a.example") == reverse("domain-detail", args=["a.example"])
    assert render("{% url 'domain-detail' name=name %}", name="b.example") == reverse(
        "domain-detail", kwargs={"name": "b.example"}
    )
    render("{% url 'domain-list' %}")
    assert _reversed.cache_info().hits >= 1


def test_arguments_are_escaped_and_the_script_prefix_is_kept_apart() -> None:
    # as Django's: reverse() keeps "&", the page escapes it
    assert render("{% url 'domain-detail' name %}", name="x&y.example") == "/domains/x&amp;y.example/"
    set_script_prefix("/desk/")
    try:
        assert render("{% url 'domain-list' %}").startswith("/desk/")
    finally:
        set_script_prefix("/")
    assert not render("{% url 'domain-list' %}").startswith("/desk/")


def test_as_var_and_unknown_names_as_django_answers() -> None:
    assert render("{% url 'no-such-view' as u %}[{{ u }}]") == "[]"
    assert render("{% url 'domain-list' as u %}[{{ u }}]") == f"[{reverse('domain-list')}]"
    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-view' %}")
