"""Which tables a database move carries, and how each value is written in the file.

Every model of aliasdesk's own apps (a table another branch adds comes along by itself),
their many-to-many tables and history tables, and the third-party tables that hold what
users made: groups, two-factor devices. Left out, because aliasdesk or Django makes them
again: the Postfix lookup table and its bookkeeping (rebuilt after an import), the live
checks (made again by the next ``postfix-config --sync``), permissions and content types
(made by ``migrate``; a row that names one names it by its natural key), sessions (every
user signs in again) and django-axes' lockout counters (they expire within minutes; the
sign-in failures themselves are in the audit log).

A value is written the same way whatever the engine it was read from, so the same data
gives the same file: datetimes as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, dates and times in
ISO form, decimals as strings with the field's decimal places, binary data as base64,
durations in microseconds, JSON as JSON (the file's lines sort every object's keys).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext, gettext_noop

FORMAT = "aliasdesk-dbexport"
VERSION = 1

THIRD_PARTY_APPS = frozenset({"auth", "otp_totp", "otp_static"})
# Derived or made by migrate: see the module docstring.
LEFT_OUT = frozenset(
    {
        "aliases.virtualentry",
        "aliases.virtualsync",
        "aliases.livecheck",
        "auth.permission",
    }
)
# Rows of these are named by their natural key, which is the same in every database.
NATURAL_KEYS = frozenset({"auth.permission", "contenttypes.contenttype"})
DERIVED = ("aliases.virtualentry", "aliases.virtualsync", "aliases.livecheck")

INTEGERS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
TEXTS = frozenset(
    {"CharField", "TextField", "EmailField", "SlugField", "URLField", "GenericIPAddressField", "FilePathField"}
)


class DbMoveError(Exception):
    """Why an export or an import cannot go on: one line a person can act on."""


@dataclass(frozen=True)
class Table:
    """One table of the file: its model and its columns in declared order."""

    model: type[models.Model]
    fields: tuple[models.Field[Any, Any], ...]

    @property
    def name(self) -> str:
        return str(self.model._meta.db_table)

    @property
    def columns(self) -> list[str]:
        return [str(f.column) for f in self.fields]

    @property
    def pk(self) -> models.Field[Any, Any]:
        pk = self.model._meta.pk
        assert pk is not None
        return pk


def moved_tables() -> list[Table]:
    """The tables a move carries, sorted by table name."""
    tables = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.label_lower in LEFT_OUT:
            continue
        if not (meta.app_config.name.startswith("aliasdesk.") or meta.app_label in THIRD_PARTY_APPS):
            continue
        fields = tuple(f for f in meta.concrete_fields)
        for field in fields:
            internal_type(field)  # an unknown type stops the move here, not half-way
        tables.append(Table(model, fields))
    return sorted(tables, key=lambda t: t.name)


def derived_models() -> list[type[models.Model]]:
    return [apps.get_model(label) for label in DERIVED]


def natural_target(field: models.Field[Any, Any]) -> type[models.Model] | None:
    """The model a foreign key names by natural key (permissions, content types), else None."""
    related = field.related_model if field.is_relation else None
    if isinstance(related, type) and related._meta.label_lower in NATURAL_KEYS:
        return related
    return None


def internal_type(field: models.Field[Any, Any]) -> str:
    """The kind of value a column holds; a foreign key holds what its target's key holds."""
    if natural_target(field) is not None:
        return "NaturalKey"
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    kind = str(target.get_internal_type())
    if kind in INTEGERS or kind in TEXTS or kind in CODECS:
        return kind
    raise DbMoveError(
        gettext("%(column)s: cannot move a column of type %(kind)s")
        % {"column": f"{field.model._meta.db_table}.{field.column}", "kind": kind}
    )


def _utc(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        raise DbMoveError(gettext("a datetime without a time zone: %(value)s") % {"value": value})
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decimal(field: models.Field[Any, Any], value: decimal.Decimal) -> str:
    places = getattr(field, "decimal_places", None)
    if places is not None:
        value = value.quantize(decimal.Decimal(1).scaleb(-places))
    return format(value, "f")


def _duration(value: datetime.timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def encoder(field: models.Field[Any, Any], kind: str) -> Callable[[Any], Any]:
    """How a value of the column, as the ORM reads it, is written in the file (None: null)."""
    if kind in INTEGERS or kind == "NaturalKey":
        return lambda v: v
    if kind in TEXTS:
        return lambda v: None if v is None else str(v)
    converters: dict[str, Callable[[Any], Any]] = {
        "BooleanField": bool,
        "DateTimeField": _utc,
        "DateField": lambda v: v.isoformat(),
        "TimeField": lambda v: v.isoformat(),
        "DecimalField": lambda v: _decimal(field, v),
        "FloatField": float,
        "UUIDField": str,
        "BinaryField": lambda v: base64.b64encode(bytes(v)).decode("ascii"),
        "DurationField": _duration,
        "JSONField": lambda v: v,
    }
    convert = converters[kind]
    return lambda v: None if v is None else convert(v)


def _need(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """``value`` if it is a ``kind``; ``what`` names one (marked with gettext_noop)."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(gettext("expected %(what)s") % {"what": gettext(what)})
    return value


def _datetime(value: Any) -> datetime.datetime:
    text = _need(value, str, gettext_noop("a UTC datetime"))
    if len(text) != 27 or text[10] != "T" or text[19] != "." or not text.endswith("Z"):
        raise ValueError(gettext("%(text)s is not a UTC datetime (YYYY-MM-DDTHH:MM:SS.ffffffZ)") % {"text": repr(text)})
    return datetime.datetime.fromisoformat(text)


def _binary(value: Any) -> bytes:
    try:
        return base64.b64decode(_need(value, str, gettext_noop("base64 text")), validate=True)
    except binascii.Error as exc:
        raise ValueError(gettext("expected %(what)s") % {"what": gettext("base64 text")}) from exc


CODECS: dict[str, Callable[[Any], Any]] = {
    "BooleanField": lambda v: _need(v, bool, gettext_noop("true or false")),
    "DateTimeField": _datetime,
    "DateField": lambda v: datetime.date.fromisoformat(_need(v, str, gettext_noop("a date"))),
    "TimeField": lambda v: datetime.time.fromisoformat(_need(v, str, gettext_noop("a time"))),
    "DecimalField": lambda v: decimal.Decimal(_need(v, str, gettext_noop("a decimal as text"))),
    "FloatField": lambda v: float(_need(v, (int, float), gettext_noop("a number"))),
    "UUIDField": lambda v: uuid.UUID(_need(v, str, gettext_noop("a UUID"))),
    "BinaryField": _binary,
    "DurationField": lambda v: datetime.timedelta(microseconds=_need(v, int, gettext_noop("microseconds"))),
    "JSONField": lambda v: v,
}


def _null(nullable: bool) -> None:
    if not nullable:
        raise ValueError(gettext("no value (null) in a column that needs one"))


def _integers(nullable: bool) -> Callable[[Any], Any]:
    def integer(value: Any) -> Any:
        if type(value) is int:
            return value
        return _null(nullable) if value is None else _need(value, int, gettext_noop("an integer"))

    return integer


def _texts(nullable: bool, limit: int | None) -> Callable[[Any], Any]:
    def text(value: Any) -> Any:
        if type(value) is not str:
            return _null(nullable) if value is None else _need(value, str, gettext_noop("text"))
        if limit is not None and len(value) > limit:
            raise ValueError(gettext("longer than %(limit)s characters") % {"limit": limit})
        return value

    return text


def decoder(field: models.Field[Any, Any], kind: str) -> Callable[[Any], Any]:
    """How a value of the file is read for the column; ValueError says what was expected."""
    nullable = field.null or kind == "JSONField"
    if kind in INTEGERS:
        return _integers(nullable)
    if kind in TEXTS:
        return _texts(nullable, getattr(field, "max_length", None) if kind != "GenericIPAddressField" else None)
    if kind == "NaturalKey":
        convert: Callable[[Any], Any] = lambda v: tuple(_need(v, list, gettext_noop("a natural key (a list)")))  # noqa: E731
    else:
        convert = CODECS[kind]

    def other(value: Any) -> Any:
        if value is None:
            return _null(nullable)
        try:
            return convert(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(str(exc) or gettext("not a valid %(kind)s") % {"kind": kind}) from exc

    return other


def needs_preparing(kind: str) -> bool:
    """Whether a decoded value must go through the field's get_db_prep_save (integers, text
    and booleans go to every driver as they are, a good part of a large import's time)."""
    return kind not in INTEGERS and kind not in (TEXTS - {"GenericIPAddressField"}) and kind not in (
        "BooleanField",
        "NaturalKey",
    )
