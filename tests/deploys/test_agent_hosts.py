"""Agents as they run on mail hosts: separate processes, each host its own files at the same
map path (a mount namespace per agent), one PostgreSQL; a web process that may not write the
map directory; an agent killed in the middle of a deploy and started again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, require_postmap
from tests.deploys.helpers import postmap_query
from tests.test_cli import CLI, _postgres_url

pytestmark = [pytest.mark.postfix]

NOBODY = 65534


def _env(tmp_path: Path, postfix_conf: Path, url: str | None, maps: Path) -> dict[str, str]:
    (tmp_path / "data").mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        ALIASDESK_DATA_DIR=str(tmp_path / "data"),
        ALIASDESK_POSTFIX_CONFIG_DIR=str(postfix_conf),
        ALIASDESK_MAP_DIRS=str(maps),
        ALIASDESK_DEPLOY_MODE="agent",
        ALIASDESK_AGENT_POLL_SECONDS="0.2",
        ALIASDESK_AGENT_HEARTBEAT_SECONDS="1",
        ALIASDESK_SECRET_KEY="test-agent-hosts",
        PYTHONPATH=str(REPO),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("ALIASDESK_DATABASE_URL", None)
    if url:
        env["ALIASDESK_DATABASE_URL"] = url
    return env


@pytest.fixture
def postgres() -> Iterator[str]:
    gen = _postgres_url()
    yield next(gen)
    next(gen, None)


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def _wait(what: str, check, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Host:
    """One mail host: an agent in its own mount namespace, where ``shared`` is ``own``."""

    def __init__(self, node: str, own: Path, shared: Path, env: dict[str, str]) -> None:
        self.node, self.own = node, own
        own.mkdir()
        agent = f"mount --bind {own} {shared} && exec {sys.executable} -m aliasdesk agent --node {node}"
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", agent],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out


def test_two_agents_on_one_postgres_each_deploy_at_the_same_path(tmp_path, postfix_conf, postgres):
    require_postmap()
    if not _can_unshare():
        pytest.skip("needs root and mount namespaces (unshare -m)")
    shared = tmp_path / "maps"
    shared.mkdir()
    env = _env(tmp_path, postfix_conf, postgres, shared)
    cli = CLI(env)
    cli("migrate", "--verbosity", "0")
    src = tmp_path / "in"
    src.write_text("info@example.com\tanna@example.org\nsales@example.com\tben@example.org\n")
    cli("domain", "add", "example.com", "--map-file", str(shared / "example.com"))
    cli("import", str(src), "--domain", "example.com")
    hosts = [Host("mx1", tmp_path / "mx1", shared, env), Host("mx2", tmp_path / "mx2", shared, env)]
    try:
        queued = cli("deploy", "example.com")
        assert "queued" in queued.stdout and not (shared / "example.com").exists()
        for host in hosts:
            path = host.own / "example.com"
            _wait(f"{host.node}'s map", lambda p=path: postmap_query(p, "hash", postfix_conf, "info@example.com"), 120)
        # A change with deploy on save goes live on both hosts by itself (LISTEN/NOTIFY).
        change = (
            "from aliasdesk.aliases.models import Alias, Domain; from aliasdesk.aliases.services import update_alias; "
            "Domain.objects.update(deploy_on_save=True); a = Alias.objects.get(key='info@example.com'); "
            "update_alias(a, version=a.version, destinations='carla@example.org')"
        )
        cli("shell", "-c", change)
        for host in hosts:
            path = host.own / "example.com"
            answer = lambda p=path: postmap_query(p, "hash", postfix_conf, "info@example.com")  # noqa: E731
            _wait(f"the change on {host.node}", lambda a=answer: a() == "carla@example.org", timeout=60)
        names = "from aliasdesk.deploys.models import Node; print(sorted(Node.objects.values_list('name', flat=True)))"
        nodes = cli("shell", "-c", names)
        assert nodes.stdout.strip().endswith("['mx1', 'mx2']")
    finally:
        logs = [host.stop() for host in hosts]
    for log in logs:
        assert "example.com: ok" in log, log


def test_the_web_without_write_access_queues_and_the_agent_deploys(tmp_path, postfix_conf, postgres):
    require_postmap()
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the web as another user")
    maps = tmp_path / "maps"
    maps.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(maps, 0o755)  # the map owner (root here) writes; others only read
    env = _env(tmp_path, postfix_conf, postgres, maps)
    cli = CLI(env)
    cli("migrate", "--verbosity", "0")
    cli("domain", "add", "example.com", "--map-file", str(maps / "example.com"), "--node", "mx1")
    src = tmp_path / "in"
    src.write_text("info@example.com\tanna@example.org\n")
    cli("import", str(src), "--domain", "example.com")
    web = """
import os, django
django.setup()
from django.test import Client
from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
assert not os.access(Domain.objects.get().map_path.rsplit("/", 1)[0], os.W_OK)
Domain.objects.update(deploy_on_save=True)
user = User.objects.create_user("alice", role=User.Role.ADMIN)
client = Client()
client.force_login(user)
alias = Alias.objects.get()
data = {"key": alias.key, "destinations": "carla@example.org", "enabled": "on", "version": alias.version}
response = client.post(f"/domains/example.com/aliases/{alias.pk}/edit", data, HTTP_HX_REQUEST="true")
assert response.status_code == 200, response.status_code
assert b"deploy queued for mx1" in response.content, response.content[-600:]
preview = client.get("/domains/example.com/deploy")
assert preview.status_code == 200 and b"On the mail hosts" in preview.content
assert client.get("/nodes/").status_code == 200
print("web ok")
"""
    web_env = dict(env, DJANGO_SETTINGS_MODULE="aliasdesk.settings", ALIASDESK_ALLOWED_HOSTS="testserver")
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    proc = subprocess.run(
        [*as_nobody, sys.executable, "-c", web], env=web_env, cwd="/", capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "web ok" in proc.stdout, proc.stdout + proc.stderr
    assert not (maps / "example.com").exists()
    out = cli("agent", "--once", "--node", "mx1").stdout
    assert "example.com: ok" in out
    assert postmap_query(maps / "example.com", "hash", postfix_conf, "info@example.com") == "carla@example.org"


def test_an_agent_killed_mid_deploy_leaves_a_whole_map_and_the_deploy_is_retried(tmp_path, postfix_conf):
    require_postmap()
    maps = tmp_path / "maps"
    maps.mkdir()
    env = _env(tmp_path, postfix_conf, None, maps)
    cli = CLI(env)
    cli("migrate", "--verbosity", "0")
    cli("domain", "add", "example.com", "--map-file", str(maps / "example.com"), "--node", "mx1")
    src = tmp_path / "in"
    src.write_text("".join(f"user{i}@example.com\told{i}@example.org\n" for i in range(2000)))
    cli("import", str(src), "--domain", "example.com")
    cli("deploy", "example.com")
    cli("agent", "--once", "--node", "mx1")
    path = maps / "example.com"
    assert postmap_query(path, "hash", postfix_conf, "user7@example.com") == "old7@example.org"
    cli("shell", "-c", "from aliasdesk.aliases.models import Domain; Domain.objects.update(header='# new header')")
    cli("deploy", "example.com", "--force")
    crash = [sys.executable, str(REPO / "tests" / "deploys" / "crashpoint.py"), "after-replace", str(path)]
    killed = subprocess.run(
        [*crash, "agent", "--once", "--node", "mx1"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    # Killed between its renames: Postfix still reads a whole map.
    assert postmap_query(path, "hash", postfix_conf, "user7@example.com") == "old7@example.org"
    states = (
        "from aliasdesk.deploys.models import Deploy; "
        "print([(d.status, d.error) for d in Deploy.objects.order_by('id')])"
    )
    assert "'running'" in cli("shell", "-c", states).stdout
    out = cli("agent", "--once", "--node", "mx1").stdout
    assert "interrupted" in out and "example.com: ok" in out, out
    final = cli("shell", "-c", states).stdout
    assert "('failed', 'interrupted')" in final and final.strip().endswith("('ok', '')]"), final
    assert path.read_text().startswith("# new header\n")
    assert postmap_query(path, "hash", postfix_conf, "user1999@example.com") == "old1999@example.org"
