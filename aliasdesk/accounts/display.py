"""How values are written for people: a field's value in a history or the audit log
(``on``/``off`` for a switch, never ``True``/``—``), a moment as "just now" or "3 minutes
ago", and a long text (a 2,000-character key) cut once with an ellipsis."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import npgettext_lazy, pgettext_lazy

# The units of "… ago", in their own context: some languages inflect them there (German
# "vor 3 Tagen", not "vor 3 Tage").
AGO_UNITS = {
    "year": npgettext_lazy("time ago", "%(num)d year", "%(num)d years", "num"),
    "month": npgettext_lazy("time ago", "%(num)d month", "%(num)d months", "num"),
    "week": npgettext_lazy("time ago", "%(num)d week", "%(num)d weeks", "num"),
    "day": npgettext_lazy("time ago", "%(num)d day", "%(num)d days", "num"),
    "hour": npgettext_lazy("time ago", "%(num)d hour", "%(num)d hours", "num"),
    "minute": npgettext_lazy("time ago", "%(num)d minute", "%(num)d minutes", "num"),
}
SWITCHES = {"enabled"}  # boolean fields that are an on/off switch
EMPTY = "—"


# What the history and the audit log call a model field (the field's name where not listed).
FIELD_LABELS = {
    "key": pgettext_lazy("field", "address"),
    "destinations": pgettext_lazy("field", "destinations"),
    "enabled": pgettext_lazy("field", "on/off"),
    "comment": pgettext_lazy("field", "comment"),
    "valid_until": pgettext_lazy("field", "valid until"),
    "deleted_at": pgettext_lazy("field", "deleted"),
    "role": pgettext_lazy("field", "role"),
    "is_active": pgettext_lazy("field", "active"),
    "active": pgettext_lazy("field", "active"),
    "password": pgettext_lazy("field", "password"),
    "header": pgettext_lazy("field", "header"),
    "footer": pgettext_lazy("field", "footer"),
    "map_type": pgettext_lazy("field", "map type"),
    "map_path": pgettext_lazy("field", "map file"),
    "description": pgettext_lazy("field", "description"),
    "events": pgettext_lazy("field", "events"),
    "url": pgettext_lazy("field", "URL"),
    "allow_private": pgettext_lazy("field", "private addresses allowed"),
    "read_only": pgettext_lazy("field", "read-only"),
    "domains": pgettext_lazy("field", "domains"),
    "expires": pgettext_lazy("field", "expires"),
    "name": pgettext_lazy("field", "name"),
    "token": pgettext_lazy("field", "token"),
    "deploy_on_save": pgettext_lazy("field", "deploy on save"),
}


def field_label(name: str) -> str:
    """A field's name as people read it, in their language."""
    label = FIELD_LABELS.get(name)
    return str(label) if label is not None else name.replace("_", " ")


def show_value(value: object, name: str = "") -> str:
    """A field value as a history or the audit log prints it."""
    if name in SWITCHES and isinstance(value, bool):
        return _("on") if value else _("off")
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value != "" else _("(empty)")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``just now`` under a minute, else ``3 minutes ago`` (the two largest units, as timesince)."""
    if moment is None:
        return ""
    now = now or timezone.now()
    if (now - moment).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(moment, now, time_strings=AGO_UNITS)}  # type: ignore[arg-type]


def shorten(text: str, limit: int = 80) -> str:
    """``text`` when short, else its start and end around one ellipsis (a key's domain stays readable)."""
    if len(text) <= limit:
        return text
    tail = min(24, limit // 3)
    return f"{text[: limit - tail - 1]}…{text[-tail:]}"
