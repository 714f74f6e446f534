"""A domain's "Upload" page: a map file, CSV or XLSX, previewed, then applied or cancelled.

The preview is the import itself run and rolled back (``import_source(dry_run=True)``): the
same parser, input policy, key ownership and limits as ``aliasdesk import`` and paste, so what
it shows is what Apply does. Editors add and change aliases within their rights; admins may
also make the domain hold exactly the file (``--replace``). The file waits on the server
(upload_store) with the domain's serial; Apply refuses a preview the domain has moved past.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from aliasdesk.accounts.access import can_administer
from aliasdesk.accounts.current import current_user
from aliasdesk.aliases import upload_store
from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.bulk_files import COLUMN_HELP, FORMATS, NotABulkFile, Source, guess_format, read_source
from aliasdesk.aliases.errors import AliasError
from aliasdesk.aliases.importer import KINDS, ImportRefused, ImportReport, StalePreview, import_source
from aliasdesk.aliases.models import Domain
from aliasdesk.aliases.pages import domain_page_context
from aliasdesk.aliases.paste_input import FORM_OVERHEAD

SHOWN = 200  # aliases of each kind the preview names
MODES = {"update": gettext_lazy("Add and change"), "replace": gettext_lazy("Replace the whole map")}
KIND_NAMES = {
    "added": pgettext_lazy("what an upload does to an alias", "added"),
    "changed": pgettext_lazy("what an upload does to an alias", "changed"),
    "switched off": pgettext_lazy("what an upload does to an alias", "switched off"),
    "deleted": pgettext_lazy("what an upload does to an alias", "deleted"),
}
# What the numbers beside problems and changes count.
UNITS = {"line": pgettext_lazy("a table column: line of a map file", "Line"),
         "row": pgettext_lazy("a table column: row of a CSV or XLSX file", "Row")}


class UploadTooLarge(Exception):
    """Larger than MAX_UPLOAD_BYTES: refused before it is read (413)."""


def _too_large() -> str:
    return _("Nothing was changed: a file may hold at most {size}. Split it.").format(
        size=filesizeformat(settings.MAX_UPLOAD_BYTES))


def _context(request: HttpRequest, domain: Domain, **extra: Any) -> dict[str, Any]:
    admin = can_administer(current_user(request))
    if "source" in extra:
        extra.update(unit=extra["source"].unit, unit_name=UNITS[extra["source"].unit])
    return domain_page_context(
        request,
        domain,
        "upload",
        formats=FORMATS,
        columns=COLUMN_HELP.items(),
        modes=MODES if admin else {"update": MODES["update"]},
        is_admin=admin,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        max_size=filesizeformat(settings.MAX_UPLOAD_BYTES),
        **extra,
    )


def _mode(request: HttpRequest, value: str) -> str:
    """The import mode asked for; replacing the whole map is for administrators (403)."""
    mode = value if value in MODES else "update"
    if mode == "replace" and not can_administer(current_user(request)):
        raise PermissionDenied(_("only administrators may replace the whole map"))
    return mode


def _run(request: HttpRequest, domain: Domain, source: Source, mode: str, **options: Any) -> ImportReport:
    return import_source(
        source,
        domain.name,
        user=current_user(request),
        mode=mode,
        checked=True,
        reason=f"upload of {source.name}" + (" (replace)" if mode == "replace" else ""),
        **options,
    )


def _uploaded(request: HttpRequest) -> tuple[bytes, str]:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD:
        raise UploadTooLarge
    upload = request.FILES.get("file")
    if upload is None:
        raise NotABulkFile(_("Choose a file first: a map file, a CSV or an XLSX workbook."))
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise UploadTooLarge
    return upload.read(), upload.name or "upload"


def _preview(
    request: HttpRequest, domain: Domain, report: ImportReport, source: Source, **extra: Any
) -> dict[str, Any]:
    """The counts of each kind of change and the first SHOWN aliases of each, by name."""
    counts = report.counts
    kinds = [
        (k, KIND_NAMES[k], counts[k], report.changes[k][:SHOWN], counts[k] - min(SHOWN, counts[k])) for k in KINDS
    ]
    return _context(request, domain, report=report, kinds=kinds, source=source, **extra)


@login_required
def upload(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the form. POST: read the file and show what it would change (nothing changes yet)."""
    domain = get_domain_for_user(request, name, write=True)
    if request.method != "POST":
        pending = upload_store.pending_for(request, domain)
        return render(request, "aliases/upload.html", _context(request, domain, pending=pending))
    mode = _mode(request, request.POST.get("mode", ""))
    try:
        data, filename = _uploaded(request)
        source = read_source(data, filename, guess_format(filename, request.POST.get("format") or None))
        report = _run(request, domain, source, mode, dry_run=True)
    except UploadTooLarge:
        return render(request, "aliases/upload.html", _context(request, domain, error=_too_large()), status=413)
    except ImportRefused as exc:
        upload_store.discard(request, domain)
        context = _context(request, domain, refused=exc.problems, source=source, mode=mode)
        return render(request, "aliases/upload_preview.html", context, status=422)
    except AliasError as exc:  # NotABulkFile, an unknown format
        return render(request, "aliases/upload.html", _context(request, domain, error=str(exc)), status=422)
    pending = upload_store.keep(
        request, domain, data, name=filename, fmt=source.format, mode=mode, serial=report.serial
    )
    return render(request, "aliases/upload_preview.html", _preview(request, domain, report, source, pending=pending))


@login_required
@require_POST
def upload_apply(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name, write=True)
    pending = upload_store.pending_for(request, domain)
    if pending is None or pending.id != request.POST.get("upload", ""):
        messages.warning(request, _("No preview to apply (applied, cancelled or replaced): upload the file again."))
        return redirect("alias-upload", domain.name)
    mode = _mode(request, pending.mode)
    source = read_source(upload_store.read(pending), pending.name, pending.format)
    try:
        report = _run(request, domain, source, mode, expect_serial=pending.serial)
    except StalePreview as exc:
        upload_store.discard(request, domain)
        messages.error(request, str(exc))
        return redirect("alias-upload", domain.name)
    except ImportRefused as exc:
        upload_store.discard(request, domain)
        context = _context(request, domain, refused=exc.problems, source=source, mode=mode)
        return render(request, "aliases/upload_preview.html", context, status=422)
    except AliasError as exc:  # the domain became an alias domain meanwhile, …
        upload_store.discard(request, domain)
        messages.error(request, _("Nothing was applied: {reason}").format(reason=exc))
        return redirect("alias-upload", domain.name)
    upload_store.discard(request, domain)
    counts = report.counts
    messages.success(request, _(
        "Applied {name}: {added} added, {changed} changed, {off} switched off, {deleted} deleted, {unchanged} "
        "unchanged."
    ).format(name=pending.name, added=counts["added"], changed=counts["changed"], off=counts["switched off"],
             deleted=counts["deleted"], unchanged=report.unchanged))
    return redirect("domain-detail", domain.name)


@login_required
@require_POST
def upload_cancel(request: HttpRequest, name: str) -> HttpResponse:
    domain = get_domain_for_user(request, name, write=True)
    if upload_store.pending_for(request, domain) is not None:
        messages.info(request, _("Cancelled: nothing was changed."))
    upload_store.discard(request, domain)
    return redirect("alias-upload", domain.name)
