"""Sources of mentions: polling and streaming ingesters that produce to ``mentions.raw``.

The shell builds an `IngestService` from the watchlist and `IngestSettings` and runs it;
the service builds every source itself (`build_sources`: the watchlist's RSS/Atom feeds
and the search feeds and social APIs of ``IngestSettings.sources``, one module each in
``ingest/sources/``). Polled sources implement `ingest.source.Source`, streams
`ingest.stream.StreamSource`. ``stormwatch sources status`` prints
`format_status(service.status())`; ``stormwatch sources test NAME`` prints
`service.poll_once(NAME)`.
"""

from ingest.build import AnySource, build_sources
from ingest.dedup import FeedHealth, IngestState
from ingest.health import format_status
from ingest.rss import RssSource, parse_feed
from ingest.service import IngestService
from ingest.settings import BackoffSettings, IngestSettings, StreamSettings
from ingest.source import Cursor, Fetched, Source, SourceError
from ingest.sources import SOURCE_TYPES, SourceConfig
from ingest.stream import Connection, StreamEvent, StreamRunner, StreamSource, sample

SourceHealth = FeedHealth
"""The health of any source (the name `FeedHealth` predates the non-feed sources)."""

__all__ = [
    "SOURCE_TYPES",
    "AnySource",
    "BackoffSettings",
    "Connection",
    "Cursor",
    "FeedHealth",
    "Fetched",
    "IngestService",
    "IngestSettings",
    "IngestState",
    "RssSource",
    "Source",
    "SourceConfig",
    "SourceError",
    "SourceHealth",
    "StreamEvent",
    "StreamRunner",
    "StreamSettings",
    "StreamSource",
    "build_sources",
    "format_status",
    "parse_feed",
    "sample",
]
