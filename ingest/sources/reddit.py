"""Reddit search: ``/search.json?q=..&sort=new`` (or one subreddit's), paged with ``after``.

Normalisation: ``source`` ``reddit``; ``source_id`` the post's fullname (``t3_...``);
``url`` the post's permalink on reddit.com (the linked article is a different thing);
``title``, ``text`` (the self text), ``author`` (``u/name``), ``published_at`` from
``created_utc``; engagement: likes = score, shares = crossposts, replies = comments.

Resume: the mark is the newest ``created_utc`` seen; a poll pages back until a post is
older than the mark less ``overlap`` (Reddit's search index lags). Reddit wants a
descriptive User-Agent (the ingest ``user_agent``); its ``X-Ratelimit-*`` headers are
honoured. With an OAuth ``token`` set ``base_url: https://oauth.reddit.com``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from core.records import Mention
from ingest.api import JsonApi
from ingest.pager import Page, floor_of, since, time_mark, walk
from ingest.source import Cursor, Fetched
from ingest.sources.base import (
    HttpUrl,
    NotNegative,
    PagedConfig,
    Polled,
    Secret,
    SourceContext,
    bearer,
    engagement,
    mention,
)
from ingest.text import collapse_whitespace

_PAGE = 100


class RedditConfig(PagedConfig):
    type: Literal["reddit"]
    query: str = Field(min_length=1)
    """Reddit search syntax: ``acme OR "acme corp"``, ``title:acme``, ``-self:yes``."""
    subreddit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{2,21}$")
    """Search one subreddit only (without ``r/``)."""
    token: Secret | None = None
    """An OAuth bearer token (``${REDDIT_TOKEN}``), sent with ``base_url`` oauth.reddit.com."""
    base_url: HttpUrl = "https://www.reddit.com"
    overlap: NotNegative = timedelta(minutes=10)
    kind: ClassVar[str] = "reddit"

    def build(self, ctx: SourceContext) -> RedditSource:
        return RedditSource(self, ctx)


class RedditSource(Polled[RedditConfig]):
    kind = "reddit"

    def __init__(self, config: RedditConfig, ctx: SourceContext) -> None:
        self.config = config
        self._clock = ctx.clock
        auth = {"Authorization": bearer(config.token)} if config.token else None
        self._api = JsonApi(
            ctx.http,
            config.base_url,
            clock=ctx.clock,
            user_agent=ctx.user_agent,
            timeout=config.timeout.total_seconds(),
            auth=auth,
            secrets=(config.token,),
        )
        sub = f"/r/{config.subreddit}" if config.subreddit else ""
        self._path = f"{sub}/search.json"
        self.where = self._api.url(self._path)

    def fetch(self, cursor: Cursor) -> Fetched:
        now = self._clock.now()
        floor = floor_of(cursor, now, self.config.backfill)
        oldest = since(cursor, floor, self.config.overlap)

        def page(token: str | None) -> Page:
            params: dict[str, Any] = {
                "q": self.config.query,
                "sort": "new",
                "t": "all",
                "limit": _PAGE,
                "after": token,
                "raw_json": 1,
                "restrict_sr": "on" if self.config.subreddit else None,
            }
            data = self._api.get(self._path, params).data.get("data") or {}
            posts = [c.get("data") or {} for c in data.get("children") or []]
            dated = [(p, t) for p in posts if (t := _created(p)) is not None]
            kept = [(p, t) for p, t in dated if t >= oldest]
            newest = max((t for _, t in kept), default=None)
            return Page(
                [m for m in (self._mention(p, now) for p, _ in kept) if m is not None],
                data.get("after") or None,
                time_mark(newest) if newest else None,
                done=len(kept) < len(dated),
            )

        result = walk(
            page,
            cursor,
            floor=floor,
            max_pages=self.config.max_pages,
            order=float,
            hold=self._api.hold,
        )
        return Fetched(tuple(result.mentions), result.cursor, retry_after=result.retry_after)

    def _mention(self, post: dict[str, Any], now: datetime) -> Mention | None:
        permalink = post.get("permalink")
        author = post.get("author")
        return mention(
            source=self.kind,
            source_name=self.name,
            source_id=post.get("name") or None,
            url=f"https://www.reddit.com{permalink}" if permalink else None,
            title=collapse_whitespace(str(post.get("title") or "")),
            text=collapse_whitespace(str(post.get("selftext") or "")),
            author=f"u/{author}" if author and author != "[deleted]" else None,
            published_at=_created(post),
            fetched_at=now,
            engagement=engagement(
                likes=post.get("score"),
                shares=post.get("num_crossposts"),
                replies=post.get("num_comments"),
            ),
        )


def _created(post: dict[str, Any]) -> datetime | None:
    value = post.get("created_utc")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value, tz=UTC)
