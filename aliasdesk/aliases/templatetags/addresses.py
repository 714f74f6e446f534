"""``{{ address|breakable }}``: a mail address (or a list of them) that a narrow column may
wrap after each ``@`` and ``.``, not in the middle of a name.

A builtin (settings.TEMPLATES): every template has it without ``{% load %}``.
"""

from __future__ import annotations

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_BREAK_AFTER = re.compile(r"([@.])")


@register.filter(needs_autoescape=True)
def breakable(value: object, autoescape: bool = True) -> SafeString:
    """The text escaped first (escaping adds no ``@`` or ``.``), then a ``<wbr>`` after each
    ``@`` and ``.``: a line may break there, and copying the text copies no extra character."""
    text = str(conditional_escape(str(value)) if autoescape else value)
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", text))  # escaped above
