"""A database with a row in every kind of table a move carries, and the awkward values:
keys, names and hosts that differ only in case or accents, microseconds, JSON with
unordered keys, an alias domain pointing at a later domain, a permission named by natural key.

Run in the test process, or in an ``aliasdesk`` environment of its own (a subprocess with
``DJANGO_SETTINGS_MODULE``): ``python -c "from tests.dbmove.sample import main; main()" MAPDIR``.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

PASSWORD = "correct horse battery staple 7"
UTC = datetime.UTC


def make_sample_data(map_dir: Path) -> None:
    from django.contrib.auth.models import Group, Permission
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from aliasdesk.accounts.events import record_event
    from aliasdesk.accounts.models import Grant
    from aliasdesk.accounts.services import add_user
    from aliasdesk.aliases.importer import import_map
    from aliasdesk.aliases.models import Alias, Domain
    from aliasdesk.aliases.services import create_alias, create_domain, update_alias
    from aliasdesk.api.tokens import create_token
    from aliasdesk.deploys.models import Deploy, Node, NodeMap
    from aliasdesk.maillog.models import AliasDay, AliasUsage, DomainHour, HostHour, LogSource, PeerDay, ReasonDay

    alice, _ = add_user("Alice", "admin", password=PASSWORD, email="alice@example.org")
    lower, _ = add_user("alice", "editor", password=PASSWORD + "x")
    rene, _ = add_user("rené", "viewer", password=PASSWORD)
    add_user("rene", "viewer", password=PASSWORD)

    # the alias domain first, so that it points at a domain with a higher id
    later = create_domain("hjolavefsja.is", map_path=map_dir / "hjolavefsja.is", user=alice, nodes=["MX1", "mx1"])
    accented = create_domain("hjólavefsjá.is", map_path=map_dir / "hjólavefsjá.is", user=alice)
    source = map_dir / "example.in"
    source.write_text(
        "# example.com\n"
        "Info@example.com anna@example.org, ben@example.org\n"
        "info@example.com x@example.org\n"  # the duplicate: switched off
        "josé@example.com jose.garcia@example.org\n"
        "# naïve «quotes» \"and\" \\ tab\t!\n"
        "jose@example.com jose@example.org\n"
    )
    example = import_map(source, "example.com", map_file=map_dir / "example.com", user=alice).domain
    Domain.objects.filter(pk=later.pk).update(header="# managed by aliasdesk\npostmaster@hjolavefsja.is root\n")
    keyed = {a.key: a for a in Alias.objects.filter(domain=example)}  # keys compare without case on MariaDB
    info = keyed["Info@example.com"]
    info = update_alias(info, version=info.version, user=alice, destinations="anna@example.org", reason="ticket 7")
    jose = keyed["josé@example.com"]
    update_alias(jose, version=jose.version, user=alice, valid_until=datetime.date(2031, 1, 2))
    create_alias(accented, "@hjólavefsjá.is", "catchall@example.org", user=alice)
    Grant.objects.create(user=lower, domain=example, role=Grant.Role.EDITOR)
    Grant.objects.create(user=rene, domain=accented, role=Grant.Role.VIEWER)

    group = Group.objects.create(name="Mailmasters")
    change = Permission.objects.get(codename="change_user")
    group.permissions.add(change)
    rene.groups.add(group)
    rene.user_permissions.add(change)

    create_token(alice, by=alice, name="deploy script", domains=["example.com"], read_only=True)
    TOTPDevice.objects.create(user=lower, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=lower, name="backup")
    StaticToken.objects.create(device=static, token="abcd1234")
    record_event("user.created", actor=alice, subject=rene, before={"b": 1, "a": [2, {"z": None, "y": 1.5}]})

    at = datetime.datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    Deploy.objects.create(
        domain=example,
        user=alice,
        status=Deploy.Status.OK,
        sha256="ab" * 32,
        diff="+info@example.com\tanna@example.org\n",
        findings=[{"severity": "warning", "message": "ünïcode"}],
        timings={"render": 0.25, "postmap": 1e-06, "total": 12},
        started_at=at,
        finished_at=at + datetime.timedelta(microseconds=1),
    )
    mx1 = Node.objects.create(name="mx1", first_seen=at, agent="mx1:42")
    Node.objects.create(name="MX1")
    NodeMap.objects.create(node=mx1, domain=example, deployed_serial=3, deployed_sha256="cd" * 32)

    LogSource.objects.create(node="mx1", path="/var/log/mail.log", position={"inode": 7, "offset": 99}, lines=10)
    LogSource.objects.create(node="mx1", path="/var/log/Mail.log", in_flight={"Q1": {"to": ["a@b"]}})
    hour = at.replace(minute=0, second=0, microsecond=0)
    HostHour.objects.create(hour=hour, host="mx1", received=3, bytes_received=2**40)
    HostHour.objects.create(hour=hour, host="MX1", delivered=1)
    DomainHour.objects.create(domain=example, hour=hour, received=2)
    AliasDay.objects.create(alias=info, day=datetime.date(2025, 3, 4), received=2, delivered=2)
    AliasUsage.objects.create(alias=info, first_seen=at, last_seen=at, received=2)
    for reason in ("User unknown", "user unknown", "Usér unknown"):
        ReasonDay.objects.create(day=datetime.date(2025, 3, 4), host="mx1", kind="bounced", reason=reason, count=1)
    day = datetime.date(2025, 3, 4)
    for messages, peer in enumerate(("Example.org", "example.org"), 1):
        PeerDay.objects.create(day=day, host="mx1", direction="from", domain=peer, messages=messages)

    Domain.objects.filter(pk=later.pk).update(alias_of=accented)


def main() -> None:
    import django

    django.setup()
    make_sample_data(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
