"""The sign-in form: Django's, saying why a directory sign-in was refused."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from aliasdesk.accounts.backends import REFUSAL_ATTRIBUTE


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That user name and password do not match. Try again."),
        "inactive": _("This account is deactivated. Ask an administrator."),
    }

    def get_invalid_login_error(self) -> forms.ValidationError:
        refusal = getattr(self.request, REFUSAL_ATTRIBUTE, "") if self.request is not None else ""
        if refusal:
            return forms.ValidationError(refusal, code="directory")
        return super().get_invalid_login_error()
