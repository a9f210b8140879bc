"""The store port and its adapters. `open_store` picks the adapter the settings name."""

from __future__ import annotations

from core.settings import StoreSettings
from core.store.port import (
    Bucket,
    Hit,
    Kind,
    QueryError,
    SearchQuery,
    SearchResult,
    Store,
    StoreError,
)


def open_store(settings: StoreSettings) -> Store:
    """The store the settings select (nothing is contacted until it is used)."""
    if settings.adapter == "elasticsearch":
        from core.store.elastic import ElasticStore

        return ElasticStore(settings.elasticsearch)
    from core.store.sqlite import SqliteStore

    return SqliteStore(settings.embedded.path)


__all__ = [
    "Bucket",
    "Hit",
    "Kind",
    "QueryError",
    "SearchQuery",
    "SearchResult",
    "Store",
    "StoreError",
    "open_store",
]
