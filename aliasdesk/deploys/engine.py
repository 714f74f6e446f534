"""The deploy engine: the only code that writes a map Postfix reads.

render → validate → no-op check → drift check → temporary file + fsync →
postmap → verify by querying → atomic rename → record. Any failure leaves the
old files untouched and is recorded with its reason. The CLI, the web and the
agent all call ``deploy_domain``.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from aliasdesk.accounts.models import User
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.render import RenderedMap, render_map
from aliasdesk.aliases.services import expire_aliases
from aliasdesk.deploys import paths
from aliasdesk.deploys.checks import BackgroundCheck, check_rendered, map_diff, verify_sample
from aliasdesk.deploys.models import Deploy
from aliasdesk.postfix.maps import postmap as pm
from aliasdesk.postfix.maps.validate import Finding

TMP_MARK = ".aliasdesk-tmp-"
INTERRUPTED = "interrupted"


class DeployError(Exception):
    """A deploy that did not happen; the message says why."""


@dataclass
class DeployResult:
    domain: str
    status: str
    message: str = ""
    diff: str = ""
    findings: list[Finding] = field(default_factory=list)
    deploy_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in {Deploy.Status.OK, Deploy.Status.NOOP, "dry-run"}


def postmap_config() -> pm.Postmap:
    """postmap as configured. On a host without /etc/postfix/main.cf (a workstation, a
    demo) postmap refuses to run, so a minimal config dir in the data dir stands in."""
    config_dir = settings.POSTFIX_CONFIG_DIR
    if not config_dir and not Path("/etc/postfix/main.cf").exists():
        fallback = Path(settings.DATA_DIR) / "postfix-config"
        if not (fallback / "main.cf").exists():
            fallback.mkdir(parents=True, exist_ok=True)
            (fallback / "main.cf").write_text("# used by aliasdesk's postmap where /etc/postfix/main.cf is absent\n")
        config_dir = str(fallback)
    return pm.Postmap(program=settings.POSTMAP, config_dir=config_dir)


def sha256_file(path: Path) -> str | None:
    """The file's SHA-256, None when it is absent or a symlink (never read through one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    with os.fdopen(fd, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_map_text(path: Path) -> str:
    """The text of a map file, never through a symlink (OSError ELOOP)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


# Lock file descriptors this process holds: a forked child must close its copies, or a
# child outliving a killed deploy would keep the map locked.
HELD_LOCKS: set[int] = set()


@contextmanager
def map_lock(map_path: Path) -> Iterator[None]:
    """Serialize deploys of one map on this host (an advisory lock beside the map)."""
    lock_path = paths.lock_path(map_path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DeployError(f"{lock_path}: the lock file is a symbolic link; aliasdesk never opens one") from exc
        try:
            # a read-only directory: the deploy fails later, clearly
            fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise DeployError(f"cannot lock {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        HELD_LOCKS.add(fd)
        yield
    finally:
        HELD_LOCKS.discard(fd)
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_leftovers(map_path: Path) -> None:
    """Temporary files of a deploy that was killed: nobody reads them, so they can go."""
    prefix = f".{map_path.name}{TMP_MARK}"
    # Berkeley DB builds a new table as __db.<name> and renames it when done.
    leftovers = [*map_path.parent.glob(f"{prefix}*"), *map_path.parent.glob(f"__db.{prefix}*")]
    for leftover in leftovers:
        with suppress(OSError):
            leftover.unlink()


def _prepare_dir(map_path: Path) -> None:
    if map_path.parent.is_dir():
        return
    if map_path.parent == Path(settings.MAP_DIR) or Path(settings.MAP_DIR) in map_path.parents:
        map_path.parent.mkdir(parents=True, exist_ok=True)
        return
    raise DeployError(f"map directory {map_path.parent} does not exist")


def _record(domain: Domain, user: User | None, status: str, **fields: object) -> Deploy:
    return Deploy.objects.create(domain=domain, user=user, status=status, finished_at=timezone.now(), **fields)


def edited_by_hand(domain: Domain, last_finished: datetime.datetime | None) -> bool:
    """Whether the map on disk differs from what aliasdesk last wrote (drift).

    Cheap enough for a list of thousands of domains: only a file changed after the last
    deploy finished is hashed.
    """
    if not domain.deployed_sha256:
        return False
    try:
        mtime = Path(domain.map_path).stat().st_mtime
    except OSError:
        return False
    if last_finished is not None and mtime <= last_finished.timestamp():
        return False
    return sha256_file(Path(domain.map_path)) != domain.deployed_sha256


def _unchanged_on_disk(domain: Domain, map_path: Path) -> bool:
    """The source is what was last deployed, and its compiled table is not older than it
    (a hand edit imported without running postmap leaves a stale table: that is a change)."""
    compiled = pm.compiled_path(map_path, domain.map_type)
    if compiled is not None:
        try:
            if compiled.stat().st_mtime_ns < map_path.stat().st_mtime_ns:
                return False
        except FileNotFoundError:
            return False
    return sha256_file(map_path) == domain.deployed_sha256


def deploy_domain(
    domain: Domain,
    *,
    user: User | None = None,
    dry_run: bool = False,
    force: bool = False,
    record_noop: bool = True,
) -> DeployResult:
    """Deploy one domain's map. Never raises for a failed deploy: the result says why."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        map_path = paths.check_map_path(domain.map_path)
        _prepare_dir(map_path)
    except (DeployError, paths.MapPathError) as exc:
        if not dry_run:
            _record(domain, user, Deploy.Status.FAILED, error=str(exc), forced=force)
        return DeployResult(domain.name, Deploy.Status.FAILED, str(exc))
    if not dry_run:
        expire_aliases(domain)
    try:
        with map_lock(map_path):
            return _deploy_locked(domain, map_path, user, dry_run, force, record_noop, timings, started)
    except DeployError as exc:
        if not dry_run:
            _record(domain, user, Deploy.Status.FAILED, error=str(exc), forced=force)
        return DeployResult(domain.name, Deploy.Status.FAILED, str(exc))


def _deploy_locked(
    domain: Domain,
    map_path: Path,
    user: User | None,
    dry_run: bool,
    force: bool,
    record_noop: bool,
    timings: dict[str, float],
    started: float,
) -> DeployResult:
    if not dry_run:
        _remove_leftovers(map_path)
        Deploy.objects.filter(domain=domain, status=Deploy.Status.RUNNING).update(
            status=Deploy.Status.FAILED, error=INTERRUPTED, finished_at=timezone.now()
        )
    domain.refresh_from_db()
    interrupted = _interrupted_shas(domain)
    if not force and not dry_run and not interrupted and domain.serial == domain.deployed_serial:
        if _unchanged_on_disk(domain, map_path):
            return _noop(domain, user, record_noop, timings, started)
    rendered = render_map(domain)
    timings["render"] = time.monotonic() - started
    return _deploy_rendered(rendered, map_path, user, dry_run, force, record_noop, timings, started, interrupted)


def _interrupted_shas(domain: Domain) -> set[str]:
    """What deploys killed since the last good one were writing.

    A deploy killed between its renames leaves a compiled table and a source that may
    not match each other or the record: the next deploy rebuilds whatever the files
    say, and a source that one of them wrote is not a hand edit.
    """
    last_ok = domain.deploys.filter(status=Deploy.Status.OK).order_by("-id").values_list("id", flat=True).first()
    rows = domain.deploys.filter(status=Deploy.Status.FAILED, error=INTERRUPTED)
    if last_ok is not None:
        rows = rows.filter(id__gt=last_ok)
    return set(rows.values_list("sha256", flat=True))


def _noop(
    domain: Domain, user: User | None, record: bool, timings: dict[str, float], started: float, sha: str = ""
) -> DeployResult:
    timings["total"] = time.monotonic() - started
    deploy_id = None
    if record:
        deploy_id = _record(
            domain,
            user,
            Deploy.Status.NOOP,
            serial=domain.serial,
            sha256=sha or domain.deployed_sha256,
            timings=timings,
        ).pk
    return DeployResult(domain.name, Deploy.Status.NOOP, "unchanged", deploy_id=deploy_id, timings=timings)


def _deploy_rendered(
    rendered: RenderedMap,
    map_path: Path,
    user: User | None,
    dry_run: bool,
    force: bool,
    record_noop: bool,
    timings: dict[str, float],
    started: float,
    interrupted: set[str],
) -> DeployResult:
    domain = rendered.domain
    data = rendered.data
    sha = hashlib.sha256(data).hexdigest()
    disk_sha = sha256_file(map_path)
    drift = disk_sha is not None and disk_sha not in {domain.deployed_sha256, sha, *interrupted}

    if dry_run:
        old = read_map_text(map_path) if disk_sha is not None else ""
        findings, _ = check_rendered(rendered)
        note = "the map on disk was edited by hand since the last deploy (drift)" if drift else ""
        return DeployResult(domain.name, "dry-run", note, map_diff(old, rendered.text, str(map_path)), findings)

    unchanged = sha == domain.deployed_sha256 and disk_sha == sha and _unchanged_on_disk(domain, map_path)
    if not force and not interrupted and unchanged:
        Domain.objects.filter(pk=domain.pk).update(deployed_serial=rendered.serial)
        return _noop(domain, user, record_noop, timings, started, sha)

    if drift and not force:
        old = read_map_text(map_path)
        message = (
            f"{map_path} was changed by hand since the last deploy: "
            "import those edits (aliasdesk import FILE --domain D --replace) or overwrite them (deploy --force)"
        )
        diff = map_diff(old, rendered.text, str(map_path))
        deploy = _record(
            domain, user, Deploy.Status.FAILED, error=message, diff=diff, sha256=sha, serial=rendered.serial
        )
        return DeployResult(domain.name, Deploy.Status.FAILED, message, diff, deploy_id=deploy.pk)

    deploy = Deploy.objects.create(
        domain=domain,
        user=user,
        status=Deploy.Status.RUNNING,
        forced=force,
        serial=rendered.serial,
        sha256=sha,
        started_at=timezone.now(),
        alias_count=rendered.alias_count,
    )
    old_text = read_map_text(map_path) if disk_sha is not None else ""
    try:
        findings, postmap_output, diff = _install(rendered, data, map_path, timings, old_text)
    except DeployError as exc:
        deploy.status = Deploy.Status.FAILED
        deploy.error = str(exc)
        deploy.postmap_output = getattr(exc, "output", "")
        deploy.findings = [f.to_dict() for f in getattr(exc, "findings", [])]
        deploy.finished_at = timezone.now()
        deploy.timings = timings
        deploy.save()
        return DeployResult(domain.name, Deploy.Status.FAILED, str(exc), deploy_id=deploy.pk, timings=timings)
    Domain.objects.filter(pk=domain.pk).update(deployed_serial=rendered.serial, deployed_sha256=sha)
    timings["total"] = time.monotonic() - started
    deploy.status = Deploy.Status.OK
    deploy.diff = diff
    deploy.findings = [f.to_dict() for f in findings]
    deploy.postmap_output = postmap_output
    deploy.finished_at = timezone.now()
    deploy.timings = timings
    deploy.save()
    return DeployResult(domain.name, Deploy.Status.OK, "deployed", diff, findings, deploy.pk, timings)


class InstallFailed(DeployError):
    def __init__(self, message: str, output: str = "", findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.findings = findings or []


def _install(
    rendered: RenderedMap, data: bytes, map_path: Path, timings: dict[str, float], old_text: str
) -> tuple[list[Finding], str, str]:
    """Write, compile, verify and rename into place. Old files stay untouched on any failure.

    postmap, the validation (in a forked child) and the diff run at the same time.
    Returns the findings, postmap's output and the diff against the old file.
    """
    domain = rendered.domain
    postmap = postmap_config()
    tmp = map_path.parent / f".{map_path.name}{TMP_MARK}{os.getpid()}"
    tmp_compiled = pm.compiled_path(tmp, domain.map_type)
    final_compiled = pm.compiled_path(map_path, domain.map_type)
    try:
        mode = map_path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    t = time.monotonic()
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        except OSError as exc:
            raise InstallFailed(f"cannot write {tmp}: {exc.strerror}") from exc
        timings["write"] = time.monotonic() - t
        build = pm.Build(postmap, domain.map_type, tmp) if tmp_compiled is not None else None
        t = time.monotonic()
        check = BackgroundCheck(rendered, settings.VERIFY_SAMPLE, close_in_child=HELD_LOCKS)
        try:
            diff = map_diff(old_text, rendered.text, str(map_path))
            timings["diff"] = time.monotonic() - t
            findings, expected = check.result()
        except BaseException:
            check.cancel()
            if build is not None:
                build.kill()
            raise
        timings["validate"] = time.monotonic() - t
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            if build is not None:
                build.kill()
            raise InstallFailed(f"validation failed: {errors[0].message}", findings=findings)
        output = ""
        t = time.monotonic()
        if build is not None:
            try:
                output = build.wait()
            except pm.PostmapError as exc:
                raise InstallFailed(str(exc), exc.output, findings) from exc
        timings["postmap"] = time.monotonic() - t
        t = time.monotonic()
        try:
            verify_sample(postmap, domain.map_type, tmp, expected)
        except pm.PostmapError as exc:
            raise InstallFailed(f"verification failed: {exc}", exc.output, findings) from exc
        timings["verify"] = time.monotonic() - t
        try:
            if tmp_compiled is not None and final_compiled is not None:
                os.chmod(tmp_compiled, mode)
                os.replace(tmp_compiled, final_compiled)
            os.replace(tmp, map_path)
            _fsync_dir(map_path.parent)
        except OSError as exc:
            raise InstallFailed(f"cannot move the new map into place: {exc.strerror}") from exc
    finally:
        for leftover in (tmp, tmp_compiled):
            if leftover is not None:
                with suppress(OSError):
                    leftover.unlink()
    if domain.map_type == "texthash":
        output += _reload()
    return findings, output, diff


def _reload() -> str:
    """texthash maps are read once at start: Postfix must be told (configured command)."""
    import shlex
    import subprocess

    if not settings.RELOAD_COMMAND:
        return "texthash: no ALIASDESK_RELOAD_COMMAND set; run 'postfix reload' to load the new map\n"
    proc = subprocess.run(shlex.split(settings.RELOAD_COMMAND), capture_output=True, timeout=120)
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode != 0:
        return f"reload command failed (exit {proc.returncode}): {text}"
    return text


def deploy_all(*, user: User | None = None, dry_run: bool = False, force: bool = False) -> list[DeployResult]:
    """Deploy every live domain; unchanged ones are skipped cheaply and not recorded."""
    results = []
    domains = Domain.objects.filter(deleted_at__isnull=True).order_by("name")
    expiring = set(
        Alias.objects.filter(enabled=True, deleted_at__isnull=True, valid_until__lt=timezone.localdate())
        .order_by()
        .values_list("domain_id", flat=True)
        .distinct()
    )
    for domain in domains:
        if not force and not dry_run and domain.serial == domain.deployed_serial and domain.pk not in expiring:
            if _unchanged_on_disk(domain, Path(domain.map_path)):
                results.append(DeployResult(domain.name, Deploy.Status.NOOP, "unchanged"))
                continue
        results.append(deploy_domain(domain, user=user, dry_run=dry_run, force=force, record_noop=False))
    return results
