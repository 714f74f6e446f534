"""Agent mode: deploys are queued per node, and only ``aliasdesk agent`` writes map files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.services import AliasError, create_alias, create_domain, update_alias
from aliasdesk.deploys.agent import Agent
from aliasdesk.deploys.engine import INTERRUPTED, deploy_all, deploy_domain
from aliasdesk.deploys.models import Deploy, Node, NodeMap
from aliasdesk.deploys.nodes import domain_on_nodes, queue_deploy
from tests.conftest import require_postmap
from tests.deploys.helpers import postmap_query

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _agent_mode(aliasdesk_settings):  # type: ignore[no-untyped-def]
    require_postmap()
    aliasdesk_settings.DEPLOY_MODE = "agent"
    aliasdesk_settings.AGENT_HEARTBEAT_SECONDS = 15
    return aliasdesk_settings


def make_domain(map_dir: Path, name: str = "example.com", nodes: list[str] | None = None) -> Domain:
    domain = create_domain(name, map_path=map_dir / name, nodes=nodes)
    create_alias(domain, f"info@{name}", "anna@example.org")
    return domain


def agent(node: str) -> Agent:
    lines: list[str] = []
    found = Agent(node, report=lines.append)
    found.lines = lines  # type: ignore[attr-defined]
    return found


def test_deploy_only_queues_and_touches_no_file(map_dir):
    domain = make_domain(map_dir, nodes=["mx1", "mx2"])
    result = deploy_domain(domain)
    assert result.ok and result.status == "queued"
    assert result.message == "queued for mx1, mx2"
    assert not (map_dir / "example.com").exists() and list(map_dir.iterdir()) == []
    assert sorted(Deploy.objects.filter(status="queued").values_list("node", flat=True)) == ["mx1", "mx2"]


def test_queued_deploys_of_one_domain_and_node_collapse(map_dir):
    alice = User.objects.create_user("alice", role=User.Role.ADMIN)
    domain = make_domain(map_dir, nodes=["mx1"])
    deploy_domain(domain)
    update_alias(Domain.objects.get().aliases.get(), version=1, destinations="ben@example.org")
    deploy_domain(domain, user=alice, force=True)
    deploy_domain(domain)
    queued = Deploy.objects.get(status="queued")
    assert (queued.node, queued.forced, queued.user) == ("mx1", True, alice)
    assert queued.serial == Domain.objects.get().serial


def test_agent_applies_its_queue_with_the_engine(map_dir, postfix_conf):
    domain = make_domain(map_dir, nodes=["mx1"])
    deploy_domain(domain)
    mx1 = agent("mx1")
    assert mx1.round() == 1
    path = map_dir / "example.com"
    assert postmap_query(path, "hash", postfix_conf, "info@example.com") == "anna@example.org"
    deploy = Deploy.objects.get()
    assert (deploy.status, deploy.node, deploy.method, deploy.claimed_by) == ("ok", "mx1", "full", mx1.me)
    installed = NodeMap.objects.get(node__name="mx1")
    domain.refresh_from_db()
    assert installed.deployed_serial == domain.serial == domain.deployed_serial
    assert installed.deployed_sha256 == deploy.sha256
    assert Node.objects.get(name="mx1").last_seen is not None
    assert mx1.round() == 0  # nothing left


def test_a_change_after_the_first_deploy_is_patched_on_the_node(map_dir, postfix_conf):
    domain = make_domain(map_dir, nodes=["mx1"])
    deploy_domain(domain)
    agent("mx1").round()
    alias = domain.aliases.get()
    update_alias(alias, version=alias.version, destinations="carla@example.org")
    deploy_domain(domain)
    agent("mx1").round()
    last = Deploy.objects.order_by("-id").first()
    assert last is not None and (last.status, last.method) == ("ok", "patch")
    assert postmap_query(map_dir / "example.com", "hash", postfix_conf, "info@example.com") == "carla@example.org"


def test_an_agent_deploys_only_what_its_node_carries(map_dir):
    make_domain(map_dir, "a.example", nodes=["mx1"])
    make_domain(map_dir, "b.example", nodes=["mx2"])
    for domain in Domain.objects.all():
        deploy_domain(domain)
    assert agent("mx1").round() == 1
    assert (map_dir / "a.example").exists() and not (map_dir / "b.example").exists()
    assert Deploy.objects.get(domain__name="b.example").status == "queued"


def test_a_domain_naming_no_node_is_carried_by_every_node(map_dir):
    Node.objects.create(name="mx1")
    Node.objects.create(name="mx2")
    domain = make_domain(map_dir)
    assert deploy_domain(domain).message == "queued for mx1, mx2"


def test_with_no_agent_yet_the_first_one_takes_the_deploy(map_dir):
    domain = make_domain(map_dir)
    result = deploy_domain(domain)
    assert "no agent has reported yet" in result.message
    assert agent("mx1").round() == 1
    assert Deploy.objects.get().node == "mx1"
    assert (map_dir / "example.com").exists()


def test_a_new_node_catches_up_on_maps_deployed_before_it_joined(map_dir, tmp_path):
    domain = make_domain(map_dir)
    deploy_domain(domain)
    agent("mx1").round()
    mx2 = agent("mx2")
    mx2.round()
    assert Deploy.objects.filter(node="mx2", status="ok").count() == 1
    assert sorted(NodeMap.objects.values_list("node__name", flat=True)) == ["mx1", "mx2"]
    domain.refresh_from_db()
    assert [(n.node, n.state) for n in domain_on_nodes(domain)] == [("mx1", "current"), ("mx2", "current")]


def test_a_node_that_joined_while_a_deploy_was_queued_for_the_others_catches_up(map_dir):
    """The deploy read its list of nodes just before mx2's row existed, and mx2's first report
    came before that deploy was written: mx2's next report queues the map for it."""
    from aliasdesk.deploys.nodes import queue_deploy

    domain = make_domain(map_dir)
    agent("mx1").heartbeat(force=True)
    mx2 = agent("mx2")
    mx2.heartbeat(force=True)  # first report: nothing to adopt yet
    Deploy.objects.filter(node="mx2").delete()
    queue_deploy(domain, nodes=["mx1"])  # the list read before mx2 joined
    assert not Deploy.objects.filter(node="mx2").exists()
    mx2.heartbeat(force=True)
    assert Deploy.objects.filter(node="mx2", status="queued").count() == 1
    mx2.heartbeat(force=True)  # once only
    assert Deploy.objects.filter(node="mx2").count() == 1


def test_a_domain_is_deployed_only_when_every_carrier_has_it(map_dir):
    domain = make_domain(map_dir, nodes=["mx1", "mx2"])
    deploy_domain(domain)
    agent("mx1").round()
    domain.refresh_from_db()
    assert domain.deployed_serial == 0  # mx2 has not deployed yet
    states = {n.node: n.state for n in domain_on_nodes(domain)}
    assert states == {"mx1": "current", "mx2": "queued"}
    agent("mx2").round()
    domain.refresh_from_db()
    assert domain.deployed_serial == domain.serial


def test_a_deploy_left_running_by_a_dead_agent_is_recorded_and_queued_again(map_dir):
    domain = make_domain(map_dir, nodes=["mx1"])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = f"{agent('mx1').me.rpartition(':')[0]}:{dead.stdout.strip()}"
    stuck = Deploy.objects.create(
        domain=domain, node="mx1", status="running", claimed_by=gone, serial=domain.serial, started_at=timezone.now()
    )
    claimed = Deploy.objects.create(domain=domain, node="mx1", status="queued", claimed_by=gone, serial=domain.serial)
    mx1 = agent("mx1")
    mx1.round()
    stuck.refresh_from_db()
    claimed.refresh_from_db()
    assert (stuck.status, stuck.error) == ("failed", INTERRUPTED)
    assert claimed.status == "ok"  # the released claim, with the retry collapsed into it
    assert (map_dir / "example.com").exists()
    assert any("interrupted" in line for line in mx1.lines)  # type: ignore[attr-defined]


def test_a_live_agents_claim_is_left_alone(map_dir):
    domain = make_domain(map_dir, nodes=["mx1"])
    other = Deploy.objects.create(
        domain=domain, node="mx1", status="queued", claimed_by=agent("mx1").me, serial=domain.serial
    )
    other.claimed_by = other.claimed_by.rpartition(":")[0] + ":1"  # pid 1 is alive
    other.save()
    agent("mx1").round()
    other.refresh_from_db()
    assert other.status == "queued" and other.claimed_by.endswith(":1")


def test_expiry_runs_in_the_agent_and_queues_the_deploy(map_dir, postfix_conf):
    domain = make_domain(map_dir, nodes=["mx1"])
    create_alias(domain, "temp@example.com", "x@example.org", valid_until=timezone.localdate().replace(year=2020))
    mx1 = agent("mx1")
    mx1.round()
    domain.refresh_from_db()
    assert not domain.aliases.get(key="temp@example.com").enabled
    assert Deploy.objects.get().status == "ok"
    assert postmap_query(map_dir / "example.com", "hash", postfix_conf, "temp@example.com") is None


def test_deploy_all_queues_only_domains_not_everywhere_yet(map_dir):
    make_domain(map_dir, "a.example", nodes=["mx1"])
    make_domain(map_dir, "b.example", nodes=["mx1"])
    for domain in Domain.objects.all():
        deploy_domain(domain)
    agent("mx1").round()
    b = Domain.objects.get(name="b.example")
    create_alias(b, "new@b.example", "x@example.org")
    results = {r.domain: r.status for r in deploy_all()}
    assert results == {"a.example": "noop", "b.example": "queued"}


def test_a_preview_in_agent_mode_writes_nothing(map_dir, tmp_path):
    missing = tmp_path / "not-yet"
    domain = create_domain("example.com", map_path=map_dir / "example.com")
    Domain.objects.filter(pk=domain.pk).update(map_path=str(map_dir / "sub" / "example.com"))
    domain.refresh_from_db()
    preview = deploy_domain(domain, dry_run=True)
    assert preview.status == "dry-run"
    assert list(map_dir.iterdir()) == [] and not missing.exists()


def test_node_names_are_checked(map_dir):
    with pytest.raises(AliasError, match="not a node name"):
        create_domain("example.com", map_path=map_dir / "example.com", nodes=["mx 1"])
    assert not Domain.objects.exists()


def test_queue_for_named_nodes_only(map_dir):
    domain = make_domain(map_dir, nodes=["mx1", "mx2"])
    queued = queue_deploy(domain, nodes=["mx2"])
    assert queued.nodes == ["mx2"] and Deploy.objects.get().node == "mx2"


def test_the_settings_name_the_mail_hosts(map_dir):
    from aliasdesk.aliases.domain_services import DomainSettings, SettingsRefused, update_domain_settings

    domain = make_domain(map_dir)
    wanted = DomainSettings(nodes="mx1, mx2\nmx1")
    domain, changed = update_domain_settings(domain, wanted, version=domain.version)
    assert changed and domain.nodes == "mx1\nmx2" and domain.node_names == ["mx1", "mx2"]
    with pytest.raises(SettingsRefused, match="Mail hosts: 'mx/1' is not a node name"):
        update_domain_settings(domain, DomainSettings(nodes="mx/1"), version=domain.version)
    assert Domain.objects.get().nodes == "mx1\nmx2"


def test_the_mail_hosts_page_is_for_admins_and_auditors(map_dir, client):
    domain = make_domain(map_dir, nodes=["mx1", "mx3"])
    deploy_domain(domain)
    agent("mx1").round()
    admin = User.objects.create_user("alice", role=User.Role.ADMIN)
    client.force_login(admin)
    page = client.get("/nodes/").content.decode()
    assert "mx1" in page and "alive" in page and "mx3" in page and "never reported" in page
    preview = client.get("/domains/example.com/deploy").content.decode()
    assert "On the mail hosts" in preview and "queued" in preview and "Deployed" in preview
    editor = User.objects.create_user("bob", role=User.Role.EDITOR)
    client.force_login(editor)
    assert client.get("/nodes/").status_code == 404


def test_a_host_gone_for_good_is_forgotten(map_dir):
    from django.core.management import call_command

    domain = make_domain(map_dir)
    Node.objects.create(name="old")
    deploy_domain(domain)
    Node.objects.create(name="mx1")
    deploy_domain(domain)
    agent("mx1").round()
    domain.refresh_from_db()
    assert domain.deployed_serial == 0  # "old" never installed it
    call_command("node", "forget", "old")
    domain.refresh_from_db()
    assert domain.deployed_serial == domain.serial
    assert Deploy.objects.get(node="old").error == "node old was forgotten"
    assert list(Node.objects.values_list("name", flat=True)) == ["mx1"]


def test_a_node_that_stopped_reporting_is_down_and_catches_up_when_back(map_dir):
    import datetime

    from aliasdesk.deploys.nodes import node_states

    domain = make_domain(map_dir, nodes=["mx1", "mx2"])
    agent("mx2").heartbeat(force=True)
    Node.objects.filter(name="mx2").update(last_seen=timezone.now() - datetime.timedelta(minutes=5))
    deploy_domain(domain)
    agent("mx1").round()
    states = {s.node.name: (s.alive, s.queued) for s in node_states()}
    assert states == {"mx1": (True, 0), "mx2": (False, 1)}
    update_alias(domain.aliases.get(), version=1, destinations="later@example.org")
    deploy_domain(domain)  # while mx2 is down: its two requests are one deploy
    assert Deploy.objects.filter(node="mx2", status="queued").count() == 1
    for path in map_dir.iterdir():  # mx2 is another host: it has no files of mx1's
        path.unlink()
    agent("mx2").round()
    domain.refresh_from_db()
    assert {s.node.name: s.alive for s in node_states()} == {"mx1": True, "mx2": True}
    assert Deploy.objects.get(node="mx2").status == "ok"
    assert domain_on_nodes(domain)[1].state == "current"
