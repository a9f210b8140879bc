"""Every source the settings and the watchlist describe, built on one HTTP client."""

from __future__ import annotations

import httpx

from core.clock import Clock
from core.watchlist import Watchlist
from ingest.rss import RssSource
from ingest.settings import IngestSettings
from ingest.source import Source
from ingest.sources import SourceContext
from ingest.stream import StreamSource

AnySource = Source | StreamSource


def build_sources(
    settings: IngestSettings, watchlist: Watchlist, http: httpx.Client, clock: Clock
) -> list[AnySource]:
    """The watchlist's RSS/Atom feeds, then ``settings.sources`` in order.

    Raises `ValueError` when a name is used twice (feeds and sources share one name
    space: it keys the cursor and the health) or a source's ``brands`` hint names a
    brand the watchlist does not have.
    """
    names = [f.name for f in watchlist.feeds] + [s.name for s in settings.sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"source names must be unique across feeds and sources: {dupes}")
    known = {b.id for b in watchlist.brands}
    for config in settings.sources:
        unknown = sorted(set(config.brands) - known)
        if unknown:
            raise ValueError(f"source {config.name!r}: brands {unknown} are not in the watchlist")
    out: list[AnySource] = [
        RssSource(feed, http, settings.user_agent, clock) for feed in watchlist.feeds
    ]
    ctx = SourceContext(http, clock, settings.user_agent, watchlist)
    out.extend(config.build(ctx) for config in settings.sources)
    return out
