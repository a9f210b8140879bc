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
from ingest.pager import Page
from ingest.sources.base import (
    ApiSearch,
    HttpUrl,
    NotNegative,
    PagedConfig,
    SourceContext,
    engagement,
    json_api,
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
        api = json_api(ctx, self.base_url, self.timeout)
        return HackerNewsSource(self, ctx, api, "/search_by_date", self.overlap)


class HackerNewsSource(ApiSearch[HackerNewsConfig]):
    kind = "hackernews"

    def page(self, token: str | None, oldest: datetime, now: datetime) -> Page:
        number = int(token or 0)
        params = {
            "query": self.config.query,
            "tags": f"({','.join(self.config.tags)})" if self.config.tags else None,
            "numericFilters": f"created_at_i>={int(oldest.timestamp())}",
            "hitsPerPage": _PAGE,
            "page": number,
        }
        data = self._api.get(self._path, params).data
        hits = [h for h in data.get("hits") or [] if isinstance(h, dict)]
        times = [t for h in hits if isinstance(t := h.get("created_at_i"), int)]
        more = number + 1 < int(data.get("nbPages") or 0)
        return Page(
            [self._mention(h, now) for h in hits],
            str(number + 1) if more and hits else None,
            str(max(times)) if times else None,
        )

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
