"""Ticket references in comments as links (ALIASDESK_TICKET_URL, ALIASDESK_TICKET_PATTERN)."""

from __future__ import annotations

import pytest
from django.core import checks
from django.template import Context, Template

from aliasdesk.aliases.tickets import check_ticket_links, link_tickets

JIRA = "https://tickets.example/browse/{ref}"


def render(comment: str) -> str:
    return Template("{% load tickets %}{{ comment|ticket_links|linebreaksbr }}").render(Context({"comment": comment}))


def test_nothing_changes_without_a_ticket_url(settings):
    settings.TICKET_URL = ""
    assert render("OPS-1234 <b>\nnext") == "OPS-1234 &lt;b&gt;<br>next"


def test_jira_references_become_links_by_default(settings):
    settings.TICKET_URL, settings.TICKET_PATTERN = JIRA, ""
    assert link_tickets("see OPS-1234 and ab-1, X-9") == (
        'see <a href="https://tickets.example/browse/OPS-1234" class="ticket" rel="noopener noreferrer" '
        'target="_blank">OPS-1234</a> and ab-1, X-9'
    )


def test_markup_in_a_comment_stays_text(settings):
    settings.TICKET_URL, settings.TICKET_PATTERN = JIRA, ""
    html = render('<script>alert(1)</script> OPS-1 "><img src=x onerror=alert(2)>\n<a href="javascript:x">')
    assert "<script>" not in html and "<img" not in html and '<a href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert '>OPS-1</a> &quot;&gt;' in html and "<br>" in html


def test_a_reference_is_quoted_in_the_url_and_escaped_in_the_text(settings):
    settings.TICKET_URL = "https://t.example/q?id={ref}&x=1"
    settings.TICKET_PATTERN = r"T:\S+"
    html = link_tickets('T:a"b<c>/d&e')
    assert 'href="https://t.example/q?id=T%3Aa%22b%3Cc%3E%2Fd%26e&amp;x=1"' in html
    assert ">T:a&quot;b&lt;c&gt;/d&amp;e</a>" in html


@pytest.mark.parametrize(("pattern", "href"), [(r"#(\d+)", "/issues/42"), (r"(?P<ref>\d+)#", "/issues/42")])
def test_a_group_of_the_pattern_is_the_reference(settings, pattern: str, href: str):
    settings.TICKET_URL = "https://redmine.example/issues/{ref}"
    settings.TICKET_PATTERN = pattern
    html = link_tickets("see #42 and 42#")
    assert f'href="https://redmine.example{href}"' in html


def test_sound_settings_pass_the_check(settings):
    settings.TICKET_URL, settings.TICKET_PATTERN = JIRA, r"#\d+"
    assert check_ticket_links() == []
    settings.TICKET_URL = ""
    assert check_ticket_links() == []


@pytest.mark.parametrize(
    ("url", "pattern", "error"),
    [
        (JIRA, "OPS-(", "aliasdesk.E103"),
        (JIRA, "x*", "aliasdesk.E104"),
        ("https://tickets.example/browse/", "", "aliasdesk.E101"),
        ("javascript:alert('{ref}')", "", "aliasdesk.E102"),
    ],
)
def test_a_bad_setting_is_a_system_check_error_and_links_nothing(settings, url: str, pattern: str, error: str):
    settings.TICKET_URL, settings.TICKET_PATTERN = url, pattern
    found = check_ticket_links()
    assert [e.id for e in found] == [error] and all(isinstance(e, checks.Error) for e in found)
    assert "ALIASDESK_TICKET_" in found[0].msg
    assert link_tickets("OPS-1 x") == "OPS-1 x"


def test_the_check_runs_with_the_system_checks(settings):
    settings.TICKET_URL, settings.TICKET_PATTERN = JIRA, "OPS-("
    assert "aliasdesk.E103" in [e.id for e in checks.run_checks()]
