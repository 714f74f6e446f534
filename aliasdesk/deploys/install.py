"""Putting a deploy's new map in place: the files, written so Postfix never sees a half-made map.

``MapFiles`` is what a deploy (``engine.MapDeploy``) does on disk once it has decided to
install: the text and the table are made under temporary names beside the map, synced,
the table built by postmap (or a copy of the deployed one patched), verified by querying
it, and renamed into place, table first. Any failure leaves the old files untouched and
raises ``InstallFailed``, which the deploy records.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.utils.translation import gettext as _

from aliasdesk.deploys import standby
from aliasdesk.deploys.files import TMP_MARK, DeployError
from aliasdesk.deploys.models import Deploy
from aliasdesk.postfix.maps import postmap as pm

if TYPE_CHECKING:
    from aliasdesk.aliases.models import Domain
    from aliasdesk.aliases.render import RenderedMap
    from aliasdesk.deploys.incremental import PatchPlan
    from aliasdesk.postfix.maps.validate import Finding


def postmap_config() -> pm.Postmap:
    """postmap as configured. On a host without /etc/postfix/main.cf (a workstation, a
    demo) postmap refuses to run, so a minimal config dir in the data dir stands in."""
    config_dir = settings.POSTFIX_CONFIG_DIR
    if not config_dir and not Path("/etc/postfix/main.cf").exists():
        config_dir = pm.standin_config(settings.DATA_DIR)
    return pm.Postmap(program=settings.POSTMAP, config_dir=config_dir)


class InstallFailed(DeployError):
    def __init__(self, message: str, output: str = "", findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.findings = findings or []


class Temp(NamedTuple):
    """The temporary names beside the map, and the mode its files get."""

    text: Path
    table: Path | None  # the compiled table of ``text`` (None for texthash)
    final_table: Path | None  # the installed compiled table ``table`` replaces
    mode: int


class MapFiles:
    """The files of one map while a deploy replaces them (see the module's docstring).

    ``mark(step, since)`` records how long a step took in the deploy's timings;
    ``background``: a thread frees the replaced files after the deploy (``graves``).
    """

    def __init__(self, map_path: Path, map_type: str, mark: Callable[[str, float], float], *, background: bool) -> None:
        self.map_path, self.map_type, self.mark, self.background = map_path, map_type, mark, background
        self.graves: list[Path] = []  # replaced files, still linked here so that replacing them was quick
        self.installed: Path | None = None  # the compiled table this deploy installed

    def temp(self) -> Temp:
        tmp = self.map_path.parent / f".{self.map_path.name}{TMP_MARK}{os.getpid()}"
        try:
            mode = self.map_path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        return Temp(tmp, pm.compiled_path(tmp, self.map_type), pm.compiled_path(self.map_path, self.map_type), mode)

    def _remove_temp(self) -> None:
        tmp = self.temp()
        for leftover in (tmp.text, tmp.table):
            if leftover is not None:
                with suppress(OSError):
                    leftover.unlink()

    # -- a full build ---------------------------------------------------------------------

    def start_stream(self) -> pm.StreamBuild | None:
        """postmap started on the temporary text before it is rendered (see ``pm.StreamBuild``);
        None where the table type does not allow it or postmap cannot start (the install then
        writes the text as usual, and says what fails)."""
        if self.map_type not in pm.STREAMED_TYPES:
            return None
        tmp = self.temp()
        try:
            return pm.StreamBuild(postmap_config(), self.map_type, tmp.text, tmp.mode)
        except (OSError, pm.PostmapError):
            with suppress(OSError):
                tmp.text.unlink()
            return None

    def drop_stream(self, build: pm.StreamBuild) -> None:
        """Stop a streamed build that is not (or no longer) needed and remove its files."""
        build.kill()
        self._remove_temp()

    def install_full(
        self, rendered: RenderedMap, old_text: str, deploy: Deploy, stream: pm.StreamBuild | None = None
    ) -> tuple[list[Finding], str, str, str]:
        """Write, compile, verify and rename into place; returns the findings, postmap's
        output, the diff from ``old_text`` and the text's hash.

        postmap (its own process), the validation (a thread) and the diff run at the same time.
        ``stream``: postmap already building while the text was rendered, writing the text and
        taking its hash too; the hash is recorded before the renames, as a patch's is.
        """
        from aliasdesk.deploys.checks import BackgroundCheck, map_diff, verify_sample

        postmap = postmap_config()
        tmp, tmp_compiled, final_compiled, mode = self.temp()
        t = time.monotonic()
        try:
            build: pm.Build | pm.StreamBuild | None = stream
            if stream is None:
                self._write_text(tmp, rendered.data, mode)
                t = self.mark("write", t)
                build = pm.Build(postmap, self.map_type, tmp) if tmp_compiled is not None else None
            check = BackgroundCheck(rendered, settings.VERIFY_SAMPLE)
            try:
                diff = map_diff(old_text, rendered.text, str(self.map_path))
                self.mark("diff", t)
                findings, expected = check.result()
            except BaseException:
                check.cancel()
                if build is not None:
                    build.kill()
                raise
            t = self.mark("validate", t)
            errors = [f for f in findings if f.severity == "error"]
            if errors:
                if build is not None:
                    build.kill()
                raise InstallFailed(_("validation failed: %(error)s") % {"error": errors[0].message}, findings=findings)
            output = _wait_for(build, tmp, findings) if build is not None else ""
            t = self.mark("postmap", t)
            try:
                verify_sample(postmap, self.map_type, tmp, expected)
            except pm.PostmapError as exc:
                raise InstallFailed(_("verification failed: %(error)s") % {"error": exc}, exc.output, findings) from exc
            self.mark("verify", t)
            sha = deploy.sha256
            if stream is not None:
                sha = stream.sha256
                Deploy.objects.filter(pk=deploy.pk).update(sha256=sha)
            output += self._move_into_place(tmp, tmp_compiled, final_compiled, mode)
        finally:
            self._remove_temp()
        return findings, output, diff, sha

    def _write_text(self, tmp: Path, data: bytes | list[bytes | memoryview], mode: int) -> None:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as fh:
                for piece in [data] if isinstance(data, bytes) else data:
                    fh.write(piece)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        except OSError as exc:
            raise InstallFailed(_("cannot write %(file)s: %(error)s") % {"file": tmp, "error": exc.strerror}) from exc

    # -- a patch --------------------------------------------------------------------------

    def install_patch(self, domain: Domain, plan: PatchPlan, deploy: Deploy) -> tuple[list[Finding], str, str, str]:
        """Take a spare of the compiled table (or copy it), apply the changes, verify, write
        the new text, rename both into place. The table work and the new text's hash run
        beside the text's write and fsync; the hash is recorded before the renames, so a
        deploy killed after them is known by the text it left."""
        from aliasdesk.postfix.maps.patch import splice_diff

        if settings.DEPLOY_PATCH_CHECK:
            _check_patch(domain, plan)
        postmap = postmap_config()
        tmp, tmp_compiled, final_compiled, mode = self.temp()
        assert tmp_compiled is not None and final_compiled is not None
        t = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                table = pool.submit(self._patch_table, domain, postmap, plan, tmp, tmp_compiled, final_compiled)
                pieces = plan.pieces()
                digest = pool.submit(sha256_pieces, pieces)
                try:
                    self._write_patched_text(tmp, plan, pieces, mode)
                    diff = splice_diff(plan.old, plan.splices, str(self.map_path))
                finally:
                    output = table.result()
                    sha = digest.result()
            Deploy.objects.filter(pk=deploy.pk).update(sha256=sha)
            t = self.mark("patch", t)
            output += self._move_into_place(tmp, tmp_compiled, final_compiled, mode)
            self.mark("rename", t)
        finally:
            self._remove_temp()
        return plan.findings, output, diff, sha

    def _write_patched_text(self, tmp: Path, plan: PatchPlan, pieces: list[bytes | memoryview], mode: int) -> None:
        """The new text: on a spare of the old one only what follows the first change is
        written (and synced); without a spare, all of it."""
        t = time.monotonic()
        # A text spare still being copied is not waited for: writing the whole text takes as long.
        if not plan.splices or not standby.take_spare(self.map_path, tmp, wait_for_it=False):
            self._write_text(tmp, pieces, mode)
            self.mark("text", t)
            return
        start = plan.splices[0].start  # pieces[0] is old[:start], already there
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW)
            try:
                os.lseek(fd, start, os.SEEK_SET)
                with os.fdopen(os.dup(fd), "wb") as fh:
                    for piece in pieces[1:]:
                        fh.write(piece)
                os.ftruncate(fd, plan.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, mode)
        except OSError as exc:
            raise InstallFailed(_("cannot write %(file)s: %(error)s") % {"file": tmp, "error": exc.strerror}) from exc
        self.mark("text-spare", t)

    def _patch_table(
        self, domain: Domain, postmap: pm.Postmap, plan: PatchPlan, tmp: Path, tmp_compiled: Path, final: Path
    ) -> str:
        from aliasdesk.deploys.incremental import sample_lines
        from aliasdesk.postfix.maps.virtual import render_head, render_tail

        t = time.monotonic()
        if not standby.take_spare(final, tmp_compiled):
            try:
                shutil.copyfile(final, tmp_compiled, follow_symlinks=False)
            except OSError as exc:
                said = {"file": final, "error": exc.strerror}
                raise InstallFailed(_("cannot copy %(file)s: %(error)s") % said) from exc
            self.mark("copy", t)
        try:
            output = pm.apply_changes(postmap, self.map_type, tmp, plan.upserts, plan.deletes)
        except pm.PostmapError as exc:
            raise InstallFailed(str(exc), exc.output, plan.findings) from exc
        try:
            fd = os.open(tmp_compiled, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            said = {"file": tmp_compiled, "error": exc.strerror}
            raise InstallFailed(_("cannot write %(file)s: %(error)s") % said) from exc
        # A sample of the old text's rows: the changed ones are in plan.expected, which wins.
        head = len(render_head(domain.header).encode("utf-8"))
        tail = len(render_tail(domain.footer).encode("utf-8"))
        expected = {**sample_lines(plan.old, head, len(plan.old) - tail), **plan.expected}
        try:
            found = pm.query_map(postmap, self.map_type, tmp, expected)
        except pm.PostmapError as exc:
            text = _("verification failed: %(error)s") % {"error": exc}
            raise InstallFailed(text, exc.output, plan.findings) from exc
        for key, value in expected.items():
            if found.get(key) != value:
                got = _("nothing") if key not in found else repr(found[key])
                want = _("nothing") if value is None else repr(value)
                raise InstallFailed(
                    _("verification failed: the patched map answers %(got)s for %(key)s, expected %(want)s")
                    % {"got": got, "key": key, "want": want}
                )
        return output

    # -- into place -----------------------------------------------------------------------

    def _move_into_place(self, tmp: Path, tmp_compiled: Path | None, final_compiled: Path | None, mode: int) -> str:
        """Compiled table first, then the text: the text never names entries Postfix lacks.

        Once both are renamed the new map is live: a directory fsync failing after that is a
        warning (returned), not a failed deploy, or the next one would take our own file
        for a hand edit.
        """
        try:
            if tmp_compiled is not None and final_compiled is not None:
                os.chmod(tmp_compiled, mode)
                self._keep_old(final_compiled, tmp_compiled)
                os.replace(tmp_compiled, final_compiled)
                self.installed = final_compiled
            self._keep_old(self.map_path, tmp)
            os.replace(tmp, self.map_path)
        except OSError as exc:
            raise InstallFailed(_("cannot move the new map into place: %(error)s") % {"error": exc.strerror}) from exc
        try:
            _fsync_dir(self.map_path.parent)
        except OSError as exc:
            return _(
                "warning: the new map is in place, but syncing %(dir)s failed (%(error)s): "
                "it may not survive a power loss"
            ) % {"dir": self.map_path.parent, "error": exc.strerror} + "\n"
        return ""

    def _keep_old(self, path: Path, tmp: Path) -> None:
        """Give the file about to be replaced a second name, freed after the deploy (see standby):
        replacing a file's last name frees its blocks, ~60 ms for a big table. Only where a
        thread frees it later: a command would only pay the same time after its record."""
        if not self.background:
            return
        grave = tmp.with_name(tmp.name.replace(TMP_MARK, f"{TMP_MARK}old-", 1))
        with suppress(OSError):
            os.link(path, grave, follow_symlinks=False)
            self.graves.append(grave)


def sha256_pieces(pieces: list[bytes | memoryview]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _wait_for(build: pm.Build | pm.StreamBuild, tmp: Path, findings: list[Finding]) -> str:
    """postmap's warnings once the table (and a stream's text) is done; InstallFailed if not."""
    try:
        return build.wait()
    except pm.PostmapError as exc:
        raise InstallFailed(str(exc), exc.output, findings) from exc
    except OSError as exc:  # the stream's text file
        said = {"file": tmp, "error": exc.strerror}
        raise InstallFailed(_("cannot write %(file)s: %(error)s") % said) from exc


def _check_patch(domain: Domain, plan: PatchPlan) -> None:
    """The patched text must be byte for byte what a full render gives (ALIASDESK_DEPLOY_PATCH_CHECK)."""
    from aliasdesk.aliases.render import render_map

    full = render_map(domain).data
    if full != plan.new:
        pairs = enumerate(zip(full, plan.new, strict=False))
        at = next((i for i, (a, b) in pairs if a != b), min(len(full), len(plan.new)))
        raise InstallFailed(
            f"patch check failed at byte {at}: rendered {full[max(0, at - 60) : at + 60]!r}, "
            f"patched {plan.new[max(0, at - 60) : at + 60]!r}"
        )
