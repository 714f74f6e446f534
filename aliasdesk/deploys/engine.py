"""The deploy engine: the only code that writes a map Postfix reads.

One ``MapDeploy`` per deploy: snapshot → new text (a patch of the deployed map when few
aliases changed, see ``incremental``, else a full render) → no-op check → drift check →
install (``install.MapFiles``: temporary files + fsync, postmap, verify by querying,
atomic renames) → record. Any failure leaves the old files untouched and is recorded with
its reason. The CLI and the web call ``deploy_domain``.
"""

from __future__ import annotations

import gc
import hashlib
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aliasdesk.accounts.models import User
from aliasdesk.aliases import paths
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.deploys import reasons, standby
from aliasdesk.deploys.files import (
    DeployError,
    DiskState,
    files_stamp,
    map_lock,
    prepare_dir,
    remove_leftovers,
)
from aliasdesk.deploys.install import MapFiles, sha256_pieces
from aliasdesk.deploys.models import Deploy
from aliasdesk.deploys.nodes import agent_mode, queue_deploy
from aliasdesk.deploys.reasons import reason
from aliasdesk.deploys.signals import deploy_finished
from aliasdesk.postfix.maps import postmap as pm

if TYPE_CHECKING:
    from aliasdesk.aliases.render import RenderedMap
    from aliasdesk.deploys.incremental import PatchPlan
    from aliasdesk.postfix.maps.validate import Finding

# Rendering, checking and patching are imported where a deploy needs them: a deploy that
# finds nothing to do (every `deploy --all` from a timer, mostly) starts ~60 ms sooner.

INTERRUPTED = "interrupted"


@dataclass
class DeployResult:
    domain: str
    status: str
    message: str = ""
    diff: str = ""
    findings: list[Finding] = field(default_factory=list)
    deploy_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    drift: bool = False  # the map on disk was edited by hand since the last deploy
    method: str = ""  # Deploy.Method of an installed map
    why_full: str = ""  # why it was built whole although only rows changed

    @property
    def ok(self) -> bool:
        return self.status in {Deploy.Status.OK, Deploy.Status.NOOP, Deploy.Status.QUEUED, "dry-run"}

    def to_dict(self) -> dict[str, object]:
        """The result as `deploy --json` prints it and the API answers it."""
        return {
            "domain": self.domain,
            "status": self.status,
            "message": self.message,
            "deploy_id": self.deploy_id,
            "method": self.method,  # "patch" or "full" for an installed map, "" otherwise
            "why_full": self.why_full,  # why a change of a few rows was built whole
            "drift": self.drift,  # the map on disk was edited by hand since the last deploy
            "findings": [f.to_dict() for f in self.findings],
            "diff": self.diff,
            "timings": self.timings,
        }


def save_outcome(deploy: Deploy, *, drift: bool = False) -> Deploy:
    """Save a deploy's outcome and announce it (``deploy_finished``) in one transaction, so
    what listens (the webhooks' outbox) is written with it or not at all."""
    with transaction.atomic():
        deploy.save()
        deploy_finished.send(sender=Deploy, deploy=deploy, drift=drift)
    return deploy


def _record(domain: Domain, user: User | None, status: str, *, drift: bool = False, **fields: object) -> Deploy:
    deploy = Deploy(domain=domain, user=user, status=status, finished_at=timezone.now(), **fields)
    return save_outcome(deploy, drift=drift)


def _finish(record: Deploy, status: str, *, drift: bool = False, **fields: object) -> Deploy:
    """Close a queued deploy's own record (an agent's deploy) with its outcome."""
    for name, value in fields.items():
        setattr(record, name, value)
    record.status, record.finished_at = status, timezone.now()
    return save_outcome(record, drift=drift)


@dataclass
class Target:
    """What this deploy would install: the new text and how it was made."""

    method: str  # Deploy.Method
    alias_count: int
    rendered: RenderedMap | None = None  # a full render
    patch: PatchPlan | None = None  # or a patch of the deployed map
    why_full: str = ""
    build: pm.StreamBuild | None = None  # postmap, started on the text while it was rendered

    @property
    def data(self) -> bytes:
        if self.patch is not None:
            return self.patch.new
        assert self.rendered is not None
        return self.rendered.data

    @cached_property
    def sha(self) -> str:
        if self.patch is not None:
            return sha256_pieces(self.patch.pieces())
        return hashlib.sha256(self.data).hexdigest()


class MapDeploy:
    """One deploy of one domain: its inputs, the snapshot it works from, what it found, the outcome.

    render (or plan a patch) -> validate -> no-op? -> drift? -> write + postmap (or copy +
    patch the table) -> verify by querying -> atomic renames -> record. Any failure leaves
    the old files untouched and is recorded with its reason.
    """

    def __init__(
        self,
        domain: Domain,
        *,
        user: User | None,
        dry_run: bool,
        force: bool,
        record_noop: bool,
        background: bool = False,
        node: str = "",
        record: Deploy | None = None,
    ) -> None:
        self.domain, self.user = domain, user
        # An agent applies a queued deploy for its node: the node's own deployed state and
        # the queued record instead of the domain's (see deploys.nodes).
        self.node, self.record = node, record
        self.dry_run, self.force, self.record_noop = dry_run, force, record_noop
        self.background = background  # leave freeing old files and the next spare to a thread
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self.interrupted: set[str] = set()
        self.map_path = Path(domain.map_path)
        self.disk = DiskState()
        self.files: MapFiles  # the map's files, once its path is checked (see _run)
        self.drift = False  # refused: the map on disk was edited by hand (told to deploy_finished)

    # -- outcome --------------------------------------------------------------------------

    def _mark(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.timings[name] = now - since
        return now

    def _record(self, status: str, **fields: object) -> Deploy:
        if self.record is not None:
            return _finish(self.record, status, drift=self.drift, **fields)
        return _record(self.domain, self.user, status, drift=self.drift, **fields)

    def _failed(self, message: str, **fields: object) -> DeployResult:
        deploy_id = None
        if not self.dry_run:
            status = Deploy.Status.FAILED
            deploy_id = self._record(status, error=message, forced=self.force, **fields).pk
        diff = str(fields.get("diff", ""))
        return DeployResult(self.domain.name, Deploy.Status.FAILED, message, diff, deploy_id=deploy_id)

    def _noop(self, target: Target | None) -> DeployResult:
        if target is not None:  # changed, then changed back: the rows are what is deployed
            self._save_installed(deployed_serial=self.serial)
        self.timings["total"] = time.monotonic() - self.started
        deploy_id = None
        if self.record_noop or self.record is not None:
            deploy_id = self._record(
                Deploy.Status.NOOP,
                serial=self.serial,
                sha256=self.domain.deployed_sha256,
                timings=self.timings,
            ).pk
        status = Deploy.Status.NOOP
        return DeployResult(self.domain.name, status, _("unchanged"), deploy_id=deploy_id, timings=self.timings)

    # -- the steps ------------------------------------------------------------------------

    def run(self) -> DeployResult:
        """Never raises for a failed deploy: the result says why.

        The garbage collector rests meanwhile: a big map's millions of rows and strings
        hold no cycles, and its passes over them would cost as much as the checks.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def _run(self) -> DeployResult:
        # A preview in agent mode reads what it can and writes nothing: the map files belong
        # to the agents, and this process may not be allowed to create or lock anything there.
        hands_off = self.dry_run and agent_mode()
        try:
            self.map_path = paths.check_map_path(self.domain.map_path)
            self.files = MapFiles(self.map_path, self.domain.map_type, self._mark, background=self.background)
            if not hands_off:
                prepare_dir(self.map_path)
        except (DeployError, paths.MapPathError) as exc:
            return self._failed(str(exc))
        if not self.dry_run and Alias.expiring_ids(self.domain.pk):
            from aliasdesk.aliases.services import expire_aliases

            expire_aliases(self.domain)
        try:
            with nullcontext() if hands_off else map_lock(self.map_path):
                return self._locked()
        except DeployError as exc:
            return self._failed(str(exc))
        finally:
            # Spares serve the next patch, of the table and of the text it wrote.
            installed = self.files.installed
            spares = [installed, self.map_path] if installed and self.domain.map_type in PATCHABLE else []
            lock = paths.lock_path(self.map_path)
            standby.after_deploy(spares, self.files.graves, background=self.background, lock=lock)

    def _locked(self) -> DeployResult:
        domain = self.domain
        if not self.dry_run:
            remove_leftovers(self.map_path)
            if (table := pm.compiled_path(self.map_path, domain.map_type)) is not None:
                standby.remove_stale(table)
            standby.remove_stale(self.map_path)
            # Under the map lock nobody else is running a deploy of this map here.
            running = Deploy.objects.filter(domain=domain, node=self.node, status=Deploy.Status.RUNNING)
            if self.record is not None:
                running = running.exclude(pk=self.record.pk)
            running.update(status=Deploy.Status.FAILED, error=INTERRUPTED, finished_at=timezone.now())
        domain.refresh_from_db()
        self._load_installed(domain)
        self.serial = domain.serial
        self.interrupted = _interrupted_shas(domain, self.node)
        t = self._mark("start", self.started)
        self.disk = DiskState(self.map_path, domain.map_type, domain.deployed_table, domain.deployed_sha256)
        t = self._mark("read", t)
        target = None
        try:
            if self.force or self.dry_run or self.interrupted or domain.serial != domain.deployed_serial:
                target = self._target()
            # The one place that decides there is nothing to do.
            if self._unchanged(target):
                return self._noop(target)
            if target is None:
                target = self._target()
            return self._decide(target)
        finally:
            if target is not None and target.build is not None:
                self.files.drop_stream(target.build)

    def _decide(self, target: Target) -> DeployResult:
        domain = self.domain
        drift = self._drift(target)
        if self.dry_run:
            return self._preview(target, drift)
        if drift and not self.force:
            from aliasdesk.deploys.checks import map_diff

            message = _(
                "%(map)s was changed by hand since the last deploy: "
                "import those edits (aliasdesk import FILE --domain D --replace) or overwrite them (deploy --force)"
            ) % {"map": self.map_path}
            diff = map_diff(self.disk.text, target.data.decode("utf-8"), str(self.map_path))
            self.drift = True
            deploy = self._record(Deploy.Status.FAILED, error=message, diff=diff, sha256=target.sha, serial=self.serial)
            return DeployResult(domain.name, Deploy.Status.FAILED, message, diff, deploy_id=deploy.pk, drift=True)
        return self._install(target)

    def _running(self, *, method: str, why_full: str, alias_count: int, sha256: str = "") -> Deploy:
        """The Deploy record of this install, running: the queued one (an agent's), the one
        started before an early build, or a new one."""
        fields = {
            "status": Deploy.Status.RUNNING,
            "forced": self.force,
            "method": method,
            "why_full": why_full[:255],
            "serial": self.serial,
            "sha256": sha256,
            "alias_count": alias_count,
        }
        if self.record is None:
            self.record = Deploy.objects.create(
                domain=self.domain, user=self.user, started_at=timezone.now(), **fields
            )
            return self.record
        if self.record.status != Deploy.Status.RUNNING:
            self.record.started_at = timezone.now()
        for name, value in fields.items():
            setattr(self.record, name, value)
        self.record.save()
        return self.record

    def _load_installed(self, domain: Domain) -> None:
        """An agent works from what its own node has installed, not from the domain's row."""
        if self.node:
            from aliasdesk.deploys.nodes import load_installed

            load_installed(domain, self.node)

    def _save_installed(self, **fields: object) -> None:
        if self.node:
            from aliasdesk.deploys.nodes import save_installed

            save_installed(self.domain, self.node, **fields)
        else:
            Domain.objects.filter(pk=self.domain.pk).update(**fields)

    def _unchanged(self, target: Target | None) -> bool:
        """Whether the files are what the last deploy installed and the map has not changed since."""
        deployed = self.domain.deployed_sha256
        if self.force or self.dry_run or self.interrupted or not self.disk.is_deployed(deployed):
            return False
        if target is None:
            return True
        if target.patch is not None:  # a patch starts from the deployed text: no hash needed
            return target.patch.unchanged
        return target.sha == deployed

    def _drift(self, target: Target) -> bool:
        """The text on disk is neither what was deployed, nor what a killed deploy wrote, nor the new map."""
        sha = self.disk.sha
        if sha is None or sha == self.domain.deployed_sha256 or sha in self.interrupted:
            return False
        return sha != target.sha

    def _target(self) -> Target:
        """The new map: a patch of the deployed one when that is safe, else a full render."""
        from aliasdesk.aliases.postfix_fit import map_fit
        from aliasdesk.aliases.render import render_map
        from aliasdesk.deploys.incremental import NoPatch, plan_patch

        why = self._why_not_patch()
        if not why:
            t = time.monotonic()
            try:
                with transaction.atomic():
                    locked = Domain.objects.select_for_update().get(pk=self.domain.pk)
                    self._load_installed(locked)
                    plan = plan_patch(locked, self.disk.data or b"")
                    self.serial = locked.serial
                    count = self._deployed_count() + plan.alias_delta
            except NoPatch as exc:
                why = exc.reason.english
            else:
                self._mark("plan", t)
                return Target(Deploy.Method.PATCH, count, patch=plan)
        t = time.monotonic()
        build = self._early_build(why)
        try:
            rendered = render_map(self.domain, None if build is None else lambda text: build.feed(text.encode()))
            if build is not None:
                build.close()
            rendered.fit = map_fit(rendered.domain)
        except BaseException:
            if build is not None:
                self.files.drop_stream(build)
            raise
        self.serial = rendered.serial
        self._mark("render", t)
        return Target(Deploy.Method.FULL, rendered.alias_count, rendered=rendered, why_full=why, build=build)

    def _early_build(self, why_full: str) -> pm.StreamBuild | None:
        """postmap started before the rows are read, building the table from the text as it is
        rendered (``MapFiles.start_stream``): on a big map it is then mostly done when the text
        is. Only where the new map will be installed whatever it holds (forced, or no map on
        disk: neither "unchanged" nor a hand edit can stop it); its Deploy record is running
        before any of its files exist, as for every install."""
        if self.dry_run or self.domain.map_type not in pm.STREAMED_TYPES or not (self.force or self.disk.sha is None):
            return None
        self._running(method=Deploy.Method.FULL, why_full=why_full, alias_count=0)
        return self.files.start_stream()

    def _why_not_patch(self) -> str:
        """Why this deploy builds the whole map without trying a patch, in English (see deploys.reasons)."""
        domain, disk = self.domain, self.disk
        why = [
            (not settings.DEPLOY_PATCH, reason(reasons.PATCHING_OFF)),
            (self.force, reason(reasons.FORCED)),
            (self.dry_run, reason(reasons.PREVIEW)),
            (domain.map_type not in PATCHABLE, reason(reasons.TABLE_TYPE, type=domain.map_type)),
            (domain.alias_of_id is not None, reason(reasons.ALIAS_DOMAIN)),
            (bool(self.interrupted), reason(reasons.INTERRUPTED)),
            (not domain.deployed_sha256 or not domain.deployed_table, reason(reasons.FIRST)),
            (domain.rebuild_serial > domain.deployed_serial, reason(reasons.REBUILD)),
            (disk.sha != domain.deployed_sha256, reason(reasons.DRIFT)),
            (disk.table != domain.deployed_table.split("|")[0], reason(reasons.OTHER_TABLE)),
        ]
        return next((found.english for bad, found in why if bad), "")

    def _deployed_count(self) -> int:
        last = (
            Deploy.objects.filter(domain=self.domain, node=self.node, status=Deploy.Status.OK)
            .order_by("-id")
            .values_list("alias_count", flat=True)
            .first()
        )
        return int(last or 0)

    def _preview(self, target: Target, drift: bool) -> DeployResult:
        from aliasdesk.deploys.checks import check_rendered, map_diff

        assert target.rendered is not None  # a preview always renders the whole map
        findings, _rows = check_rendered(target.rendered)
        note = _("the map on disk was edited by hand since the last deploy (drift)") if drift else ""
        diff = map_diff(self.disk.text, target.rendered.text, str(self.map_path))
        return DeployResult(self.domain.name, "dry-run", note, diff, findings, drift=drift, method=target.method)

    def _install(self, target: Target) -> DeployResult:
        domain = self.domain
        # A patch's hash is taken while its files are written (see MapFiles.install_patch), and so
        # is a streamed build's (see MapFiles.install_full).
        sha = target.sha if target.patch is None and target.build is None else ""
        deploy = self._running(
            method=target.method, why_full=target.why_full, alias_count=target.alias_count, sha256=sha
        )
        try:
            if target.patch is not None:
                findings, output, diff, sha = self.files.install_patch(domain, target.patch, deploy)
                deploy.sha256 = sha  # recorded early in SQL; the save below must not blank it
            else:
                assert target.rendered is not None
                findings, output, diff, sha = self.files.install_full(
                    target.rendered, self.disk.text, deploy, target.build
                )
                deploy.sha256 = sha
        except DeployError as exc:
            deploy.status = Deploy.Status.FAILED
            deploy.error = str(exc)
            deploy.postmap_output = getattr(exc, "output", "")
            deploy.findings = [f.to_dict() for f in getattr(exc, "findings", [])]
            deploy.finished_at = timezone.now()
            deploy.timings = self.timings
            save_outcome(deploy)
            return DeployResult(domain.name, Deploy.Status.FAILED, str(exc), deploy_id=deploy.pk, timings=self.timings)
        if domain.map_type == "texthash":
            output += pm.run_reload(settings.RELOAD_COMMAND)
        self._save_installed(
            deployed_serial=self.serial,
            deployed_sha256=sha,
            deployed_table=files_stamp(self.map_path, domain.map_type),
        )
        self.timings["total"] = time.monotonic() - self.started
        deploy.status = Deploy.Status.OK
        deploy.diff = diff
        deploy.findings = [f.to_dict() for f in findings]
        deploy.postmap_output = output
        deploy.finished_at = timezone.now()
        deploy.timings = self.timings
        save_outcome(deploy)
        return DeployResult(
            domain.name,
            Deploy.Status.OK,
            _("deployed"),
            diff,
            findings,
            deploy.pk,
            self.timings,
            method=target.method,
            why_full=target.why_full,
        )

PATCHABLE = {"hash", "btree", "lmdb"}


def _interrupted_shas(domain: Domain, node: str = "") -> set[str]:
    """What deploys killed since the last good one were writing.

    A deploy killed between its renames leaves a compiled table and a source that may
    not match each other or the record: the next deploy rebuilds whatever the files
    say, and a source that one of them wrote is not a hand edit.
    """
    deploys = domain.deploys.filter(node=node)
    last_ok = deploys.filter(status=Deploy.Status.OK).order_by("-id").values_list("id", flat=True).first()
    rows = deploys.filter(status=Deploy.Status.FAILED, error=INTERRUPTED)
    if last_ok is not None:
        rows = rows.filter(id__gt=last_ok)
    return set(rows.values_list("sha256", flat=True))


def deploy_domain(
    domain: Domain,
    *,
    user: User | None = None,
    dry_run: bool = False,
    force: bool = False,
    record_noop: bool = True,
    background: bool = False,
) -> DeployResult:
    """Deploy one domain's map. Never raises for a failed deploy: the result says why.

    ``background``: a long-running process (the web service) leaves freeing the replaced
    files and copying spares of a big map's table and text to a thread (see ``standby``).
    In agent mode (ALIASDESK_DEPLOY_MODE=agent) the deploy is queued for the nodes that
    carry the domain and the agents apply it (a preview still runs here).
    """
    if agent_mode() and not dry_run:
        queued = queue_deploy(domain, user=user, force=force)
        deploy_id = queued.deploy_ids[0] if queued.deploy_ids else None
        return DeployResult(domain.name, Deploy.Status.QUEUED, queued.message, deploy_id=deploy_id)
    deploy = MapDeploy(domain, user=user, dry_run=dry_run, force=force, record_noop=record_noop, background=background)
    return deploy.run()


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
        quiet = not force and not dry_run and domain.serial == domain.deployed_serial and domain.pk not in expiring
        if quiet and agent_mode():  # every node that carries it has installed it
            results.append(DeployResult(domain.name, Deploy.Status.NOOP, _("unchanged")))
            continue
        if quiet:
            disk = DiskState(Path(domain.map_path), domain.map_type, domain.deployed_table, domain.deployed_sha256)
            quiet = disk.is_deployed(domain.deployed_sha256)
        if quiet:
            results.append(DeployResult(domain.name, Deploy.Status.NOOP, _("unchanged")))
            continue
        results.append(deploy_domain(domain, user=user, dry_run=dry_run, force=force, record_noop=False))
    return results
