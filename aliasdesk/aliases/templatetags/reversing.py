"""``{% url %}`` with the answers remembered: a page reverses some thirty URLs (the menus, the
tabs, the download menu), and the same names with the same arguments give the same URL for
as long as the process serves the same URL configuration.

A builtin (settings.TEMPLATES), listed after Django's, so that it replaces ``{% url %}``
everywhere. Only plain arguments (text and numbers) are remembered; anything else, and
``{% url … as var %}`` that finds nothing, goes Django's way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaulttags
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()

_PLAIN = (str, int)


@lru_cache(maxsize=8192)
def _reversed(
    view_name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...], prefix: str, urlconf: Any
) -> str:
    # prefix and urlconf are part of the key only: reverse() reads them itself.
    return reverse(view_name, args=args, kwargs=dict(kwargs))


@receiver(setting_changed)
def _forget(*, setting: str, **_: Any) -> None:
    if setting == "ROOT_URLCONF":
        _reversed.cache_clear()


class RememberedURLNode(defaulttags.URLNode):
    def render(self, context: template.Context) -> str:
        request = getattr(context, "request", None)
        namespace = getattr(getattr(request, "resolver_match", None), "namespace", None)
        if getattr(request, "current_app", None) or namespace:
            return super().render(context)
        view_name = self.view_name.resolve(context)
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple((k, v.resolve(context)) for k, v in self.kwargs.items())
        values = (view_name, *args, *(v for _, v in kwargs))
        if not all(isinstance(v, _PLAIN) for v in values):
            return super().render(context)
        try:
            url = _reversed(view_name, args, kwargs, get_script_prefix(), get_urlconf())
        except Exception:  # NoReverseMatch and the like: Django's own handling and message
            return super().render(context)
        if self.asvar:
            context[self.asvar] = url
            return ""
        return str(conditional_escape(url)) if context.autoescape else url


@register.tag
def url(parser: template.base.Parser, token: template.base.Token) -> RememberedURLNode:
    node = defaulttags.url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
