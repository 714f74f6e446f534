"""The signed-in user of a request, with its type."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User


def current_user(request: HttpRequest) -> User:
    """``request.user`` as the :class:`User` it is behind ``@login_required``.

    Django types it as "a user or AnonymousUser"; views that need a user are for signed-in
    users only, so an anonymous one here is refused (403) rather than let through.
    """
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied(_("sign in first"))
    return user
