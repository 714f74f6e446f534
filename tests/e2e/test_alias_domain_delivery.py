"""End to end: alias domains deployed by aliasdesk, with a real Postfix reading all three maps.

The expanded alias domain delivers its target's addresses and the SMTP server rejects every
other address ("User unknown in virtual alias table"); the catch-all form accepts any address,
also one its target does not have (the backscatter the expand mode avoids).
"""

from __future__ import annotations

import smtplib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .postfix_server import _write_config

if TYPE_CHECKING:
    from .conftest import AliasdeskCLI, PostfixServerFactory

pytestmark = pytest.mark.postfix

SENDER = "sender@sender.test"
TARGET_MAP = """\
info@target.example   box1@mbox.test, box2@mbox.test
sales@target.example  box2@mbox.test
"""


def test_expanded_alias_domain_rejects_unknown_users_and_catchall_accepts_them(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path
) -> None:
    server = postfix_server(
        mailboxes=["box1", "box2"], alias_domains=["target.example", "alias.example", "wild.example"], start=False
    )
    maps = [server.map_path, server.root / "alias.example", server.root / "wild.example"]
    main_cf = server.conf_dir / "main.cf"
    lines = main_cf.read_text().splitlines()
    spec = ", ".join(f"hash:{path}" for path in maps)
    _write_config(main_cf, "\n".join(f"virtual_alias_maps = {spec}" if ln.startswith("virtual_alias_maps") else ln
                                     for ln in lines) + "\n")

    aliasdesk.env["ALIASDESK_POSTFIX_CONFIG_DIR"] = str(server.conf_dir)
    source = tmp_path / "virtual.import"
    source.write_text(TARGET_MAP)
    aliasdesk.run("import", str(source), "--domain", "target.example", "--map-file", str(maps[0]))
    aliasdesk.run("domain", "add", "alias.example", "--map-file", str(maps[1]), "--alias-of", "target.example")
    aliasdesk.run("domain", "add", "wild.example", "--map-file", str(maps[2]), "--alias-of", "target.example",
                  "--alias-mode", "catchall")
    aliasdesk.run("deploy", "--all")
    server.start()

    server.send(SENDER, ["Info@alias.example"], "info via the alias domain")
    server.send(SENDER, ["sales+tag@alias.example"], "sales via the alias domain")
    assert server.wait_for("box1", 1) == 1
    assert server.wait_for("box2", 2) == 2
    with pytest.raises(smtplib.SMTPRecipientsRefused, match="User unknown in virtual alias table"):
        server.send(SENDER, ["nobody@alias.example"], "to nobody, expanded")

    # the catch-all form: delivered for a known address, and accepted for an unknown one
    server.send(SENDER, ["info@wild.example"], "info via the catch-all")
    assert server.wait_for("box1", 2) == 2
    server.send(SENDER, ["nobody@wild.example"], "to nobody, catch-all")  # accepted: no refusal raised
    server.wait_until_idle()
    assert "nobody@target.example" in server.maillog() and "status=bounced" in server.maillog()

    # what resolve says matches: the expanded alias domain does not accept nobody@
    refused = aliasdesk.run("resolve", "nobody@alias.example", check=False)
    assert refused.returncode != 0 and "User unknown in virtual alias table" in refused.stderr
