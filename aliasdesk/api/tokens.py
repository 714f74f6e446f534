"""Create, check and revoke API tokens. Every token path (command, web page, API) comes here.

A token is ``adk_<key_id>_<secret>``: the key id finds the row, the SHA-256 of the whole
string is compared in constant time. Revoked and expired tokens stop at once; using a
revoked one is written to the audit log.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aliasdesk.accounts.events import record_event
from aliasdesk.accounts.models import User
from aliasdesk.accounts.scope import Scope
from aliasdesk.aliases.models import Domain
from aliasdesk.api.models import ApiToken

TOKEN_RE = re.compile(r"^adk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
MAX_DAYS = 3650
# Last use is written at most this often per token (and whenever the address changes).
LAST_USED_EVERY = datetime.timedelta(seconds=60)


class TokenError(Exception):
    """A token cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the whole token string: shown once, never stored


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _key_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _n in range(12))


def _domains_for(user: User, names: Iterable[str]) -> list[Domain]:
    """The named domains, each one the user may see: a token never reaches further than its user."""
    from aliasdesk.aliases.access import visible_domains

    wanted = sorted({name.strip().lower() for name in names if name.strip()})
    found = {d.name: d for d in visible_domains(user).filter(name__in=wanted)}
    missing = [name for name in wanted if name not in found]
    if missing:
        names = ", ".join(missing)
        raise TokenError(
            _("%(user)s may not see %(domains)s: a token cannot reach further than its user")
            % {"user": user.username, "domains": names}
        )
    return [found[name] for name in wanted]


@transaction.atomic
def create_token(
    user: User,
    *,
    by: User | None,
    name: str = "",
    domains: Iterable[str] = (),
    read_only: bool = False,
    expires_days: int | None = None,
) -> NewToken:
    """A new token of ``user``; ``by`` is who asked (the user, an admin, None for the command line)."""
    if not user.is_active:
        raise TokenError(_("%(user)s is disabled") % {"user": user.username})
    if by is not None and by.pk != user.pk and not by.is_admin:
        raise TokenError(_("only administrators make tokens for other users"))
    name = name.strip()
    if len(name) > 100 or any(ch in name for ch in "\r\n\t\x00"):
        raise TokenError(_("the name must be one line of at most 100 characters"))
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise TokenError(_("expiry must be between 1 and %(max)s days") % {"max": MAX_DAYS})
    scoped = _domains_for(user, domains)
    key_id = _key_id()
    raw = f"adk_{key_id}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_id=key_id,
        secret_hash=_hash(raw),
        read_only=read_only,
        created_by=by,
        expires_at=timezone.now() + datetime.timedelta(days=expires_days) if expires_days else None,
    )
    token.domains.set(scoped)
    record_event(
        "token.created",
        actor=by,
        subject=user,
        after={
            "token": token.prefix,
            "name": name,
            "read_only": read_only,
            "domains": [d.name for d in scoped] or "all of the user's",
            "expires": token.expires_at.isoformat() if token.expires_at else "never",
        },
    )
    return NewToken(token, raw)


def authenticate(raw: str, address: str | None = None) -> ApiToken | None:
    """The live token for ``raw``, or None. Records the last use; a revoked token's use goes
    to the audit log."""
    match = TOKEN_RE.match(raw.strip())
    if match is None:
        return None
    token = ApiToken.objects.select_related("user").filter(key_id=match.group(1)).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(raw.strip())):
        return None
    now = timezone.now()
    if token.revoked_at is not None:
        record_event(
            "token.used_revoked", subject=token.user, detail=f"{token.prefix} from {address or 'unknown'}"
        )
        return None
    if (token.expires_at is not None and token.expires_at <= now) or not token.user.is_active:
        return None
    stale = token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY
    if stale or token.last_used_from != address:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_from=address)
        token.last_used_at, token.last_used_from = now, address
    return token


def scope_of(token: ApiToken) -> Scope:
    ids = frozenset(token.domains.values_list("pk", flat=True))
    return Scope(read_only=token.read_only, domain_ids=ids or None)


def tokens_for(viewer: User) -> list[ApiToken]:
    """The tokens ``viewer`` may see: their own; an administrator sees everybody's."""
    tokens = ApiToken.objects.select_related("user").prefetch_related("domains")
    if not viewer.is_admin:
        tokens = tokens.filter(user=viewer)
    return list(tokens)


@transaction.atomic
def revoke_token(token: ApiToken, *, by: User | None) -> bool:
    """Revoke (at once, for good). False when it was revoked already."""
    if by is not None and by.pk != token.user_id and not by.is_admin:
        raise TokenError(_("you may revoke only your own tokens"))
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    if changed:
        record_event("token.revoked", actor=by, subject=token.user, detail=token.prefix)
    return bool(changed)


def find_token(text: str) -> ApiToken | None:
    """A token by its prefix (``adk_<key_id>``), key id or number, as lists show it."""
    text = text.strip()
    if text.isdigit():
        return ApiToken.objects.select_related("user").filter(pk=int(text)).first()
    key_id = text.removeprefix("adk_").split("_")[0]
    return ApiToken.objects.select_related("user").filter(key_id=key_id).first()
