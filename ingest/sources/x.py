"""X (Twitter) API v2 recent search: ``/2/tweets/search/recent`` with ``since_id`` (the
newest post id of the last complete walk) and ``next_token`` for the next page; on the
first start ``start_time`` is the backfill window (at most the 7 days recent search
covers).

Normalisation (shared with `ingest.sources.x_stream`): ``source`` ``x``; ``source_id``
the post id; ``url`` ``https://x.com/i/web/status/<id>`` (stable when the author renames
the account); ``text`` the full text (``note_tweet`` for long posts); ``author``
``@username`` from the ``author_id`` expansion; ``language`` (``und`` is None);
engagement: likes, shares = reposts + quotes, replies, the author's followers.

The bearer token (``${X_BEARER_TOKEN}``) travels in the ``Authorization`` header;
``x-rate-limit-*`` headers are honoured (a spent window waits for its reset).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from core.records import Mention
from ingest.api import JsonApi
from ingest.pager import Page, Walk, floor_of, walk
from ingest.source import Cursor, Fetched
from ingest.sources.base import (
    HttpUrl,
    PagedConfig,
    Polled,
    Secret,
    SourceContext,
    engagement,
    iso_time,
    json_api,
    mention,
    obj,
    total,
)
from ingest.text import collapse_whitespace

KIND = "x"
SEARCH = "/2/tweets/search/recent"
FIELDS = {
    "tweet.fields": "created_at,public_metrics,author_id,lang,note_tweet",
    "expansions": "author_id",
    "user.fields": "username,name,public_metrics",
}
_WINDOW = timedelta(days=7) - timedelta(minutes=1)
"""How far back recent search reaches (less a margin: an older start_time is a 400)."""


class XSearchConfig(PagedConfig):
    type: Literal["x"]
    query: str = Field(min_length=1, max_length=1024)
    """X search syntax: ``(acme OR #acme) -is:retweet lang:de``."""
    token: Secret
    """An app's bearer token (``${X_BEARER_TOKEN}``)."""
    max_results: int = Field(default=100, ge=10, le=100)
    base_url: HttpUrl = "https://api.x.com"
    kind: ClassVar[str] = KIND

    def build(self, ctx: SourceContext) -> XSearch:
        return XSearch(self, ctx)


class XSearch(Polled[XSearchConfig]):
    kind = KIND

    def __init__(self, config: XSearchConfig, ctx: SourceContext) -> None:
        self.config = config
        self._clock = ctx.clock
        self._api = json_api(ctx, config.base_url, config.timeout, token=config.token)
        self.where = self._api.url(SEARCH)

    def fetch(self, cursor: Cursor) -> Fetched:
        now = self._clock.now()
        result = search_walk(
            self._api,
            self.config.query,
            cursor,
            now=now,
            floor=floor_of(cursor, now, self.config.backfill),
            max_pages=self.config.max_pages,
            max_results=self.config.max_results,
            source_name=self.name,
        )
        return Fetched(tuple(result.mentions), result.cursor, retry_after=result.retry_after)


def search_walk(
    api: JsonApi,
    query: str,
    state: Cursor,
    *,
    now: datetime,
    floor: datetime,
    max_pages: int,
    max_results: int,
    source_name: str,
) -> Walk:
    """Recent search from the top down to ``state``'s mark (``since_id``), else from
    ``floor``; resumable (`ingest.pager.walk`)."""
    mark = state.get("mark")
    start = None if mark else max(floor, now - _WINDOW)

    def page(token: str | None) -> Page:
        params = {
            "query": query,
            "max_results": max_results,
            "since_id": mark,
            "start_time": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if start else None,
            "next_token": token,
            **FIELDS,
        }
        body = api.get(SEARCH, params).data
        meta = obj(body.get("meta"))
        ids = [str(t["id"]) for t in body.get("data") or [] if str(t.get("id", "")).isdigit()]
        return Page(
            tweet_mentions(body, source_name, now),
            meta.get("next_token") or None,
            max(ids, key=int) if ids else None,
        )

    return walk(page, state, floor=floor, max_pages=max_pages, order=int, hold=api.hold)


def tweet_mentions(body: dict[str, Any], source_name: str, now: datetime) -> list[Mention]:
    """The posts of a v2 response (``data`` one post or a list, ``includes.users``)."""
    includes = obj(body.get("includes"))
    users = {u.get("id"): u for u in includes.get("users") or [] if isinstance(u, dict)}
    data = body.get("data")
    posts = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    out = []
    for post in posts:
        if isinstance(post, dict):
            found = _mention(post, users.get(post.get("author_id")) or {}, source_name, now)
            if found is not None:
                out.append(found)
    return out


def _mention(
    post: dict[str, Any], user: dict[str, Any], source_name: str, now: datetime
) -> Mention | None:
    ident = str(post.get("id") or "")
    if not ident.isdigit():
        return None
    # an edit is a new post id; the first of its edit history is the post it edits, so
    # the two are one mention
    history = post.get("edit_history_tweet_ids")
    first = str(history[0]) if isinstance(history, list) and history else ident
    original = first if first.isdigit() else ident
    metrics = obj(post.get("public_metrics"))
    followers = (user.get("public_metrics") or {}).get("followers_count")
    note = obj(post.get("note_tweet"))
    lang = post.get("lang")
    return mention(
        source=KIND,
        source_name=source_name,
        source_id=original,
        url=f"https://x.com/i/web/status/{original}",
        # X escapes &, < and > in post text
        text=collapse_whitespace(html.unescape(str(note.get("text") or post.get("text") or ""))),
        author=f"@{user['username']}" if user.get("username") else None,
        published_at=iso_time(post.get("created_at")),
        fetched_at=now,
        language=lang if isinstance(lang, str) and lang not in {"", "und"} else None,
        engagement=engagement(
            likes=metrics.get("like_count"),
            shares=total(metrics.get("retweet_count"), metrics.get("quote_count")),
            replies=metrics.get("reply_count"),
            followers=followers,
        ),
    )
