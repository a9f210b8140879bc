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
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx
from httpx_sse import EventSource, SSEError
from pydantic import model_validator

from core.records import Mention
from ingest.pager import Walk
from ingest.source import Cursor, SourceError
from ingest.sources.base import (
    CatchUpStream,
    HttpUrl,
    Secret,
    SourceContext,
    StreamConfig,
    TermFilter,
    brand_terms,
    json_api,
)
from ingest.sources.mastodon import (
    KIND,
    normalise_tag,
    status_mention,
    status_text,
    tag_path,
    timeline_walk,
)

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


class MastodonStream(CatchUpStream[MastodonStreamConfig]):
    kind = KIND
    accept = "text/event-stream"
    keepalive = "heartbeat"

    def __init__(self, config: MastodonStreamConfig, ctx: SourceContext) -> None:
        self._rest = json_api(ctx, config.instance, config.timeout, token=config.token)
        live = json_api(
            ctx, config.streaming_url or config.instance, config.timeout, token=config.token
        )
        self._filter: TermFilter | None = None
        if config.timeline == "hashtag":
            tag = normalise_tag(config.hashtag or "")
            local = config.local_only
            stream_path = "/api/v1/streaming/hashtag" + ("/local" if local else "")
            stream_params = {"tag": tag}
            self._rest_path = tag_path(tag)
        else:
            local = config.timeline == "local"
            stream_path = "/api/v1/streaming/public" + ("/local" if local else "")
            stream_params = {}
            self._rest_path = "/api/v1/timelines/public"
            self._filter = brand_terms(ctx.watchlist, config.brands)
        self._rest_params = {"local": "true"} if local else {}
        super().__init__(config, ctx, live, stream_path, stream_params)

    def catch_up(self, state: Cursor, now: datetime, floor: datetime) -> Walk:
        return timeline_walk(
            self._rest,
            self._rest_path,
            self._rest_params,
            "since_id",
            state,
            floor=floor,
            max_pages=self.config.max_pages,
            to_mention=lambda s: status_mention(s, self.name, now) if self._wanted(s) else None,
        )

    def live(self, response: httpx.Response) -> Iterator[tuple[str, Sequence[Mention]]]:
        try:
            for sse in EventSource(response).iter_sse():
                if sse.event != "update":  # deletes, edits, notifications: not new mentions
                    continue
                status = _status(sse.data)
                if status is None:
                    continue
                wanted = self._wanted(status)
                found = status_mention(status, self.name, self._clock.now()) if wanted else None
                yield str(status["id"]), (found,) if found else ()
        except SSEError:
            raise SourceError("the server did not answer with an event stream") from None

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
