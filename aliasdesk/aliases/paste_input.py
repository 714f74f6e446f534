"""What the "Add many" page was given: pasted text or an uploaded map file, as text.

Both end in ``services.add_pasted``; this module only turns the request into text and
refuses what is no map text (too large, binary, not UTF-8) with a message a person can act on.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views import defaults

from aliasdesk.aliases.access import get_domain_for_user
from aliasdesk.aliases.pages import domain_page_context

# Room for the form's other fields, the multipart framing and the CR that browsers send
# before every LF of a textarea (the text itself is measured with LF alone).
FORM_OVERHEAD = 1024 * 1024


class PasteTooLarge(Exception):
    """More than MAX_PASTE_BYTES: refused before the body is read (HTTP 413)."""


class NotMapText(Exception):
    """An upload that is no text: binary, NUL bytes, not UTF-8."""


def limit_text() -> str:
    return filesizeformat(settings.MAX_PASTE_BYTES)


def limits() -> dict[str, object]:
    """For the page: the size the browser checks before it sends anything."""
    return {"max_bytes": settings.MAX_PASTE_BYTES, "max_size": limit_text()}


def too_large_message() -> str:
    return _(
        "Nothing was added: at most {size} can be pasted or uploaded at once. Split the map and add it in parts."
    ).format(size=limit_text())


def check_request_size(request: HttpRequest) -> None:
    """Refuse a body larger than a paste may be, before Django reads it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.MAX_PASTE_BYTES + FORM_OVERHEAD:
        raise PasteTooLarge(too_large_message())


def decode_upload(upload: UploadedFile[bytes]) -> str:
    """The uploaded map file as text: UTF-8 (a BOM is dropped), no NUL bytes, not too large."""
    name = upload.name or _("the file")
    if upload.size is not None and upload.size > settings.MAX_PASTE_BYTES:
        raise PasteTooLarge(too_large_message())
    data: bytes = upload.read()
    if b"\0" in data:
        raise NotMapText(_(
            "{name} is a binary file, not map text (it holds NUL bytes): upload the text map, not its compiled "
            ".db, .lmdb or .cdb table."
        ).format(name=name))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NotMapText(_(
            "{name} is not UTF-8 text (line {line}, byte {byte}): save it as UTF-8 and upload it again."
        ).format(name=name, line=line, byte=exc.start)) from exc


def pasted_text(request: HttpRequest) -> str:
    """The text to add: the pasted lines, or the uploaded file's; not both."""
    text = request.POST.get("text", "")
    upload = request.FILES.get("file")
    if upload is None:
        if len(text.replace("\r\n", "\n").encode("utf-8", "surrogatepass")) > settings.MAX_PASTE_BYTES:
            raise PasteTooLarge(too_large_message())
        return text
    if text.strip():
        raise NotMapText(_("Paste lines or choose a file, not both: nothing was added."))
    return decode_upload(upload)


@login_required
def paste_too_large(request: HttpRequest, name: str) -> HttpResponse:
    """The "Add many" page again, status 413: its post was larger than a paste may be."""
    domain = get_domain_for_user(request, name, write=True)
    context = domain_page_context(request, domain, "paste", text="", problems=[too_large_message()], **limits())
    return render(request, "aliases/paste.html", context, status=413)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a post too large for Django to read (DATA_UPLOAD_MAX_MEMORY_SIZE) is answered
    with a page that says so (413), the paste page for a paste; never a bare 400."""
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        match = request.resolver_match
        if match is not None and match.url_name == "alias-paste":
            return paste_too_large(request, **match.kwargs)
        return render(request, "413.html", {"max_size": limit_text()}, status=413)
    return defaults.bad_request(request, exception)
