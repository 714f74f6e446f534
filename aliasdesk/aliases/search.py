"""Finding aliases in a domain: text search over keys, destinations and comments, filters, order.

A search is a few words; every word must be found, as a case-insensitive
substring, in the key, the destinations or the comment. Words of three characters
or more are looked up in a trigram index first (see migration 0002): on SQLite an
FTS5 trigram table, on PostgreSQL a pg_trgm GIN index. The index only narrows the
rows down; the words are then checked on those rows exactly as without an index,
so results are the same on every database. MariaDB and shorter words scan with LIKE.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import BooleanField, Count, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy

from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.traffic import traffic_columns

FILTERS = {
    "all": gettext_lazy("All live"),
    "enabled": gettext_lazy("Switched on"),
    "disabled": gettext_lazy("Switched off"),
    "expiring": gettext_lazy("Expiring (valid until set)"),
    "deleted": gettext_lazy("Deleted (trash)"),
}
# "Unused for N days" choices offered in the grid; any other N works in the URL.
UNUSED_CHOICES = (30, 90, 180, 365)
# The grid's sort orders (?order=): a column, or with "-" that column descending; ties go by
# key, then id. "file" (the default) is the order of the map file. See ordered().
SORTS = ("key", "dest", "on", "updated", "traffic", "seen")
ORDERS = frozenset({"file", *SORTS, *(f"-{name}" for name in SORTS)})
MAX_WORDS = 5
# Shorter words have no trigram to look up: they are matched by scanning.
MIN_INDEXED = 3
MAX_PIECES = 4
# A grid page counts matches only this far past itself, then says "more than".
COUNT_CAP = 1_000
# Up to this many matching ids are kept to pick a page from (one query parameter each).
MAX_ID_LIST = 5_000
COUNTS_TTL = 300
# A grid page's aliases are kept this long under the domain's serial (AliasPaginator.walk).
PAGE_SECONDS = 300
# Up to this many domains, the SQLite index is asked for their rows only (beyond, the
# probe of each candidate row filters them).
MAX_TOKEN_DOMAINS = 10
# PostgreSQL: refresh the planner's statistics after a bulk insert of this many rows.
ANALYZE_AFTER = 10_000

# Names and text of migration 0002 (a test checks they agree).
SEARCH_TABLE = "aliases_alias_search"
INSERT_TRIGGER = f"{SEARCH_TABLE}_insert"
SQLITE_BODY = (
    "char(63743, 57344 + ({row}.domain_id / 4096) % 4096, 57344 + {row}.domain_id % 4096, 63743)"
    ' || char(10) || {row}."key" || char(10) || {row}.destinations || char(10) || {row}.comment'
)
POSTGRES_TEXT = (
    '("aliases_alias"."key" || chr(10) || "aliases_alias"."destinations" || chr(10) || "aliases_alias"."comment")'
)


@dataclass
class AliasQuery:
    q: str = ""
    filter: str = "all"
    order: str = "file"
    # Only aliases switched on, created over this many days ago, and without mail logged since.
    unused: int | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> AliasQuery:
        text = params.get("q", "").strip()[:200]
        show = params.get("show", "all")
        order = params.get("order", "file")
        return cls(text, show if show in FILTERS else "all", order if order in ORDERS else "file",
                   _unused_days(params.get("unused", "")))

    @property
    def words(self) -> list[str]:
        return self.q.split()[:MAX_WORDS]


def _unused_days(text: str) -> int | None:
    """The grid's ``unused`` parameter; anything but a number of days in range is no filter."""
    try:
        days = int(text.strip()[:6])
    except ValueError:
        return None
    return days if 0 < days <= traffic_columns().max_unused_days else None


def search_aliases(
    domain: Domain, query: AliasQuery, *, within: int | None = None, dense: bool = False
) -> QuerySet[Alias]:
    """The domain's aliases matching the query; every word must match key, destinations or comment.

    ``within`` asks for no more than the first ``within`` matches in file order: enough
    for a page or a capped count, and lets the SQLite index stop early. ``dense`` says
    that matches are many: then reading the domain in the order asked for finds a
    page sooner than the text index, which would gather every match first.
    """
    rows = match_words(_filtered(domain, query), query.words, [domain.pk], within=within, dense=dense)
    return ordered(rows, query.order)


def ordered(rows: QuerySet[Alias], order: str) -> QuerySet[Alias]:
    """``rows`` in one of ORDERS; ties by key, then id, so that pages never overlap.

    Key and file order follow indexes of their own, "updated" the (domain, updated_at, key) one.
    Mail (traffic) is summed per alias for the sort, one index lookup per alias, and "seen"
    joins the aliases' usage rows: both read the whole view, which a search keeps short.
    """
    if order == "file":
        return rows.order_by("id")
    name = order.removeprefix("-")
    descending = order.startswith("-")
    traffic = traffic_columns()
    if name == "traffic":
        rows = rows.annotate(received_sort=traffic.received())
    fields = {"key": "key_folded", "dest": "destinations", "on": "enabled", "updated": "updated_at",
              "traffic": "received_sort", "seen": traffic.last_seen}
    columns = [F(fields[name])] + ([] if name == "key" else [F("key_folded")]) + [F("id")]
    # Descending is the exact reverse, ties too: an index read backwards serves it.
    by = [c.desc() if descending else c.asc() for c in columns]
    if name == "seen":  # never seen counts as longest ago, on every database
        by[0] = columns[0].desc(nulls_last=True) if descending else columns[0].asc(nulls_first=True)
    return rows.order_by(*by)


def match_words(
    rows: QuerySet[Alias], words: list[str], domain_ids: list[int] | None, *, within: int | None, dense: bool
) -> QuerySet[Alias]:
    """``rows`` holding every word in key, destinations or comment, through the text index.

    ``domain_ids``: the domains ``rows`` lie in, when they are few (the SQLite index is
    then asked for their rows only); None for many or every domain. ``within`` and
    ``dense`` as for search_aliases. The grid searches one domain with it, the search
    across domains (aliasdesk.aliases.across) several.
    """
    vendor = connection.vendor
    if vendor == "postgresql":
        for word in words:
            rows = rows.filter(_postgres_word(word, indexed=not dense))
        return rows
    for word in words:
        rows = rows.filter(
            Q(key_folded__contains=word.lower()) | Q(destinations__icontains=word) | Q(comment__icontains=word)
        )
    indexable = [w for w in words if len(w) >= MIN_INDEXED]
    if indexable and vendor == "sqlite" and not (dense and within is None):
        rows = Alias.objects.filter(pk__in=_sqlite_matches(domain_ids, indexable, rows, within))
    return rows


def _filtered(domain: Domain, query: AliasQuery) -> QuerySet[Alias]:
    rows = Alias.objects.filter(domain=domain)
    if query.filter == "deleted":
        return rows.filter(deleted_at__isnull=False)
    rows = rows.filter(deleted_at__isnull=True)
    if query.filter == "enabled":
        rows = rows.filter(enabled=True)
    elif query.filter == "disabled":
        rows = rows.filter(enabled=False)
    elif query.filter == "expiring":
        rows = rows.filter(valid_until__isnull=False)
    if query.unused:
        rows = rows.filter(traffic_columns().unused(query.unused))
    return rows


def _pieces(word: str) -> list[str]:
    """Up to four three-character pieces of the word for the index to look up.

    Every row holding the word holds its pieces, so the index may narrow rows down by
    them; the word itself is checked on what remains. Each piece costs the index a
    posting list to walk, and a common one ("exa", "com") is long. So pieces come from
    runs of letters and digits (one trigram each to pg_trgm); pieces with digits first
    (numbers tell aliases apart), then from the word's rare part: the local part of an
    address, or a host name's labels before its domain (``staff`` of ``staff.example.org``),
    which thousands of aliases share. Two pieces of the rare part are enough; the shared
    part adds pieces only where the rare part has fewer.
    """
    rare, shared = _rare_part(word)
    pieces = _ordered_pieces(rare)
    if len(pieces) < 2:
        pieces += [p for p in _ordered_pieces(shared) if p not in pieces][: 2 - len(pieces)]
    return pieces[:MAX_PIECES]


def _rare_part(word: str) -> tuple[str, str]:
    """The part of the word that tells aliases apart, and the part many of them share."""
    if "@" in word:
        local, _, domain = word.partition("@")
        return local, domain
    labels = word.split(".")
    if len(labels) > 2 and labels[-1].isalpha():
        return ".".join(labels[:-2]), ".".join(labels[-2:])
    return word, ""


def _ordered_pieces(text: str) -> list[str]:
    pieces: list[str] = []
    for run in re.findall(r"[^\W_]{3,}", text) or [text]:
        if len(run) < 3:
            continue
        starts = list(range(0, len(run) - 2, 3))
        if starts[-1] != len(run) - 3:
            starts.append(len(run) - 3)
        pieces += [run[i : i + 3] for i in starts]
    unique = list(dict.fromkeys(pieces))
    with_digits = [p for p in unique if any(c.isdigit() for c in p)]
    return with_digits + [p for p in unique if p not in with_digits]


def _postgres_word(word: str, indexed: bool) -> RawSQL:
    """The word as a case-insensitive substring of the text, and the index's way to it.

    pg_trgm would turn ``ILIKE '%word%'`` into every trigram of the word; instead the
    index is asked for the word's pieces and the word itself is checked with strpos(),
    which the index cannot serve. Without ``indexed`` nothing can use the index: the
    planner then reads the domain in order, quickest when matches are many.
    """
    sql = f"strpos(lower({POSTGRES_TEXT}), lower(%s)) > 0"
    params = [word]
    for piece in _pieces(word) if indexed and len(word) >= MIN_INDEXED else []:
        sql += f" AND {POSTGRES_TEXT} ILIKE %s"
        params.append("%" + piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return RawSQL(sql, params, output_field=BooleanField())


def domain_token(domain_id: int) -> str:
    """The characters SQLITE_BODY puts before a domain's text in the index."""
    return f"\uf8ff{chr(0xE000 + (domain_id // 4096) % 4096)}{chr(0xE000 + domain_id % 4096)}\uf8ff"


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _fts_expression(domain_ids: list[int] | None, words: list[str]) -> str:
    """The words' pieces, all of them; with the domains' tokens when a few domains are searched."""
    pieces = " AND ".join(_quoted(p) for p in dict.fromkeys(piece for word in words for piece in _pieces(word)))
    if not domain_ids or len(domain_ids) > MAX_TOKEN_DOMAINS:
        return pieces
    tokens = [domain_token(pk) for pk in sorted(set(domain_ids))]
    if len(tokens) == 1:
        return f"{_quoted(tokens[0][:3])} AND {_quoted(tokens[0][1:])} AND {pieces}"
    either = " OR ".join(f"({_quoted(t[:3])} AND {_quoted(t[1:])})" for t in tokens)
    return f"({either}) AND {pieces}"


def _sqlite_matches(
    domain_ids: list[int] | None, words: list[str], rows: QuerySet[Alias], within: int | None
) -> RawSQL:
    """Ids of ``rows`` among the index's candidates, walked in id order.

    The index yields its candidates in rowid order; each is checked against the full
    filter (a primary-key probe), and the walk stops after ``within`` matches.
    """
    probe = rows.filter(pk=RawSQL("s.rowid", ())).values("pk")
    probe_sql, probe_params = probe.query.sql_with_params()
    sql = (
        f"SELECT s.rowid FROM {SEARCH_TABLE} s WHERE s.{SEARCH_TABLE} MATCH %s "
        f"AND EXISTS ({probe_sql}) ORDER BY s.rowid LIMIT %s"
    )
    return RawSQL(sql, (_fts_expression(domain_ids, words), *probe_params, -1 if within is None else within))


class CappedPaginator(Paginator):  # type: ignore[type-arg]  # Django's Paginator is no Generic at run time
    """Pages of search results that never count more than needed: the grid's and the search across domains'.

    An exact COUNT(*) of 500,000 matches costs more than the page itself. So the ids of the
    matches are read, through the text index, only up to COUNT_CAP past the page asked for
    (unless ``known_total`` knows the total without that). Below the cap they are the exact
    total and the page is picked from them; beyond it ``capped`` is set, ``count`` is a
    lower bound, the next page still works, and the page is read by ``walk``, in the order
    of an index and without the text index (matches are many).

    Subclasses say what matches (``match_ids``), in which order (``ordered``), and how to
    read a page of many matches (``walk``).
    """

    def __init__(self, per_page: int) -> None:
        self.capped = False
        self._asked = 1
        self._ids: list[int] | None = None
        # The rows come from match_ids, ordered and walk: no object_list to hand over.
        super().__init__([], per_page)

    def get_page(self, number: Any) -> Page[Alias]:
        try:
            self._asked = max(1, int(number))
        except (TypeError, ValueError):
            self._asked = 1
        return super().get_page(number)

    def known_total(self) -> int | None:
        """The total when known without reading the matches (None: read them)."""
        return None

    def match_ids(self, within: int) -> QuerySet[Alias]:
        """The matches (at least the first ``within`` in file order), unordered."""
        raise NotImplementedError

    def ordered(self, rows: QuerySet[Alias]) -> QuerySet[Alias]:
        """``rows`` in the order of the pages, with what a page shows of them."""
        raise NotImplementedError

    def walk(self, bottom: int, top: int) -> list[Alias]:
        """Matches ``bottom`` to ``top`` in page order, when they are too many to list their ids."""
        raise NotImplementedError

    @cached_property
    def count(self) -> int:
        known = self.known_total()
        if known is not None:
            return known
        limit = (self._asked - 1) * self.per_page + COUNT_CAP + 1
        found = list(self.match_ids(limit).order_by().values_list("pk", flat=True)[:limit])
        if len(found) < limit:
            self._ids = found if len(found) <= MAX_ID_LIST else None
            return len(found)
        self.capped = True
        return limit - 1

    def page(self, number: Any) -> Page[Alias]:
        number = self.validate_number(number)
        if not self.count:
            return Page([], number, self)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if self._ids is not None:
            return Page(list(self.ordered(Alias.objects.filter(pk__in=self._ids))[bottom:top]), number, self)
        return Page(self.walk(bottom, top), number, self)


class AliasPaginator(CappedPaginator):
    """Pages of a domain's search results (the grid); with no words, the total is the domain's cached count."""

    def __init__(self, domain: Domain, query: AliasQuery, per_page: int, *, fresh: bool = False) -> None:
        self.domain, self.query, self.fresh = domain, query, fresh
        super().__init__(per_page)

    def known_total(self) -> int | None:
        return _known_total(self.domain, self.query, fresh=self.fresh)

    def match_ids(self, within: int) -> QuerySet[Alias]:
        return search_aliases(self.domain, self.query, within=within)

    def ordered(self, rows: QuerySet[Alias]) -> QuerySet[Alias]:
        return ordered(rows, self.query.order).select_related("updated_by")

    def walk(self, bottom: int, top: int) -> list[Alias]:
        key = self._kept_key(bottom, top)
        if key is not None:
            kept = cache.get(key)
            if kept is not None:
                return list(kept)
        within = top if self.query.order == "file" else None
        rows = search_aliases(self.domain, self.query, within=within, dense=self.capped)
        found = list(rows.select_related("updated_by")[bottom:top])
        if key is not None:
            cache.set(key, found, PAGE_SECONDS)
        return found

    def _kept_key(self, bottom: int, top: int) -> str | None:
        """The cache key of a page that depends on the domain's aliases alone, which change
        only with its serial (read in this request: ``fresh``); None for pages that also
        depend on the mail logs (traffic order, "no mail for N days")."""
        if not self.fresh or self.query.unused or self.query.order.lstrip("-") in ("traffic", "seen"):
            return None
        # created_at: a domain made again under a reused id (as _counts) is another domain
        domain = self.domain
        what = f"{domain.pk}|{domain.created_at.timestamp()}|{domain.serial}|{self.query!r}|{bottom}|{top}"
        what += f"|{self.capped}"
        return "alias-page:" + hashlib.md5(what.encode()).hexdigest()


def _known_total(domain: Domain, query: AliasQuery, *, fresh: bool = False) -> int | None:
    if query.words or query.filter == "expiring" or query.unused:
        return None
    counts = alias_counts(domain, fresh=fresh)
    if query.filter == "all":
        return counts["enabled"] + counts["disabled"]
    return counts[query.filter]


def _count_rows(domain_ids: list[int], today: date) -> dict[int, dict[str, int]]:
    """Counted in two passes, each in the order of an index.

    One pass with every test would follow the (domain, key) index and fetch the rows in
    key order: a random walk, eight times slower. Totals need that index alone; the live
    counts follow alias_live_by_domain, which reads the rows in file order.
    """
    names = ["enabled", "disabled", "deleted", "expiring"]
    counts = {domain_id: dict.fromkeys(names, 0) for domain_id in domain_ids}
    totals = Alias.objects.filter(domain_id__in=domain_ids).values("domain_id").annotate(n=Count("pk")).order_by()
    live = (
        Alias.objects.filter(domain_id__in=domain_ids, deleted_at__isnull=True)
        .values("domain_id")
        .annotate(
            n_enabled=Count("pk", filter=Q(enabled=True)),
            n_disabled=Count("pk", filter=Q(enabled=False)),
            n_expiring=Count("pk", filter=Q(valid_until__gte=today)),
        )
        .order_by()
    )
    for row in live:
        counts[row["domain_id"]].update(
            enabled=row["n_enabled"], disabled=row["n_disabled"], expiring=row["n_expiring"]
        )
    for total in totals:
        entry = counts[total["domain_id"]]
        entry["deleted"] = total["n"] - entry["enabled"] - entry["disabled"]
    return counts


# domain id -> ((created_at, serial, day), time counted, counts). A plain dict, one entry
# per domain: Django's default local-memory cache keeps 300 keys, fewer than the domains
# of a large site. Each process keeps its own, as it would with that cache.
_counts: dict[int, tuple[tuple[datetime, int, date], float, dict[str, int]]] = {}


def alias_counts(domain: Domain, *, fresh: bool = False) -> dict[str, int]:
    """How many of the domain's aliases are switched on, off, deleted and expiring.

    Counting a 500,000-alias domain takes longer than rendering its page, so counts are
    kept under the domain's ``serial``: every change to its aliases bumps it (the deploy
    engine relies on that too), so kept counts never go stale; COUNTS_TTL bounds the
    harm of a write that forgot to. ``fresh``: the caller read ``domain`` in this request
    and changed nothing since, so its serial is the stored one.
    """
    if fresh:
        serial = domain.serial
    else:
        serial = Domain.objects.filter(pk=domain.pk).values_list("serial", flat=True).first() or 0
    return alias_counts_many([(domain.pk, domain.created_at, serial)])[domain.pk]


def alias_counts_many(domains: list[tuple[int, datetime, int]]) -> dict[int, dict[str, int]]:
    """alias_counts for many domains at once, given as (id, created_at, serial) read just now."""
    today = timezone.localdate()
    now = time.monotonic()
    counts: dict[int, dict[str, int]] = {}
    stamps = {pk: (created, serial, today) for pk, created, serial in domains}
    for pk, stamp in stamps.items():
        kept = _counts.get(pk)
        if kept is not None and kept[0] == stamp and now - kept[1] < COUNTS_TTL:
            counts[pk] = dict(kept[2])
    missing = [pk for pk in stamps if pk not in counts]
    for start in range(0, len(missing), 500):
        fresh = _count_rows(missing[start : start + 500], today)
        for pk, value in fresh.items():
            _counts[pk] = (stamps[pk], now, value)
        counts.update(fresh)
    return counts


@dataclass
class CountedChange:
    """A change to some of a domain's aliases whose effect on alias_counts is known: the kept
    counts move by it instead of a recount (2 s on a 500,000-alias domain) after every toggle."""

    domain_id: int
    serial: int
    ids: list[int]
    before: dict[str, int]

    @classmethod
    def watch(cls, domain: Domain, ids: list[int]) -> CountedChange:
        """Before the change: the domain's serial and what the aliases ``ids`` count as."""
        serial = Domain.objects.filter(pk=domain.pk).values_list("serial", flat=True).first() or 0
        return cls(domain.pk, serial, ids, _states(ids)[0])

    def carry(self) -> None:
        """After the change: when it was the domain's only change since watch() (one serial
        further, on these aliases) and the counts before it are kept, move them by it."""
        after, newest = _states(self.ids)
        serial = Domain.objects.filter(pk=self.domain_id).values_list("serial", flat=True).first() or 0
        kept = _counts.get(self.domain_id)
        if kept is None or serial != self.serial + 1 or newest != serial or kept[0][1] != self.serial:
            return
        created, _serial, day = kept[0]
        if day != timezone.localdate() or time.monotonic() - kept[1] >= COUNTS_TTL:
            return
        counts = {name: n + after.get(name, 0) - self.before.get(name, 0) for name, n in kept[2].items()}
        _counts[self.domain_id] = ((created, serial, day), kept[1], counts)


def _states(ids: list[int]) -> tuple[dict[str, int], int]:
    """How the aliases ``ids`` count in alias_counts, and the newest serial among them."""
    today = timezone.localdate()
    states = dict.fromkeys(("enabled", "disabled", "deleted", "expiring"), 0)
    newest = 0
    for enabled, deleted_at, valid_until, serial in Alias.objects.filter(pk__in=ids).values_list(
        "enabled", "deleted_at", "valid_until", "serial"
    ):
        newest = max(newest, serial)
        if deleted_at is not None:
            states["deleted"] += 1
            continue
        states["enabled" if enabled else "disabled"] += 1
        if valid_until is not None and valid_until >= today:
            states["expiring"] += 1
    return states, newest


@contextmanager
def indexing_in_bulk() -> Iterator[None]:
    """Around a bulk insert of aliases: index the new rows in one pass at the end.

    SQLite's insert trigger indexes row by row, and FTS5 writes out its buffer at every
    statement: executemany of 500,000 rows would take four times as long. Instead the trigger
    is dropped for the duration and the rows inserted meanwhile (ids above the old
    maximum) are indexed at once. All of it happens in one transaction, which holds
    SQLite's write lock from the DROP on: no other writer ever sees the trigger missing,
    and a failure restores it. PostgreSQL keeps its index by itself, but gets fresh
    statistics after a large insert.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            before = _max_alias_id(cursor)
            yield
            if _max_alias_id(cursor) - before >= ANALYZE_AFTER:
                # The planner picks the trigram index or a scan by these statistics;
                # autovacuum may be off or minutes away.
                cursor.execute(f"ANALYZE {Alias._meta.db_table}")
        return
    if connection.vendor != "sqlite":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [INSERT_TRIGGER])
        trigger = cursor.fetchone()
        if trigger is None:
            yield
            return
        cursor.execute(f"DROP TRIGGER {INSERT_TRIGGER}")
        before = _max_alias_id(cursor)
        yield
        body = SQLITE_BODY.format(row="a")
        # In rowid order: FTS5 writes its buffer out whenever a rowid goes down.
        cursor.execute(
            f"INSERT INTO {SEARCH_TABLE}(rowid, body) SELECT a.id, {body} FROM {Alias._meta.db_table} a "
            "WHERE a.id > %s ORDER BY a.id",
            [before],
        )
        cursor.execute(trigger[0])


def _max_alias_id(cursor: Any) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Alias._meta.db_table}")
    return int(cursor.fetchone()[0])
