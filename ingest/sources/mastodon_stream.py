"""Mastodon's streaming API: server-sent events from ``/api/v1/streaming/hashtag?tag=..``
(or ``/public``, ``/public/local``), ``event: update`` carrying a status.

Each connection opens the event stream first, then catches up through REST
(``/api/v1/timelines/tag/:hashtag`` or ``/api/v1/timelines/public`` with ``since_id``
the last status id stored, or the backfill window on the first start), then relays the
live statuses; the cursor is the newest status id (`ingest.pager` keys), so a reconnect
continues without a gap. Public timelines carry everything, so their statuses are kept
only when they name a watchlist term (the ``brands`` hint narrows the terms).

Normalisation is `ingest.sources.mastodon.status_mention`'s. Heartbeats (``:thump``
comments, every 15 s) keep the connection alive; no data at all for ``idle_timeout``
counts as a dead connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, ClassVar, Literal

import httpx
from httpx_sse import EventSource, SSEError
from pydantic import model_validator

from ingest.api import hang_up
from ingest.pager import advance, floor_of
from ingest.source import Cursor, SourceError
from ingest.sources.base import (
    HttpUrl,
    Secret,
    SourceContext,
    StreamConfig,
    TermFilter,
    brand_terms,
    location,
)
from ingest.sources.mastodon import (
    KIND,
    api_for,
    normalise_tag,
    status_mention,
    status_text,
    tag_path,
    timeline_walk,
)
from ingest.stream import Connection, StreamEvent

Timeline = Literal["hashtag", "public", "local"]


class MastodonStreamConfig(StreamConfig):
    type: Literal["mastodon_stream"]
    instance: HttpUrl
    """The server, e.g. ``https://mastodon.social`` (its REST API for catching up)."""
    streaming_url: HttpUrl | None = None
    """The streaming server when it is not the instance (``urls.streaming_api`` in
    ``/api/v1/instance``)."""
    timeline: Timeline = "hashtag"
    hashtag: str | None = None
    """The hashtag to follow (``timeline: hashtag``), with or without ``#``."""
    local_only: bool = False
    """For a hashtag: only statuses posted on the instance."""
    token: Secret | None = None
    """An access token (``${MASTODON_TOKEN}``); many servers want one for streaming."""
    kind: ClassVar[str] = KIND

    @model_validator(mode="after")
    def _hashtag(self) -> MastodonStreamConfig:
        if self.timeline == "hashtag":
            if not self.hashtag:
                raise ValueError("timeline hashtag needs a hashtag")
            normalise_tag(self.hashtag)
        elif self.hashtag:
            raise ValueError(f"timeline {self.timeline} takes no hashtag")
        return self

    def build(self, ctx: SourceContext) -> MastodonStream:
        return MastodonStream(self, ctx)


class MastodonStream:
    kind = KIND

    def __init__(self, config: MastodonStreamConfig, ctx: SourceContext) -> None:
        self.config = config
        self._clock = ctx.clock
        timeout = config.timeout.total_seconds()
        self._rest = api_for(ctx, config.instance, config.token, timeout)
        self._live = api_for(ctx, config.streaming_url or config.instance, config.token, timeout)
        self._filter: TermFilter | None = None
        if config.timeline == "hashtag":
            tag = normalise_tag(config.hashtag or "")
            local = config.local_only
            self._stream_path = "/api/v1/streaming/hashtag" + ("/local" if local else "")
            self._stream_params = {"tag": tag}
            self._rest_path = tag_path(tag)
            self._rest_params = {"local": "true"} if local else {}
        else:
            local = config.timeline == "local"
            self._stream_path = "/api/v1/streaming/public" + ("/local" if local else "")
            self._stream_params = {}
            self._rest_path = "/api/v1/timelines/public"
            self._rest_params = {"local": "true"} if local else {}
            self._filter = brand_terms(ctx.watchlist, config.brands)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def location(self) -> str | None:
        return location(self._live.url(self._stream_path))

    def connect(self, cursor: Cursor) -> Connection:
        stack = ExitStack()
        response = stack.enter_context(
            self._live.stream(
                self._stream_path,
                self._stream_params,
                accept="text/event-stream",
                idle_timeout=self.config.idle_timeout.total_seconds(),
            )
        )

        def close() -> None:
            hang_up(response)
            stack.close()

        return Connection(self._events(response, dict(cursor)), close)

    def _events(self, response: httpx.Response, state: dict[str, str]) -> Iterator[StreamEvent]:
        now = self._clock.now()
        caught = timeline_walk(
            self._rest,
            self._rest_path,
            self._rest_params,
            "since_id",
            state,
            now=now,
            floor=floor_of(state, now, self.config.backfill),
            max_pages=self.config.max_pages,
            to_mention=lambda s: status_mention(s, self.name, now) if self._wanted(s) else None,
        )
        state = caught.cursor
        yield StreamEvent(tuple(caught.mentions), dict(state))
        try:
            for sse in EventSource(response).iter_sse():
                if sse.event != "update":  # deletes, edits, notifications: not new mentions
                    continue
                status = _status(sse.data)
                if status is None:
                    continue
                state = advance(state, str(status["id"]), int)
                wanted = self._wanted(status)
                found = status_mention(status, self.name, self._clock.now()) if wanted else None
                yield StreamEvent((found,) if found else (), dict(state))
        except httpx.TimeoutException:
            idle = self.config.idle_timeout.total_seconds()
            raise SourceError(f"no data for {idle:g}s (not even a heartbeat)") from None
        except SSEError:
            raise SourceError("the server did not answer with an event stream") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"stream broke: {type(exc).__name__}") from None

    def _wanted(self, status: dict[str, Any]) -> bool:
        return self._filter is None or self._filter(status_text(status))


def _status(data: str) -> dict[str, Any] | None:
    try:
        status = json.loads(data)
    except json.JSONDecodeError:
        return None
    if not isinstance(status, dict) or not str(status.get("id", "")).isdigit():
        return None
    return status
