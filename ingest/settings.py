"""Settings of the ingest stage (the per-feed ones live in `core.watchlist.Feed`).

YAML shape, under ``ingest:`` in the settings file (every key optional)::

    ingest:
      user_agent: "stormwatch-ingest/1 (+https://example.com/contact)"
      concurrency: 8            # feeds fetched in parallel
      first_poll_jitter: 30s    # spread the first polls after a start over this long
      backoff:                  # after consecutive failures of one feed
        initial: 1m
        max: 1h
        jitter: 0.2             # each wait is shortened by up to 20 %, at random
      seen_retention: 30d       # how long an entry is remembered for dedup
      health_window: 1h         # "items in the last ..." in the feed health
      state_file: ingest.db     # under the state directory
      stream:                   # streaming sources (Mastodon, Jetstream, X stream)
        batch_size: 100         # posts produced and marked together at most
        checkpoint_every: 5s    # cursor stored at least this often while events flow
        backoff: {initial: 1s, max: 5m, jitter: 0.5}   # reconnecting
      sources:                  # search feeds and social APIs (docs/sources.md)
        - type: google_news
          name: gnews-acme
          query: '"Acme" OR "Acme Corp"'
        - type: mastodon_stream
          name: mastodon-acme
          instance: https://mastodon.social
          hashtag: acme
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.config import Duration
from ingest.sources import SOURCE_TYPES, SourceConfig
from ingest.sources.base import NotNegative


def _positive(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("must be positive")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BackoffSettings(_Model):
    """Jittered exponential backoff for a failing feed.

    After the n-th consecutive failure the feed waits
    ``min(cap, base * 2**(n-1))`` shortened by a random fraction up to ``jitter`` (but not
    below the interval), where ``base = max(initial, interval)`` and
    ``cap = max(max, interval)``: a failing feed is never polled more often than its
    interval, and never waits longer than ``max`` (or its interval, if that is longer).
    """

    initial: PositiveDuration = timedelta(minutes=1)
    max: PositiveDuration = timedelta(hours=1)
    jitter: float = Field(default=0.2, ge=0, le=1)
    """Fraction of each wait taken off at random, so failing feeds do not retry in step."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.initial:
            raise ValueError("backoff.max must not be shorter than backoff.initial")
        return self

    def delay(self, failures: int, interval: timedelta, rng: random.Random) -> timedelta:
        """How long to wait after ``failures`` (>= 1) consecutive failures."""
        if failures < 1:
            raise ValueError("delay() is for a feed that failed at least once")
        base = max(self.initial, interval).total_seconds()
        cap = max(self.max, interval).total_seconds()
        # 2**n overflows float for huge n; the cap is reached long before 2**64 anyway.
        raw = min(cap, base * 2 ** min(failures - 1, 64))
        jittered = timedelta(seconds=raw * (1 - self.jitter * rng.random()))
        return max(jittered, interval)


class StreamSettings(_Model):
    """How streaming sources deliver and reconnect."""

    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Posts produced, flushed and marked together at most (whatever has arrived is
    delivered at once; under load the batches grow up to this)."""
    checkpoint_every: Duration = timedelta(seconds=5)
    """While only cursor-moving events arrive (a firehose matching nothing), the cursor
    is stored at least this often."""
    backoff: BackoffSettings = BackoffSettings(
        initial=timedelta(seconds=1), max=timedelta(minutes=5), jitter=0.5
    )
    """Waiting before a reconnect: from ``initial`` after a connection that delivered,
    doubling while connecting keeps failing."""


class IngestSettings(_Model):
    user_agent: str = Field(
        default="stormwatch-ingest/1 (feed reader; brand monitoring)", min_length=1
    )
    """Sent with every request; put a contact URL or address in it for feed owners."""
    concurrency: int = Field(default=8, ge=1, le=64)
    """Feeds fetched in parallel (a slow feed occupies one slot until its timeout)."""
    backoff: BackoffSettings = BackoffSettings()
    first_poll_jitter: NotNegative = timedelta(seconds=30)
    """The first poll of each feed after a start is at a random point in this span."""
    seen_retention: PositiveDuration = timedelta(days=30)
    """Entries are remembered this long for dedup; older entries in a feed are ignored."""
    health_window: PositiveDuration = timedelta(hours=1)
    """The span of `FeedHealth.items_recent`."""
    state_file: str = "ingest.db"
    """The SQLite file of seen entries, validators and health, under the state directory."""
    stream: StreamSettings = StreamSettings()
    sources: tuple[SourceConfig, ...] = ()
    """Search feeds and social APIs, each with a unique ``name`` and a ``type``."""

    @field_validator("sources", mode="wrap")
    @classmethod
    def _source_errors_point_at_the_key(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> Any:
        """Drop the union tag pydantic puts in an error's location
        (``sources[0].reddit.query`` → ``sources[0].query``), so the error names the
        key as written and `core.config` finds its line; say plainly when ``type`` is
        missing or unknown."""
        try:
            return handler(value)
        except ValidationError as exc:
            errors: list[Any] = []
            for error in exc.errors():
                loc = error["loc"]
                if len(loc) >= 2 and isinstance(loc[0], int) and loc[1] in SOURCE_TYPES:
                    errors.append({**error, "loc": (loc[0], *loc[2:])})
                elif error["type"] == "union_tag_not_found":
                    errors.append({"type": "missing", "loc": (*loc, "type"), "input": value})
                elif error["type"] == "union_tag_invalid":
                    unknown = PydanticCustomError(
                        "unknown_source_type",
                        "unknown source type, use one of: {known}",
                        {"known": ", ".join(SOURCE_TYPES)},
                    )
                    tag = (error.get("ctx") or {}).get("tag")
                    errors.append({"type": unknown, "loc": (*loc, "type"), "input": tag})
                else:
                    errors.append(error)
            # an unknown key first: it is often the misspelt required one reported missing
            errors.sort(key=lambda e: e["type"] != "extra_forbidden")
            raise ValidationError.from_exception_data(exc.title, errors) from None

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        names = [source.name for source in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {dupes}")
        return value

    @field_validator("state_file")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or "/" in v or "\\" in v or v in {".", ".."}:
            raise ValueError(f"{v!r}: a file name without directories, e.g. ingest.db")
        return v

    @field_validator("user_agent")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v or "\r" in v:
            raise ValueError("must be one line")
        return v
