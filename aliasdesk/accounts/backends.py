"""The local password backend; the directory one is in directory.py."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

# The directory backend notes here on the request why it refused a sign-in; the login form shows it.
REFUSAL_ATTRIBUTE = "aliasdesk_login_refusal"


class LocalBackend(ModelBackend):
    """Django's password check for local accounts only: a directory user never signs in
    (nor keeps a session) through a local password, whatever the database holds."""

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_directory", False)
