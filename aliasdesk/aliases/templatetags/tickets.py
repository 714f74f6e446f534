from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from aliasdesk.aliases.tickets import link_tickets

register = template.Library()


@register.filter(is_safe=True)
def ticket_links(text: str) -> SafeString:
    """A comment, escaped, with its ticket references as links (aliasdesk/aliases/tickets.py)."""
    return link_tickets(str(text))
