"""Finding aliases in a domain: text search over keys, destinations and comments, filters, order."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from aliasdesk.aliases.models import Alias, Domain

FILTERS = {
    "all": "All live",
    "enabled": "Switched on",
    "disabled": "Switched off",
    "expiring": "Expiring (valid until set)",
    "deleted": "Deleted (trash)",
}
ORDERS = {"key": "key_folded", "-key": "-key_folded", "updated": "updated_at", "-updated": "-updated_at", "file": "id"}


@dataclass
class AliasQuery:
    q: str = ""
    filter: str = "all"
    order: str = "file"

    @classmethod
    def from_params(cls, params: dict[str, str]) -> AliasQuery:
        text = params.get("q", "").strip()[:200]
        show = params.get("show", "all")
        order = params.get("order", "file")
        return cls(text, show if show in FILTERS else "all", order if order in ORDERS else "file")


def search_aliases(domain: Domain, query: AliasQuery) -> QuerySet[Alias]:
    """The domain's aliases matching the query; every word must match key, destinations or comment."""
    rows = Alias.objects.filter(domain=domain)
    if query.filter == "deleted":
        rows = rows.filter(deleted_at__isnull=False)
    else:
        rows = rows.filter(deleted_at__isnull=True)
        if query.filter == "enabled":
            rows = rows.filter(enabled=True)
        elif query.filter == "disabled":
            rows = rows.filter(enabled=False)
        elif query.filter == "expiring":
            rows = rows.filter(valid_until__isnull=False)
    for word in query.q.split()[:5]:
        folded = word.lower()
        rows = rows.filter(
            Q(key_folded__contains=folded) | Q(destinations__icontains=word) | Q(comment__icontains=word)
        )
    return rows.order_by(ORDERS[query.order], "id")


def alias_counts(domain: Domain) -> dict[str, int]:
    live = Alias.objects.filter(domain=domain, deleted_at__isnull=True)
    enabled = live.filter(enabled=True).count()
    total = live.count()
    return {
        "enabled": enabled,
        "disabled": total - enabled,
        "deleted": Alias.objects.filter(domain=domain, deleted_at__isnull=False).count(),
        "expiring": live.filter(valid_until__isnull=False, valid_until__gte=timezone.localdate()).count(),
    }
