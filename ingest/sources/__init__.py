"""The source kinds beyond the watchlist's RSS feeds, one module each, and their
registry: ``type`` in the settings file → config model (`SOURCE_TYPES`).

Settings shape (under ``ingest:``; see docs/sources.md for every kind)::

    sources:
      - type: google_news
        name: gnews-acme
        query: '"Acme" OR "Acme Corp"'
      - type: x_stream
        name: x-live
        rules: ["acme OR #acme -is:retweet"]
        token: ${X_BEARER_TOKEN}

`SourceConfig` is the discriminated union the settings validate against (an unknown
``type`` is refused at load with the known ones listed); each model's ``build`` makes
the `ingest.source.Source` (polled) or `ingest.stream.StreamSource` (streamed).
"""

from __future__ import annotations

import typing
from typing import Annotated

from pydantic import Field

from ingest.sources.base import PolledConfig, SourceContext, StreamConfig
from ingest.sources.base import SourceConfig as BaseSourceConfig
from ingest.sources.bluesky import BlueskySearchConfig
from ingest.sources.feeds import BingNewsConfig, GoogleAlertsConfig, GoogleNewsConfig
from ingest.sources.hackernews import HackerNewsConfig
from ingest.sources.jetstream import JetstreamConfig
from ingest.sources.mastodon import MastodonConfig
from ingest.sources.mastodon_stream import MastodonStreamConfig
from ingest.sources.reddit import RedditConfig
from ingest.sources.x import XSearchConfig
from ingest.sources.x_stream import XStreamConfig
from ingest.sources.youtube import YouTubeConfig

AnySourceConfig = (
    GoogleAlertsConfig
    | GoogleNewsConfig
    | BingNewsConfig
    | RedditConfig
    | HackerNewsConfig
    | YouTubeConfig
    | MastodonConfig
    | MastodonStreamConfig
    | BlueskySearchConfig
    | JetstreamConfig
    | XSearchConfig
    | XStreamConfig
)
SourceConfig = Annotated[AnySourceConfig, Field(discriminator="type")]
"""One configured source; ``type`` picks the model."""


def _registry() -> dict[str, type[BaseSourceConfig]]:
    table: dict[str, type[BaseSourceConfig]] = {}
    for model in typing.get_args(AnySourceConfig):
        (tag,) = typing.get_args(model.model_fields["type"].annotation)
        table[tag] = model
    return table


SOURCE_TYPES: dict[str, type[BaseSourceConfig]] = _registry()
"""``type`` → config model, e.g. ``SOURCE_TYPES["reddit"] is RedditConfig``."""

__all__ = [
    "SOURCE_TYPES",
    "AnySourceConfig",
    "BaseSourceConfig",
    "BingNewsConfig",
    "BlueskySearchConfig",
    "GoogleAlertsConfig",
    "GoogleNewsConfig",
    "HackerNewsConfig",
    "JetstreamConfig",
    "MastodonConfig",
    "MastodonStreamConfig",
    "PolledConfig",
    "RedditConfig",
    "SourceConfig",
    "SourceContext",
    "StreamConfig",
    "XSearchConfig",
    "XStreamConfig",
    "YouTubeConfig",
]
