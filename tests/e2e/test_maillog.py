"""Logs written by a real Postfix: logstats equals pflogsumm, logingest counts each alias's mail.

A private Postfix (see postfix_server.py) receives mail through an aliasdesk-deployed
map: fan-out aliases, a catch-all, an alias to a missing mailbox (bounced), an alias to a
host that refuses connections (deferred, retried), mail sent outside (bounced by the
error transport) and recipients Postfix rejects. Its own maillog_file (RFC 3339
timestamps) is then read by the real pflogsumm, by ``aliasdesk logstats`` and by
``aliasdesk logingest``.
"""

from __future__ import annotations

import json
import shutil
import smtplib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.postfix.test_logsummary import grand_totals, pflogsumm

from .postfix_server import PostfixServer, poll
from .test_delivery import SENDER, deploy_map

if TYPE_CHECKING:
    from .conftest import AliasdeskCLI, PostfixServerFactory

MAP = """\
info@example.com     box1@mbox.test, box2@mbox.test
sales@example.com    box3@mbox.test
gone@example.com     nosuchbox@mbox.test
slow@example.com     someone@defer.test
outside@example.com  friend@outside.test
@example.com         catchall@mbox.test
"""

USAGE = (
    "import json; from aliasdesk.maillog.models import AliasUsage; "
    "print(json.dumps({u.alias.key: [u.received, u.delivered, u.deferred, u.bounced] "
    "for u in AliasUsage.objects.select_related('alias')}))"
)
HOSTS = (
    "import json; from django.db.models import Sum; from aliasdesk.maillog.models import HostHour; "
    "print(json.dumps(HostHour.objects.aggregate(**{f: Sum(f) for f in "
    "['received', 'delivered', 'deferrals', 'bounced', 'rejected']})))"
)


def shell(aliasdesk: AliasdeskCLI, code: str) -> dict[str, object]:
    out = aliasdesk.run("shell", "--no-imports", "-c", code).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def send_traffic(server: PostfixServer) -> None:
    server.send(SENDER, ["info@example.com"], "to info")
    server.send(SENDER, ["info@example.com", "sales@example.com"], "to info and sales")
    server.send(SENDER, ["Info+news@example.com"], "to info with an extension")
    server.send(SENDER, ["nobody@example.com"], "to the catch-all")
    server.send(SENDER, ["gone@example.com"], "to a missing box")
    server.send(SENDER, ["outside@example.com"], "to the outside")
    server.send(SENDER, ["slow@example.com"], "to a host that refuses")
    for recipient in ("nobody@example.net", "someone@elsewhere.test"):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            server.send(SENDER, [recipient], "rejected")


def test_real_postfix_log_totals_equal_pflogsumm_and_land_on_the_aliases(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path
) -> None:
    server = postfix_server(
        mailboxes=["box1", "box2", "box3", "catchall"],
        alias_domains=["example.com", "example.net"],
        extra_settings={"transport_maps": "inline:{ defer.test=smtp:[127.0.0.1]:9 }", "smtpd_delay_reject": "yes"},
        start=False,
    )
    deploy_map(aliasdesk, server, MAP, tmp_path)
    server.start()
    send_traffic(server)
    server.wait_for("catchall", 1)
    server.wait_for("box3", 1)
    # The refused host: let Postfix retry a couple of times (backoff 1-2 s); on a busy machine
    # the retry may wait for a later queue scan, so ask for one (postfix flush).
    def deferred_twice() -> bool:
        return server.maillog().count("status=deferred") >= 2

    if not poll(deferred_twice, 10):
        server.flush()
    assert poll(deferred_twice, 30), server.maillog()
    assert poll(lambda: server.maillog().count("status=bounced") >= 2, 30), server.maillog()
    time.sleep(0.5)
    log = tmp_path / "mail.log"
    shutil.copyfile(server.maillog_path, log)

    expected = grand_totals(pflogsumm(log, exact=True))
    ours = json.loads(aliasdesk.run("logstats", "--json", str(log)).stdout)["totals"]
    assert ours == expected
    assert expected["delivered"] >= 7 and expected["rejected"] >= 2
    assert expected["deferrals"] >= 2 and expected["bounced"] >= 2

    aliasdesk.run("logingest", str(log))
    hosts = shell(aliasdesk, HOSTS)
    assert hosts == {k: expected[k] for k in ("received", "delivered", "deferrals", "bounced", "rejected")}
    usage = shell(aliasdesk, USAGE)
    # received (messages), delivered, deferred (attempts), bounced
    assert usage["info@example.com"] == [3, 6, 0, 0]  # two boxes each; user+ext@ counts on user@
    assert usage["sales@example.com"] == [1, 1, 0, 0]
    assert usage["@example.com"] == [1, 1, 0, 0]
    assert usage["gone@example.com"] == [1, 0, 0, 1]
    assert usage["outside@example.com"] == [1, 0, 0, 1]
    assert usage["slow@example.com"][:2] == [1, 0] and usage["slow@example.com"][2] >= 2
