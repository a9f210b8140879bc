"""Sources of mentions: polling and streaming ingesters that produce to ``mentions.raw``.

The shell builds an `IngestService` from the watchlist and `IngestSettings` and runs it;
each source kind is a module implementing `ingest.source.Source` (``ingest.rss`` for
RSS and Atom feeds).
"""

from ingest.dedup import FeedHealth, IngestState
from ingest.rss import RssSource, parse_feed
from ingest.service import IngestService
from ingest.settings import BackoffSettings, IngestSettings
from ingest.source import Cursor, Fetched, Source, SourceError

__all__ = [
    "BackoffSettings",
    "Cursor",
    "FeedHealth",
    "Fetched",
    "IngestService",
    "IngestSettings",
    "IngestState",
    "RssSource",
    "Source",
    "SourceError",
    "parse_feed",
]
