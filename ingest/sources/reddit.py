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
from ingest.pager import Page, time_mark
from ingest.sources.base import (
    ApiSearch,
    HttpUrl,
    NotNegative,
    PagedConfig,
    Secret,
    SourceContext,
    engagement,
    json_api,
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
        api = json_api(ctx, self.base_url, self.timeout, token=self.token)
        sub = f"/r/{self.subreddit}" if self.subreddit else ""
        return RedditSource(self, ctx, api, f"{sub}/search.json", self.overlap)


class RedditSource(ApiSearch[RedditConfig]):
    kind = "reddit"

    def page(self, token: str | None, oldest: datetime, now: datetime) -> Page:
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
            [self._mention(p, now) for p, _ in kept],
            data.get("after") or None,
            time_mark(newest) if newest else None,
            done=len(kept) < len(dated),
        )

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
