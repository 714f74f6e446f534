"""End to end: aliasdesk deploys a map and a real Postfix delivers mail where it says.

The aliasdesk tests drive the command as a user would (``migrate``, ``import``,
``deploy``, ``resolve``) against a private data directory, with postmap reading the
test Postfix's configuration directory.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import smtplib
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .postfix_server import MAILBOX_DOMAIN, MAP_TYPES, PostfixError, PostfixServer

if TYPE_CHECKING:
    from .conftest import AliasdeskCLI, PostfixServerFactory

pytestmark = pytest.mark.postfix

SENDER = "sender@sender.test"
DOMAIN = "example.com"
# Lines of the maillog that mean a message was delayed, lost or mishandled.
TROUBLE = re.compile(r"status=(deferred|bounced)|Temporary lookup failure|\b(warning|error|fatal|panic): ")

ALIAS_MAP = """\
# example.com virtual aliases
# kept by aliasdesk

# the front desk reads both boxes
info@example.com       box1@mbox.test, box2@mbox.test
info+urgent@example.com box5@mbox.test
sales@example.com      box3@mbox.test
#off@example.com       box3@mbox.test
user@example.com       box4@mbox.test
support@example.com    info@example.com box5@mbox.test
Billing@Example.COM    box2@mbox.test
team@example.com       box1@mbox.test,
                       box4@mbox.test
info@example.net       box5@mbox.test
@example.com           catchall@mbox.test
"""
ALIAS_DOMAINS = ["example.com", "example.net"]
ALIAS_BOXES = ["box1", "box2", "box3", "box4", "box5", "catchall"]
# Where Postfix delivers mail to each address under ALIAS_MAP, worked out by hand.
EXPECTED_BOXES = {
    "info@example.com": {"box1", "box2"},
    "Info+tag@example.com": {"box1", "box2"},
    "INFO+urgent@example.com": {"box5"},
    "sales@example.com": {"box3"},
    "off@example.com": {"catchall"},
    "user@example.com": {"box4"},
    "User+tag@example.com": {"box4"},
    "support@example.com": {"box1", "box2", "box5"},
    "billing@example.com": {"box2"},
    "team@example.com": {"box1", "box4"},
    "info@example.net": {"box5"},
    "nobody@example.com": {"catchall"},
}


def subjects_by_box(server: PostfixServer) -> dict[str, Counter[str]]:
    """For each box that received mail, how many copies of each subject it holds."""
    return {
        box: Counter(str(message["Subject"]) for message in server.messages(box))
        for box, count in server.mailboxes().items()
        if count
    }


def boxes_by_subject(server: PostfixServer) -> dict[str, list[str]]:
    """For each subject, the boxes holding a copy of it (once per copy)."""
    found: dict[str, list[str]] = defaultdict(list)
    for box, subjects in subjects_by_box(server).items():
        for subject, copies in subjects.items():
            found[subject] += [box] * copies
    return found


def box_of(recipient: str) -> str:
    """The maildir box a final recipient address lands in (``box4+tag@mbox.test`` → box4)."""
    local, _, domain = recipient.strip("<>").rpartition("@")
    if domain.lower() != MAILBOX_DOMAIN:
        return recipient
    return local.split("+", 1)[0].lower()


def resolved_boxes(aliasdesk: AliasdeskCLI, address: str) -> set[str]:
    """The boxes ``aliasdesk resolve ADDRESS --json`` says mail to ADDRESS ends up in."""
    output = aliasdesk.run("resolve", address, "--json").stdout
    try:
        recipients = json.loads(output)["recipients"]
    except (ValueError, KeyError) as exc:
        pytest.fail(f"aliasdesk resolve {address} --json printed no recipients list ({exc}):\n{output}")
    return {box_of(recipient) for recipient in recipients}


def deploy_map(aliasdesk: AliasdeskCLI, server: PostfixServer, map_text: str, tmp_path: Path) -> Path:
    """Import a map file into example.com, kept at the server's map path, and deploy it.

    The data directory is already migrated (see the ``aliasdesk`` fixture). Returns the
    imported file.
    """
    source = tmp_path / "virtual.import"
    source.write_text(map_text)
    aliasdesk.env["ALIASDESK_POSTFIX_CONFIG_DIR"] = str(server.conf_dir)
    aliasdesk.env["ALIASDESK_MAP_TYPE"] = server.map_type
    aliasdesk.run("import", str(source), "--domain", DOMAIN, "--map-file", str(server.map_path))
    aliasdesk.run("deploy", DOMAIN)
    return source


def assert_map_holds_entries_of(server: PostfixServer, source: Path) -> None:
    """The deployed map answers every key of ``source`` as postmap would have built it."""
    reference = source.with_name(source.name + ".reference")
    shutil.copyfile(source, reference)
    server.postmap(reference, "hash")
    expected = {key: split_destinations(value) for key, value in server.postmap_s(f"hash:{reference}").items()}
    if server.map_type == "cdb":  # a cdb cannot list its entries: ask for each one
        deployed = {key: split_destinations(server.postmap_q(key) or "") for key in expected}
    else:
        deployed = {key: split_destinations(value) for key, value in server.postmap_s().items()}
    assert deployed == expected, "the deployed map differs from postmap's reading of the imported file"


def split_destinations(value: str) -> list[str]:
    return [address for address in re.split(r"[\s,]+", value) if address]


def test_harness_delivers_through_handwritten_map(postfix_server: PostfixServerFactory) -> None:
    server = postfix_server(mailboxes=["box1", "box2", "box3", "catchall"], start=False)
    server.map_path.write_text(
        "info@example.com   box1@mbox.test, box2@mbox.test\n"
        "sales@example.com  box3@mbox.test\n"
        "@example.com       catchall@mbox.test\n"
    )
    server.postmap()
    server.start()

    assert server.postmap_q("info@example.com") == "box1@mbox.test, box2@mbox.test"
    assert server.postmap_q("nobody@nowhere.test") is None
    server.send(SENDER, ["info@example.com"], "to info")
    server.send(SENDER, ["Info+tag@example.com"], "to info plus tag")
    server.send(SENDER, ["sales@example.com"], "to sales")
    server.send(SENDER, ["nobody@example.com"], "to nobody")
    server.wait_for("catchall", 1)
    server.wait_until_idle()

    assert subjects_by_box(server) == {
        "box1": Counter({"to info": 1, "to info plus tag": 1}),
        "box2": Counter({"to info": 1, "to info plus tag": 1}),
        "box3": Counter({"to sales": 1}),
        "catchall": Counter({"to nobody": 1}),
    }
    assert "status=sent" in server.maillog()


def test_harness_rejects_unknown_user_without_catch_all(postfix_server: PostfixServerFactory) -> None:
    server = postfix_server(mailboxes=["box1"], start=False)
    server.map_path.write_text("info@example.com box1@mbox.test\n")
    server.postmap()
    server.start()

    with pytest.raises(smtplib.SMTPRecipientsRefused, match="User unknown in virtual alias table"):
        server.send(SENDER, ["nobody@example.com"], "to nobody")


def test_harness_reports_why_postfix_cannot_start(postfix_server: PostfixServerFactory) -> None:
    server = postfix_server(mailboxes=["box1"], extra_settings={"daemon_directory": "/nonexistent"}, start=False)
    server.map_path.write_text("@example.com box1@mbox.test\n")
    server.postmap()

    with pytest.raises(PostfixError, match=r"(?s)postfix check failed .*chdir\(/nonexistent\)"):
        server.start()
    assert not server.running


def test_harness_refuses_to_start_without_compiled_map(postfix_server: PostfixServerFactory) -> None:
    server = postfix_server(mailboxes=["box1"], start=False)

    with pytest.raises(PostfixError, match=r"no .*virtual\.db: compile hash:"):
        server.start()


def deliver_one_each(server: PostfixServer, addresses: Iterable[str]) -> dict[str, list[str]]:
    """Send one message to each address (its subject) and wait until all are delivered."""
    for address in addresses:
        server.send(SENDER, [address], address)
    server.wait_until_idle()
    delivered = boxes_by_subject(server)
    duplicates = {address: boxes for address, boxes in delivered.items() if len(boxes) != len(set(boxes))}
    assert not duplicates, "Postfix delivered a message twice to one box"
    assert not [line for line in server.maillog().splitlines() if TROUBLE.search(line)]
    return delivered


@pytest.mark.parametrize("map_type", MAP_TYPES)
def test_imported_map_deploys_and_delivers_as_written(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path, map_type: str
) -> None:
    server = postfix_server(mailboxes=ALIAS_BOXES, alias_domains=ALIAS_DOMAINS, map_type=map_type, start=False)
    source = deploy_map(aliasdesk, server, ALIAS_MAP, tmp_path)
    assert_map_holds_entries_of(server, source)
    assert server.postmap_q("off@example.com") is None
    assert aliasdesk.run("export", DOMAIN).stdout == server.map_path.read_text()
    server.start()

    delivered = deliver_one_each(server, EXPECTED_BOXES)

    assert {address: set(boxes) for address, boxes in delivered.items()} == EXPECTED_BOXES


# resolve reads the database, not the compiled map: one map type is enough.
def test_resolve_names_the_boxes_postfix_delivers_to(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path
) -> None:
    server = postfix_server(mailboxes=ALIAS_BOXES, alias_domains=ALIAS_DOMAINS, start=False)
    deploy_map(aliasdesk, server, ALIAS_MAP, tmp_path)
    server.start()

    delivered = deliver_one_each(server, EXPECTED_BOXES)
    with ThreadPoolExecutor(max_workers=4) as pool:  # each resolve is a Django start-up
        resolved = dict(zip(EXPECTED_BOXES, pool.map(partial(resolved_boxes, aliasdesk), EXPECTED_BOXES), strict=True))

    assert resolved == {address: set(boxes) for address, boxes in delivered.items()}


def test_quoted_local_part_with_blank_delivers_where_resolve_says(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path
) -> None:
    server = postfix_server(mailboxes=["box1", "catchall"], start=False)
    source = tmp_path / "quoted"
    source.write_text('"John Doe"@example.com box1@mbox.test\n@example.com catchall@mbox.test\n')
    aliasdesk.env["ALIASDESK_POSTFIX_CONFIG_DIR"] = str(server.conf_dir)
    aliasdesk.run("import", str(source), "--domain", DOMAIN, "--map-file", str(server.map_path))
    deploy = aliasdesk.run("deploy", DOMAIN, check=False)
    assert deploy.returncode == 0, deploy.stderr
    server.start()

    server.send(SENDER, ['"John Doe"@example.com'], "to john")
    server.wait_until_idle()

    assert subjects_by_box(server) == {"box1": Counter({"to john": 1})}
    assert resolved_boxes(aliasdesk, '"John Doe"@example.com') == {"box1"}


# -- redeploys while mail flows ------------------------------------------------------

FLOW_ADDRESS = "flow@example.com"
FLOW_BOXES = ["box1", "box2", "box3", "catchall"]
# Successive versions of the domain: where flow@ delivers, and which other aliases exist.
FLOW_VERSIONS: list[tuple[str, dict[str, str]]] = [
    ("box1", {}),
    ("box2", {"new1@example.com": "box3"}),
    ("box3", {"new1@example.com": "box3", "new2@example.com": "box1"}),
    ("box1", {"new2@example.com": "box2", "new3@example.com": "box3"}),
]
MESSAGES_PER_VERSION = 25  # sent while each version is live and nothing is being deployed
DEPLOY_PACE = 0.02  # seconds between messages while a deploy runs: steady traffic, not a flood
MIN_MESSAGES = 200


def flow_map(version: int) -> str:
    box, others = FLOW_VERSIONS[version]
    lines = [f"# flow test, version {version}", "", f"{FLOW_ADDRESS} {box}@{MAILBOX_DOMAIN}"]
    lines += [f"{key} {target}@{MAILBOX_DOMAIN}" for key, target in others.items()]
    lines.append(f"@{DOMAIN} catchall@{MAILBOX_DOMAIN}")
    return "\n".join(lines) + "\n"


@dataclass
class FlowSender:
    """Sends numbered messages to FLOW_ADDRESS from a thread, noting the deploy epoch.

    ``epoch`` is even while a version is live and odd while its successor is deployed.
    A message whose sending began and ended in the same even epoch must reach that
    version's box; one that overlapped a deploy may reach either version's box. In an
    even epoch the sender stops after ``quota`` messages (the map is not changing: more
    mail would only load the machine); during a deploy it sends at a steady pace.
    """

    server: PostfixServer
    epoch: int = 0
    sent: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, epoch before, epoch after)
    failures: list[str] = field(default_factory=list)
    quota: int = MESSAGES_PER_VERSION
    done: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        try:
            for seq in itertools.count():
                with self.changed:
                    self.changed.wait_for(lambda: self.done or not self._quota_reached())
                    if self.done or len(self.failures) > 10:
                        return
                    before = self.epoch
                try:
                    self.server.send(SENDER, [FLOW_ADDRESS], f"flow {seq}")
                except (OSError, smtplib.SMTPException) as exc:
                    with self.changed:
                        self.failures.append(f"message {seq}: {exc!r}")
                    continue
                with self.changed:
                    self.sent.append((seq, before, self.epoch))
                    self.changed.notify_all()
                    if self.epoch % 2:
                        self.changed.wait_for(lambda: self.done or self.epoch % 2 == 0, timeout=DEPLOY_PACE)
        finally:
            with self.changed:
                self.done = True
                self.changed.notify_all()

    def _stable_count(self) -> int:
        return sum(1 for _, before, after in self.sent if before == after == self.epoch)

    def _quota_reached(self) -> bool:
        return self.epoch % 2 == 0 and self._stable_count() >= self.quota

    def wait_for_quota(self, quota: int = MESSAGES_PER_VERSION, timeout: float = 30) -> None:
        """Wait until the live version has received ``quota`` messages."""
        with self.changed:
            self.quota = quota
            self.changed.notify_all()
            settled = self.changed.wait_for(lambda: self._quota_reached() or self.done, timeout)
            assert not self.failures, f"Postfix refused mail: {self.failures}"
            assert settled and not self.done, f"the sender stalled after {len(self.sent)} messages"

    def set_epoch(self, epoch: int) -> None:
        with self.changed:
            self.epoch = epoch
            self.changed.notify_all()

    def finish(self) -> None:
        with self.changed:
            self.done = True
            self.changed.notify_all()


# cdb is left out to keep the suite quick: postmap itself builds a cdb under a temporary
# name and renames it into place, so it is the least exposed to a half-built map.
@pytest.mark.parametrize("map_type", ["hash", "lmdb"])
def test_redeploys_while_mail_flows_lose_no_message(
    postfix_server: PostfixServerFactory, aliasdesk: AliasdeskCLI, tmp_path: Path, map_type: str
) -> None:
    server = postfix_server(mailboxes=FLOW_BOXES, map_type=map_type, start=False)
    deploy_map(aliasdesk, server, flow_map(0), tmp_path)
    server.start()
    sender = FlowSender(server)
    thread = threading.Thread(target=sender.run, name="flow-sender", daemon=True)
    thread.start()
    try:
        for version in range(1, len(FLOW_VERSIONS)):
            sender.wait_for_quota()
            edited = tmp_path / f"virtual.v{version}"
            edited.write_text(flow_map(version))
            aliasdesk.run("import", str(edited), "--domain", DOMAIN, "--replace")
            sender.set_epoch(2 * version - 1)
            aliasdesk.run("deploy", DOMAIN)
            sender.set_epoch(2 * version)
        sender.wait_for_quota(max(MESSAGES_PER_VERSION, MIN_MESSAGES - len(sender.sent)))
    finally:
        sender.finish()
        thread.join(timeout=60)
    assert not sender.failures, f"Postfix refused mail during the redeploys: {sender.failures}"
    assert len(sender.sent) >= MIN_MESSAGES
    deploy_epochs = set(range(1, 2 * len(FLOW_VERSIONS) - 1, 2))
    assert deploy_epochs <= {before for _, before, _ in sender.sent}, "a deploy ran while no mail was being sent"
    server.wait_until_idle(timeout=30)

    delivered = boxes_by_subject(server)
    wrong: list[str] = []
    for seq, before, after in sender.sent:
        boxes = delivered.pop(f"flow {seq}", [])
        # Even epoch e: version e/2 is live; odd e: a deploy from version e//2 to the next runs.
        allowed = {FLOW_VERSIONS[version][0] for version in range(before // 2, (after + 1) // 2 + 1)}
        if len(boxes) != 1 or boxes[0] not in allowed:
            wrong.append(f"flow {seq} (epochs {before}..{after}) in {boxes or 'no box'}, expected one of {allowed}")
    assert not wrong, f"{len(wrong)} of {len(sender.sent)} messages went astray:\n" + "\n".join(wrong[:20])
    assert not delivered, f"unexpected messages: {sorted(delivered)[:10]}"
    assert not [line for line in server.maillog().splitlines() if TROUBLE.search(line)]
    final_box, final_others = FLOW_VERSIONS[-1]
    assert server.postmap_q(FLOW_ADDRESS) == f"{final_box}@{MAILBOX_DOMAIN}"
    assert server.postmap_q("new1@example.com") is None
    for key, box in final_others.items():
        assert server.postmap_q(key) == f"{box}@{MAILBOX_DOMAIN}"
