"""The grid's current view (search, filter, "no mail for N days", order) in words and as a
query string: the domain page's "this view" downloads carry it, the report's head says it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliasdesk.aliases.search import FILTERS, SORTS, AliasQuery

# The way a column sorts at the first click: what is biggest or newest first where that is
# what one looks for.
DESCENDING_FIRST = frozenset({"updated", "traffic", "seen"})


def narrows(query: AliasQuery) -> bool:
    """The view shows fewer aliases than the domain has (its order alone changes nothing)."""
    return bool(query.q or query.filter != "all" or query.unused)


def describe(query: AliasQuery) -> list[str]:
    notes = []
    if query.q:
        notes.append(_("search “{text}”").format(text=query.q))
    if query.filter != "all":
        notes.append(str(FILTERS[query.filter]).lower())
    if query.unused:
        notes.append(ngettext("no mail for {count} day", "no mail for {count} days", query.unused).format(
            count=query.unused))
    return notes


def query_string(query: AliasQuery) -> str:
    """The view as URL parameters ("" for every live alias in file order)."""
    given = {
        "q": query.q,
        "show": "" if query.filter == "all" else query.filter,
        "unused": str(query.unused or ""),
        "order": "" if query.order == "file" else query.order,
    }
    return urlencode({k: v for k, v in given.items() if v})


def sort_headers(query: AliasQuery, params: dict[str, str]) -> dict[str, dict[str, str]]:
    """For each column the grid sorts by (search.SORTS): the link that sorts by it (the other way
    round when it is the order already, from page one, the search and filters kept), and, for
    the column sorted by, its aria-sort and arrow."""
    kept = {k: v for k, v in params.items() if k not in ("order", "page")}
    headers = {}
    for name in SORTS:
        if query.order == name:
            order, aria, arrow = f"-{name}", "ascending", "▲"
        elif query.order == f"-{name}":
            order, aria, arrow = name, "descending", "▼"
        else:
            order, aria, arrow = (f"-{name}" if name in DESCENDING_FIRST else name), "", ""
        headers[name] = {"href": "?" + urlencode({**kept, "order": order}), "aria": aria, "arrow": arrow}
    return headers
