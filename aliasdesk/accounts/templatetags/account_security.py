"""{% user_security target %}: a user's two-factor state and lockouts on the user page."""

from __future__ import annotations

from typing import Any

from django import template

from aliasdesk.accounts import lockouts, twofactor
from aliasdesk.accounts.models import User

register = template.Library()


@register.inclusion_tag("accounts/_user_security.html", takes_context=True)
def user_security(context: template.Context, target: User) -> dict[str, Any]:
    return {
        "target": target,
        "enrolled": twofactor.is_enrolled(target),
        "required": twofactor.required_for(target),
        "failures": lockouts.failures_of(target.get_username()),
        "csrf_token": context.get("csrf_token"),
        "readonly_demo": context.get("readonly_demo"),
    }
