"""One search over every domain a user may see: keys, destinations and comments, with the grid's index.

"Which aliases forward to bob@example.org?" is asked of all the maps at once. The words mean
what they mean in a domain's grid (aliasdesk.aliases.search: each one a case-insensitive
substring of key, destinations or comment), over the live aliases (switched on or off) of
``visible_domains(user)``: an API token's scope narrows it there, as everywhere. Results come
grouped by domain (by name), in file order within each.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from aliasdesk.accounts.models import User
from aliasdesk.aliases.access import visible_domains
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import COUNT_CAP, MAX_ID_LIST, MAX_TOKEN_DOMAINS, MAX_WORDS, match_words

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


class AcrossPaginator(Paginator):  # type: ignore[type-arg]  # Django's Paginator is no Generic at run time
    """Pages of a search across domains that never count more than needed (as AliasPaginator).

    The ids of the matches are read through the text index up to COUNT_CAP past the page
    asked for: below that they are the exact total and the page is picked from them; beyond
    it ``capped`` is set and ``count`` is a lower bound.
    """

    def __init__(self, user: User, text: str, per_page: int) -> None:
        self.domains = visible_domains(user)
        self.words = search_words(text)
        self.capped = False
        self._asked = 1
        self._ids: list[int] | None = None
        super().__init__(Alias.objects.none(), per_page)

    def get_page(self, number: Any) -> Page[Alias]:
        try:
            self._asked = max(1, int(number))
        except (TypeError, ValueError):
            self._asked = 1
        return super().get_page(number)

    @cached_property
    def count(self) -> int:
        if not self.words:
            return 0
        limit = (self._asked - 1) * self.per_page + COUNT_CAP + 1
        ids = search_across(self.domains, self.words, within=limit).order_by().values_list("pk", flat=True)
        found = list(ids[:limit])
        if len(found) < limit:
            self._ids = found if len(found) <= MAX_ID_LIST else None
            return len(found)
        self.capped = True
        return limit - 1

    def page(self, number: Any) -> Page[Alias]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.words:
            return Page([], number, self)
        if self._ids is not None:
            rows = Alias.objects.filter(pk__in=self._ids)
        else:
            rows = search_across(self.domains, self.words, dense=self.capped)
        return Page(list(rows.select_related("domain").order_by(*ORDER)[bottom:top]), number, self)


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
