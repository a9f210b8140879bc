"""Hacker News search through the Algolia HN API: ``/api/v1/search_by_date``, newest
first, ``numericFilters=created_at_i>=<since>``, paged with ``page`` (``nbPages``).

Normalisation: ``source`` ``hackernews``; ``source_id`` the item id; ``url`` the item on
news.ycombinator.com (the story's link is what it is about, not where it was said);
``title`` the story title (a comment's story title); ``text`` the story or comment text;
engagement: likes = points, replies = comments. No key is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from core.records import Mention
from ingest.api import JsonApi
from ingest.pager import Page, floor_of, since, walk
from ingest.source import Cursor, Fetched
from ingest.sources.base import (
    HttpUrl,
    NotNegative,
    PagedConfig,
    Polled,
    SourceContext,
    engagement,
    mention,
)
from ingest.text import collapse_whitespace, html_to_text

_PAGE = 100


class HackerNewsConfig(PagedConfig):
    type: Literal["hackernews"]
    query: str = Field(min_length=1)
    """Words that must all occur (Algolia has no OR: one source per alternative)."""
    tags: tuple[Literal["story", "comment", "ask_hn", "show_hn", "poll"], ...] = (
        "story",
        "comment",
    )
    """Item types to search (any of them)."""
    base_url: HttpUrl = "https://hn.algolia.com/api/v1"
    overlap: NotNegative = timedelta(minutes=2)
    kind: ClassVar[str] = "hackernews"

    def build(self, ctx: SourceContext) -> HackerNewsSource:
        return HackerNewsSource(self, ctx)


class HackerNewsSource(Polled[HackerNewsConfig]):
    kind = "hackernews"

    def __init__(self, config: HackerNewsConfig, ctx: SourceContext) -> None:
        self.config = config
        self._clock = ctx.clock
        self._api = JsonApi(
            ctx.http,
            config.base_url,
            clock=ctx.clock,
            user_agent=ctx.user_agent,
            timeout=config.timeout.total_seconds(),
        )
        self.where = self._api.url("/search_by_date")

    def fetch(self, cursor: Cursor) -> Fetched:
        now = self._clock.now()
        floor = floor_of(cursor, now, self.config.backfill)
        oldest = int(since(cursor, floor, self.config.overlap).timestamp())
        tags = f"({','.join(self.config.tags)})" if self.config.tags else None

        def page(token: str | None) -> Page:
            number = int(token or 0)
            params = {
                "query": self.config.query,
                "tags": tags,
                "numericFilters": f"created_at_i>={oldest}",
                "hitsPerPage": _PAGE,
                "page": number,
            }
            data = self._api.get("/search_by_date", params).data
            hits = [h for h in data.get("hits") or [] if isinstance(h, dict)]
            times = [t for h in hits if isinstance(t := h.get("created_at_i"), int)]
            more = number + 1 < int(data.get("nbPages") or 0)
            return Page(
                [m for m in (self._mention(h, now) for h in hits) if m is not None],
                str(number + 1) if more and hits else None,
                str(max(times)) if times else None,
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

    def _mention(self, hit: dict[str, Any], now: datetime) -> Mention | None:
        item = hit.get("objectID")
        created = hit.get("created_at_i")
        if not isinstance(created, int):
            return None
        body = hit.get("story_text") or hit.get("comment_text") or ""
        return mention(
            source=self.kind,
            source_name=self.name,
            source_id=str(item) if item else None,
            url=f"https://news.ycombinator.com/item?id={item}" if item else None,
            title=collapse_whitespace(str(hit.get("title") or hit.get("story_title") or "")),
            text=html_to_text(str(body)),
            author=hit.get("author") or None,
            published_at=datetime.fromtimestamp(created, tz=UTC),
            fetched_at=now,
            engagement=engagement(likes=hit.get("points"), replies=hit.get("num_comments")),
        )
