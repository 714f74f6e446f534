"""End to end: a real Postfix reads the aliases from aliasdesk's SQLite lookup database
through ``proxy:sqlite:`` (proxymap, as Debian's chrooted daemons must) and delivers where
the deployed map would; a change saved through the services is delivered by the next mail,
without a deploy."""

from __future__ import annotations

import grp
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .postfix_server import _write_config
from .test_delivery import ALIAS_BOXES, ALIAS_DOMAINS, ALIAS_MAP, EXPECTED_BOXES, SENDER, deliver_one_each

if TYPE_CHECKING:
    from .conftest import AliasdeskCLI, PostfixServerFactory

pytestmark = pytest.mark.postfix

CHANGE = """
import django
django.setup()
from aliasdesk.aliases.models import Alias
from aliasdesk.aliases.services import update_alias
sales = Alias.objects.get(key="sales@example.com")
update_alias(sales, version=sales.version, destinations="box4@mbox.test")
"""


def test_postfix_delivers_through_the_lookup_database_live(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path
) -> None:
    server = postfix_server(mailboxes=ALIAS_BOXES, alias_domains=ALIAS_DOMAINS, start=False)
    # As docs/deployment.md says: a setgid directory of group postfix, the file mode 0640.
    lookup_dir = server.root / "lookup"
    lookup_dir.mkdir()
    os.chown(lookup_dir, -1, grp.getgrnam("postfix").gr_gid)
    lookup_dir.chmod(0o2750)
    aliasdesk.env["ALIASDESK_LOOKUP_DATABASE"] = str(lookup_dir / "lookup.sqlite3")
    aliasdesk.env["ALIASDESK_POSTFIX_CONFIG_DIR"] = str(server.conf_dir)
    source = tmp_path / "virtual"
    source.write_text(ALIAS_MAP)
    aliasdesk.run("import", str(source), "--domain", "example.com")
    table = server.conf_dir / "aliasdesk-virtual.cf"
    table.write_text(aliasdesk.run("postfix-config", "sqlite").stdout)
    table.chmod(0o640)
    os.chown(table, 0, grp.getgrnam("postfix").gr_gid)
    server.extra_settings["virtual_alias_maps"] = f"proxy:sqlite:{table}"
    _write_config(server.conf_dir / "main.cf", server._main_cf())
    server.map_path.write_text("")  # the harness wants a compiled map; Postfix does not read it
    server.postmap()
    server.start()

    delivered = deliver_one_each(server, EXPECTED_BOXES)
    assert {address: set(boxes) for address, boxes in delivered.items()} == EXPECTED_BOXES

    env = dict(aliasdesk.env, DJANGO_SETTINGS_MODULE="aliasdesk.settings")
    subprocess.run([sys.executable, "-c", CHANGE], env=env, check=True, capture_output=True, timeout=120)
    before = server.mailboxes()
    server.send(SENDER, ["sales@example.com"], "after the change")
    server.wait_for("box4", before["box4"] + 1)
    server.wait_until_idle()
    assert server.mailboxes()["box3"] == before["box3"]
    assert "Temporary lookup failure" not in server.maillog()
