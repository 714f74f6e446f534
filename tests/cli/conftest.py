"""The command line run in-process (``call_command``), on the named users of the web tests:
alice is an administrator, bob edits example.com, carol is an auditor, dave reads
example.com, erin has no domain at all; other.org is granted to nobody."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aliasdesk.aliases.models import Alias, Domain
from tests.web.conftest import alice, bob, carol, dave, erin, everyone, example, other  # noqa: F401 - fixtures


class Run:
    """``run("alias", "list", "example.com")``: the command's stdout; ``run.refused(...)``: its error."""

    def __call__(self, *args: str) -> str:
        out, err = StringIO(), StringIO()
        call_command(*args, stdout=out, stderr=err)
        self.err = err.getvalue()
        return out.getvalue()

    def refused(self, *args: str) -> str:
        """The one-line reason of a refusal (CommandError: exit 1 with it on stderr)."""
        with pytest.raises(CommandError) as caught:
            self(*args)
        message = str(caught.value)
        assert message and "\n" not in message, message
        return message


@pytest.fixture
def run(db: Any) -> Run:
    return Run()


def snapshot() -> list[Any]:
    """Everything a refused command must leave as it was: aliases, their history, domains."""
    aliases = list(Alias.objects.order_by("pk").values())
    domains = list(Domain.objects.order_by("pk").values())
    return [aliases, domains, Alias.history.count(), Domain.history.count()]


@contextlib.contextmanager
def unchanged() -> Iterator[None]:
    """``with unchanged():`` around refusals; fails if any of them changed a row or its history."""
    before = snapshot()
    yield
    assert snapshot() == before
