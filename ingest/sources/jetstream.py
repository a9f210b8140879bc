"""Bluesky's Jetstream firehose: every new post on the network as JSON over a WebSocket
(``/subscribe?wantedCollections=app.bsky.feed.post&cursor=<time_us>``), filtered here
by the watchlist's terms (the ``brands`` hint narrows them; ``terms`` adds more).

Resume: every event carries ``time_us`` (microseconds since the epoch); the cursor is
the latest one seen, and a reconnect asks for the stream from ``rewind`` before it
(Jetstream's advice for a gapless replay; what repeats is dropped by the service). On
the first start the replay begins ``backfill`` ago. Jetstream keeps about a day.

Only ``commit`` events that create an ``app.bsky.feed.post`` matter; normalisation is
`ingest.sources.bluesky`'s (the firehose has no handles and no figures: ``author`` is
the DID and engagement is empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from core.config import Duration
from core.records import Mention
from ingest.source import Cursor, SourceError
from ingest.sources.base import (
    Configured,
    SourceContext,
    StreamConfig,
    TermFilter,
    WsUrl,
    brand_terms,
    iso_time,
    mention,
    obj,
)
from ingest.sources.bluesky import KIND, POST, first_language, post_url
from ingest.stream import Connection, StreamEvent
from ingest.text import collapse_whitespace

TIME_US = "time_us"
_MAX_MESSAGE = 2**20


class JetstreamConfig(StreamConfig):
    type: Literal["bluesky_jetstream"]
    url: WsUrl = "wss://jetstream2.us-east.bsky.network/subscribe"
    terms: tuple[str, ...] = ()
    """Further words to keep posts for, beside the watchlist brands' terms."""
    rewind: Duration = timedelta(seconds=5)
    backfill: Duration = timedelta(minutes=5)
    kind: ClassVar[str] = KIND

    def build(self, ctx: SourceContext) -> JetstreamSource:
        return JetstreamSource(self, ctx)


class JetstreamSource(Configured[JetstreamConfig]):
    kind = KIND

    def __init__(self, config: JetstreamConfig, ctx: SourceContext) -> None:
        self.config = config
        self.where = config.url
        self._clock = ctx.clock
        self._user_agent = ctx.user_agent
        self._filter: TermFilter = brand_terms(ctx.watchlist, config.brands, config.terms)

    def start_us(self, cursor: Cursor) -> int:
        """Where a connection with ``cursor`` starts reading (microseconds)."""
        stored = cursor.get(TIME_US, "")
        if stored.isdigit():
            return int(stored) - int(self.config.rewind.total_seconds() * 1_000_000)
        return int((self._clock.now() - self.config.backfill).timestamp() * 1_000_000)

    def connect(self, cursor: Cursor) -> Connection:
        query = urlencode({"wantedCollections": POST, "cursor": self.start_us(cursor)})
        stack = ExitStack()
        try:
            ws = stack.enter_context(
                connect(
                    f"{self.config.url}?{query}",
                    open_timeout=self.config.timeout.total_seconds(),
                    close_timeout=1,
                    user_agent_header=self._user_agent,
                    max_size=_MAX_MESSAGE,
                    compression=None,
                )
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            after = exc.response.headers.get("Retry-After", "")
            retry = float(after) if after.isdigit() else (60.0 if status == 429 else None)
            raise SourceError(f"HTTP {status} on connecting", retry) from None
        except (OSError, TimeoutError) as exc:
            raise SourceError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        except Exception as exc:  # the handshake failed some other way
            raise SourceError(f"cannot connect: {type(exc).__name__}") from None
        # closing from another thread is safe: it wakes a recv() blocked in the reader
        return Connection(self._events(ws, dict(cursor)), stack.close)

    def _events(self, ws: ClientConnection, state: dict[str, str]) -> Iterator[StreamEvent]:
        idle = self.config.idle_timeout.total_seconds()
        stored = state.get(TIME_US, "")
        latest = int(stored) if stored.isdigit() else 0
        while True:
            try:
                message = ws.recv(timeout=idle)
            except TimeoutError:
                raise SourceError(f"no data for {idle:g}s") from None
            except ConnectionClosedOK:
                return
            except ConnectionClosedError as exc:
                raise SourceError(f"stream broke: {exc.rcvd or 'no close frame'}") from None
            event = _event(message)
            if event is None:
                continue
            time_us = event.get(TIME_US)
            if not isinstance(time_us, int):
                continue
            found = self._mention(event)
            # a rewound replay repeats a few seconds: the cursor never moves back
            moved = time_us > latest
            latest = max(latest, time_us)
            if found is not None or moved:
                cursor = {TIME_US: str(latest)} if moved else None
                yield StreamEvent((found,) if found else (), cursor)

    def _mention(self, event: dict[str, Any]) -> Mention | None:
        commit = event.get("commit")
        if event.get("kind") != "commit" or not isinstance(commit, dict):
            return None
        if commit.get("operation") != "create" or commit.get("collection") != POST:
            return None
        record = obj(commit.get("record"))
        text = collapse_whitespace(str(record.get("text") or ""))
        if not self._filter(f"{text} {_card(record)}"):
            return None
        did, rkey = event.get("did"), commit.get("rkey")
        if not (isinstance(did, str) and isinstance(rkey, str)):
            return None
        now = self._clock.now()
        return mention(
            source=KIND,
            source_name=self.name,
            source_id=f"at://{did}/{POST}/{rkey}",
            url=post_url(did, rkey),
            text=text,
            author=did,
            published_at=iso_time(record.get("createdAt")) or now,
            fetched_at=now,
            language=first_language(record),
        )


def _event(message: str | bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(message)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return event if isinstance(event, dict) else None


def _card(record: dict[str, Any]) -> str:
    """A link card's title and description: a shared article often names the brand
    only there."""
    embed = record.get("embed")
    external = embed.get("external") if isinstance(embed, dict) else None
    if not isinstance(external, dict):
        return ""
    return f"{external.get('title') or ''} {external.get('description') or ''}"
