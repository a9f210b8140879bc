"""The store port: mentions and alerts, indexed by id and searched like Kibana does.

Contract every adapter keeps (tests/core/test_store_contract.py checks it):

* Indexing is idempotent by id: indexing a record again replaces it, never duplicates it.
* After `Store.refresh`, everything indexed before it is searchable.
* `Store.search` takes a Lucene-style query string (terms, "phrases", AND/OR/NOT, ``-x``,
  ``+x``, ``field:value``, ``prefix*``, parentheses; default operator AND over title and
  text) and filters; it returns the total, a page of hits with ``<mark>`` highlights
  (HTML-escaped text), a date histogram with empty buckets filled, and term facets
  (count descending, then term ascending).
* Given the same data, both adapters return the same totals, the same hits in
  ``newest`` order, the same histogram and the same facets. ``relevance`` order is each
  engine's own (BM25 in both, with different statistics) and may differ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from core.records import Alert, EnrichedMention

Kind = Literal["mentions", "alerts"]

#: Fields each kind can be filtered and faceted on (single-valued keywords).
FACET_FIELDS: dict[Kind, tuple[str, ...]] = {
    "mentions": ("brand", "source", "source_name", "language", "sentiment"),
    "alerts": ("brand", "rule", "rule_type", "severity", "state"),
}
#: The time field of each kind (filters, histogram, ``newest`` order).
TIME_FIELD: dict[Kind, str] = {"mentions": "published_at", "alerts": "at"}
#: Full-text fields searched when a query term names no field.
TEXT_FIELDS: dict[Kind, tuple[str, ...]] = {
    "mentions": ("title", "text"),
    "alerts": ("summary",),
}
#: Keyword fields a query may name (``brand:acme``).
KEYWORD_FIELDS: dict[Kind, tuple[str, ...]] = {
    "mentions": (
        "id",
        "mention_id",
        "brand",
        "source",
        "source_name",
        "language",
        "sentiment",
        "author",
        "url",
    ),
    "alerts": ("id", "fingerprint", "brand", "rule", "rule_type", "severity", "state"),
}


MAX_BUCKETS = 5000


class StoreError(RuntimeError):
    """The store refused or failed an operation; the message says which and why."""


class QueryError(ValueError):
    """The query string cannot be understood; the message says where."""


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    """Lucene-style query string; empty matches everything."""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Field -> accepted values (any of them), e.g. ``{"brand": ("acme",)}``."""
    since: datetime | None = None
    """Inclusive lower bound of the time field."""
    until: datetime | None = None
    """Exclusive upper bound of the time field."""
    size: int = 20
    offset: int = 0
    sort: Literal["newest", "relevance"] = "newest"
    histogram: timedelta | None = None
    histogram_until: datetime | None = None
    """Without ``until``, where the histogram's empty buckets reach at least (the search
    page: now), so a quiet last hours show as zeros instead of a chart that stops at the
    newest mention."""
    facets: tuple[str, ...] = ()
    highlight: bool = True

    def validate(self, kind: Kind) -> Self:
        allowed = FACET_FIELDS[kind]
        for name in (*self.filters, *self.facets):
            if name not in allowed:
                raise QueryError(f"cannot filter or facet {kind} on {name!r}; use {allowed}")
        if self.histogram is not None and self.histogram.total_seconds() < 1:
            raise QueryError("histogram interval must be at least one second")
        if self.size < 0 or self.offset < 0 or self.size + self.offset > 10_000:
            raise QueryError("size and offset must be >= 0 and size + offset <= 10000")
        for bound in (self.since, self.until):
            if bound is not None and bound.tzinfo is None:
                raise QueryError("since/until must be timezone-aware")
        return self


@dataclass(frozen=True)
class Hit:
    id: str
    doc: dict[str, Any]
    score: float | None = None
    highlights: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    count: int


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[Hit]
    histogram: list[Bucket] = field(default_factory=list)
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


class Store(ABC):
    name: str

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create indices/tables and templates that do not exist yet."""

    @abstractmethod
    def index_mentions(self, mentions: Sequence[EnrichedMention]) -> int:
        """Index (or replace) by id; returns how many were written. Raises `StoreError`."""

    @abstractmethod
    def index_alerts(self, alerts: Sequence[Alert]) -> int:
        """Index by episode: a resolved alert replaces its firing state."""

    @abstractmethod
    def refresh(self) -> None: ...

    @abstractmethod
    def search(self, kind: Kind, query: SearchQuery) -> SearchResult: ...

    @abstractmethod
    def get(self, kind: Kind, doc_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def check(self) -> str:
        """Probe the store; return a one-line description or raise `StoreError`."""

    @abstractmethod
    def drop(self) -> None:
        """Delete everything this store holds (indices, tables). For tests and benches."""

    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bucket_start(when_ms: int, interval: timedelta) -> int:
    """Epoch-aligned bucket start in ms (UTC), as Elasticsearch's fixed_interval does."""
    step = int(interval.total_seconds() * 1000)
    return when_ms - when_ms % step


def fill_histogram(
    counts: dict[int, int], interval: timedelta, since: datetime | None, until: datetime | None
) -> list[Bucket]:
    """Buckets from the first to the last (or the query's bounds), empty ones as zero."""
    step = int(interval.total_seconds() * 1000)
    starts = list(counts)
    if since is not None:
        starts.append(bucket_start(to_ms(since), interval))
    if until is not None:
        starts.append(bucket_start(to_ms(until) - 1, interval))
    if not starts:
        return []
    first, last = min(starts), max(starts)
    if (last - first) // step > MAX_BUCKETS:
        raise QueryError(
            f"the histogram would have over {MAX_BUCKETS} buckets; use a longer interval"
        )
    return [Bucket(from_ms(t), counts.get(t, 0)) for t in range(first, last + step, step)]


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
