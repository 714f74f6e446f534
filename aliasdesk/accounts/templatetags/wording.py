"""{% load wording %}: ``{{ value|shown:"enabled" }}`` (on/off, — for nothing) and
``{{ moment|ago }}`` ("just now" rather than "0 minutes ago")."""

from __future__ import annotations

from datetime import datetime

from django import template

from aliasdesk.accounts import display

register = template.Library()


@register.filter
def shown(value: object, name: str = "") -> str:
    return display.show_value(value, name)


@register.filter
def ago(moment: datetime | None) -> str:
    return display.ago(moment)


@register.filter
def field(name: str) -> str:
    return display.field_label(name)
