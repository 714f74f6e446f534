"""The way a change came in (API, command line) is written into its history reason, for
changes through the services and for the importer's own history rows."""

from __future__ import annotations

import pytest

from aliasdesk.accounts.channel import current_channel, via, with_channel
from aliasdesk.aliases.importer import import_map
from aliasdesk.aliases.models import Alias
from aliasdesk.aliases.services import create_alias, create_domain, update_alias

pytestmark = pytest.mark.django_db


def test_with_channel_adds_the_note_once():
    assert with_channel("restored") == "restored"
    with via("API"):
        assert current_channel() == "API"
        assert with_channel("") == "via API"
        assert with_channel("restored") == "restored · via API"
        assert with_channel("restored · via API") == "restored · via API"
    assert current_channel() == ""
    with pytest.raises(ValueError), via("mail"):
        pass


def test_history_says_via_which_channel():
    domain = create_domain("example.com")
    alias = create_alias(domain, "a@example.com", ["x@example.org"])
    with via("CLI"):
        alias = update_alias(alias, version=alias.version, enabled=False)
    with via("API"):
        alias = update_alias(alias, version=alias.version, enabled=True, reason="ticket 7")
    records = Alias.history.filter(id=alias.pk).order_by("history_id")
    reasons = [r or "" for r in records.values_list("history_change_reason", flat=True)]
    assert reasons == ["", "via CLI", "ticket 7 · via API"]


def test_imported_history_says_via_which_channel(tmp_path):
    source = tmp_path / "virtual"
    source.write_text("b@example.com x@example.org\n")
    with via("API"):
        import_map(source, "example.com")
    reason = Alias.history.get(key="b@example.com").history_change_reason
    assert reason.endswith("via API"), reason
