"""X (Twitter) API v2 filtered stream: ``/2/tweets/search/stream``, one JSON post per
line over a long-lived HTTP response (a blank line every 20 s keeps it alive).

Rules: on every connect the configured ``rules`` are made the app's rules tagged
``stormwatch:<name>`` (``/2/tweets/search/stream/rules``: missing ones added, ours that
are no longer configured deleted; other tags are left alone), and only posts matching
one of our tags are kept, since an app's stream carries all its rules.

Resume: each connection opens the stream, then catches up through recent search
(`ingest.sources.x.search_walk`) with ``since_id`` the newest post id stored (on the
first start the backfill window), then relays the live posts; the cursor is the newest
post id. Normalisation is `ingest.sources.x`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, model_validator

from core.records import Mention
from ingest.api import JsonApi
from ingest.pager import Walk
from ingest.source import Cursor, SourceError
from ingest.sources.base import (
    CatchUpStream,
    HttpUrl,
    Positive,
    Secret,
    SourceContext,
    StreamConfig,
    json_api,
)
from ingest.sources.x import FIELDS, KIND, search_walk, tweet_mentions
from ingest.stream import Connection

STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"
_QUERY_LIMIT = 512
"""The longest recent-search query every access level accepts."""


class XStreamConfig(StreamConfig):
    type: Literal["x_stream"]
    rules: tuple[str, ...] = Field(min_length=1)
    """Filtered-stream rules: ``acme OR #acme -is:retweet``."""
    catch_up_query: str | None = Field(default=None, min_length=1, max_length=1024)
    """The recent-search query for catching up (default: the rules joined with OR)."""
    token: Secret
    base_url: HttpUrl = "https://api.x.com"
    idle_timeout: Positive = timedelta(seconds=60)
    """X sends a keep-alive every 20 s; three missed ones mean the stream is dead."""
    max_results: int = Field(default=100, ge=10, le=100)
    kind: ClassVar[str] = KIND

    @model_validator(mode="after")
    def _query(self) -> XStreamConfig:
        if self.catch_up_query is None and len(self.query()) > _QUERY_LIMIT:
            raise ValueError(
                f"the rules joined with OR are longer than {_QUERY_LIMIT} characters: "
                "set catch_up_query"
            )
        return self

    def query(self) -> str:
        if self.catch_up_query:
            return self.catch_up_query
        if len(self.rules) == 1:
            return self.rules[0]
        return " OR ".join(f"({rule})" for rule in self.rules)

    def build(self, ctx: SourceContext) -> XStream:
        return XStream(self, ctx)


class XStream(CatchUpStream[XStreamConfig]):
    kind = KIND
    accept = "application/json"
    keepalive = "keep-alive"

    def __init__(self, config: XStreamConfig, ctx: SourceContext) -> None:
        self._api = json_api(ctx, config.base_url, config.timeout, token=config.token)
        self.tag = f"stormwatch:{config.name}"
        self._rule_ids: frozenset[str] = frozenset()
        super().__init__(config, ctx, self._api, STREAM, FIELDS)

    def connect(self, cursor: Cursor) -> Connection:
        self._rule_ids = sync_rules(self._api, self.tag, self.config.rules)
        return super().connect(cursor)

    def catch_up(self, state: Cursor, now: datetime, floor: datetime) -> Walk:
        return search_walk(
            self._api,
            self.config.query(),
            state,
            now=now,
            floor=floor,
            max_pages=self.config.max_pages,
            max_results=self.config.max_results,
            source_name=self.name,
        )

    def live(self, response: httpx.Response) -> Iterator[tuple[str, Sequence[Mention]]]:
        for line in response.iter_lines():
            body = _line(line)
            if body is None:  # a keep-alive
                continue
            if "data" not in body:
                raise SourceError(self._api.redact(_stream_error(body)))
            ident = str(body["data"].get("id") or "") if isinstance(body["data"], dict) else ""
            if not ident.isdigit():
                continue
            yield (
                ident,
                tweet_mentions(body, self.name, self._clock.now()) if self._ours(body) else [],
            )

    def _ours(self, body: dict[str, Any]) -> bool:
        rules = body.get("matching_rules")
        if not isinstance(rules, list) or not rules:
            return True
        return any(
            isinstance(r, dict) and (r.get("tag") == self.tag or str(r.get("id")) in self._rule_ids)
            for r in rules
        )


def sync_rules(api: JsonApi, tag: str, wanted: tuple[str, ...]) -> frozenset[str]:
    """Make the app's rules tagged ``tag`` exactly ``wanted``; raise `SourceError` when X
    refuses one (the reason names the rule). Returns the ids of the app's rules with a
    wanted value under another tag (X keeps one rule per value: adding it again is a
    DuplicateRule, and its posts arrive under the other tag, yet are ours)."""
    current = [r for r in api.get(RULES).data.get("data") or [] if isinstance(r, dict)]
    ours = {r["value"]: str(r["id"]) for r in current if r.get("tag") == tag}
    elsewhere = frozenset(
        str(r["id"]) for r in current if r.get("tag") != tag and r.get("value") in wanted
    )
    stale = [ident for value, ident in ours.items() if value not in wanted]
    if stale:
        api.post(RULES, {"delete": {"ids": stale}})
    missing = [{"value": value, "tag": tag} for value in wanted if value not in ours]
    if missing:
        reply = api.post(RULES, {"add": missing}).data
        refused = [
            e
            for e in reply.get("errors") or []
            if isinstance(e, dict) and e.get("title") != "DuplicateRule"
        ]
        if refused:
            first = refused[0]
            what = first.get("value") or (first.get("details") or [""])[0]
            raise SourceError(f"rule refused: {first.get('title', 'error')}: {what}")
    return elsewhere


def _line(line: str) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        body = json.loads(line)
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _stream_error(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    title = first.get("title") or "error"
    detail = first.get("detail") or first.get("disconnect_type") or ""
    return f"X ended the stream: {title}" + (f" ({detail})" if detail else "")
