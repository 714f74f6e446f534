"""One search over every domain a user may see: keys, destinations and comments, with the grid's index.

"Which aliases forward to bob@example.org?" is asked of all the maps at once. The words mean
what they mean in a domain's grid (aliasdesk.aliases.search: each one a case-insensitive
substring of key, destinations or comment), over the live aliases (switched on or off) of
``visible_domains(user)``: an API token's scope narrows it there, as everywhere. Results come
grouped by domain (by name), in file order within each.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from aliasdesk.accounts.models import User
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import MAX_TOKEN_DOMAINS, MAX_WORDS, CappedPaginator, match_words

ORDER = ("domain__name", "id")
# Up to this many domains are named in the query by id (one parameter each).
MAX_ID_DOMAINS = 2_000


def search_words(text: str) -> list[str]:
    """The words of a typed search, as the grid takes them."""
    return text.strip()[:200].split()[:MAX_WORDS]


def search_across(
    domains: QuerySet[Domain], words: list[str], *, within: int | None = None, dense: bool = False
) -> QuerySet[Alias]:
    """The live aliases of ``domains`` holding every word (unordered; see match_words).

    The domains go into the query as a list of ids (up to MAX_ID_DOMAINS): as a subquery,
    a planner that misjudges the small domain table joins it first and walks the text
    index once per domain.
    """
    ids = list(domains.order_by().values_list("pk", flat=True)[: MAX_ID_DOMAINS + 1])
    if not ids:
        return Alias.objects.none()
    within_domains = domains if len(ids) > MAX_ID_DOMAINS else ids
    rows = Alias.objects.filter(domain__in=within_domains, deleted_at__isnull=True)
    few = ids if len(ids) <= MAX_TOKEN_DOMAINS else None
    return match_words(rows, words, few, within=within, dense=dense)


class AcrossPaginator(CappedPaginator):
    """Pages of a search across domains, grouped by domain (by name), in file order within each."""

    def __init__(self, user: User, text: str, per_page: int) -> None:
        self.domains = visible_domains(user)
        self.words = search_words(text)
        super().__init__(per_page)

    def known_total(self) -> int | None:
        return None if self.words else 0

    def match_ids(self, within: int) -> QuerySet[Alias]:
        return search_across(self.domains, self.words, within=within)

    def ordered(self, rows: QuerySet[Alias]) -> QuerySet[Alias]:
        return rows.select_related("domain").order_by(*ORDER)

    def walk(self, bottom: int, top: int) -> list[Alias]:
        """Many matches: the domains in name order, each one's aliases in file order, until the page is full.

        Ordering every match by domain name and id would sort them all (seconds, at
        500,000); this reads the indexes in that order instead and stops at ``top``.
        """
        ids = in_page_order(self.domains, self.words, bottom, top)
        if ids is None:
            return list(self.ordered(search_across(self.domains, self.words, dense=True))[bottom:top])
        return list(self.ordered(Alias.objects.filter(pk__in=ids)))


def in_page_order(domains: QuerySet[Domain], words: list[str], bottom: int, top: int) -> list[int] | None:
    """Ids of matches ``bottom`` to ``top`` in page order, read along the indexes; None where not done so.

    The domains are read in name order and each one's live aliases in file order
    (alias_live_by_domain), each checked against the search; MariaDB and over
    MAX_ID_DOMAINS domains sort every match instead.
    """
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        return None
    domain_ids = list(domains.order_by().values_list("pk", flat=True)[: MAX_ID_DOMAINS + 1])
    if not domain_ids or len(domain_ids) > MAX_ID_DOMAINS:
        return None
    rows = search_across(domains, words, dense=True)
    alias_table, domain_table = Alias._meta.db_table, Domain._meta.db_table
    marks = ", ".join(["%s"] * len(domain_ids))
    if vendor == "sqlite":
        # CROSS JOIN keeps the domains the outer loop; "+" keeps their id list from driving it.
        probe_sql, probe_params = rows.filter(pk=RawSQL("a.id", ())).values("pk").query.sql_with_params()
        sql = (
            f"SELECT a.id FROM {domain_table} d CROSS JOIN {alias_table} a INDEXED BY alias_live_by_domain "
            f"ON a.domain_id = d.id WHERE +d.id IN ({marks}) AND a.deleted_at IS NULL AND EXISTS ({probe_sql}) "
            "ORDER BY d.name, a.id LIMIT %s OFFSET %s"
        )
        params = [*domain_ids, *probe_params, top - bottom, bottom]
    else:
        # Each domain's first ``top`` matches in file order (its index, stopped early): the
        # first ``top`` of all lie among them, and the sort by name is one domain's at a time.
        each = rows.filter(domain_id=RawSQL("d.id", ())).order_by("id").values("id")[:top]
        each_sql, each_params = each.query.sql_with_params()
        sql = (
            f"SELECT a.id FROM {domain_table} d CROSS JOIN LATERAL ({each_sql}) a "
            f"WHERE d.id IN ({marks}) ORDER BY d.name, a.id LIMIT %s OFFSET %s"
        )
        params = [*each_params, *domain_ids, top - bottom, bottom]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def hit_record(alias: Alias) -> dict[str, Any]:
    """A hit as the API and ``--json`` give it: the alias's fields and its domain's name."""
    return {
        "id": alias.pk,
        "domain": alias.domain.name,
        "key": alias.key,
        "destinations": alias.destination_list,
        "enabled": alias.enabled,
        "comment": alias.comment,
        "version": alias.version,
    }
