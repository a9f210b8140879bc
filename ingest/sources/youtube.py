"""YouTube search through the Data API v3: ``search.list`` (``type=video``,
``order=date``, ``publishedAfter``, paged with ``pageToken``), then ``videos.list`` and
``channels.list`` for the figures (one call each per page, 1 quota unit each; a search
page costs 100).

Normalisation: ``source`` ``youtube``; ``source_id`` the video id; ``url``
``https://www.youtube.com/watch?v=<id>``; ``title`` and ``text`` (the description) with
HTML entities resolved; ``author`` the channel title; engagement: likes, replies =
comments, author followers = the channel's subscribers (unless hidden).

The API key (``${YOUTUBE_API_KEY}``) travels in the ``X-Goog-Api-Key`` header, never in
a URL. A spent quota (403 ``quotaExceeded``) waits an hour before trying again.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from core.records import Mention
from ingest.api import ApiError
from ingest.pager import Page, time_mark
from ingest.sources.base import (
    ApiSearch,
    HttpUrl,
    NotNegative,
    PagedConfig,
    Positive,
    Secret,
    SourceContext,
    engagement,
    iso_time,
    json_api,
    mention,
)
from ingest.text import collapse_whitespace

log = logging.getLogger(__name__)

_PAGE = 50
_QUOTA = frozenset({"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"})
_QUOTA_WAIT = 3600.0


class YouTubeConfig(PagedConfig):
    type: Literal["youtube"]
    query: str = Field(min_length=1)
    """YouTube search syntax: ``acme|"acme corp" -trailer``."""
    api_key: Secret
    """A Data API v3 key (``${YOUTUBE_API_KEY}``)."""
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    """``regionCode``, e.g. ``DE``."""
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    """``relevanceLanguage``, e.g. ``de``."""
    statistics: bool = True
    """Fetch likes, comments and channel subscribers (2 quota units per page)."""
    base_url: HttpUrl = "https://www.googleapis.com/youtube/v3"
    interval: Positive = timedelta(minutes=15)
    """Each poll costs at least 100 of the default 10,000 daily quota units."""
    overlap: NotNegative = timedelta(minutes=10)
    kind: ClassVar[str] = "youtube"

    def build(self, ctx: SourceContext) -> YouTubeSource:
        api = json_api(ctx, self.base_url, self.timeout, auth={"X-Goog-Api-Key": self.api_key})
        return YouTubeSource(self, ctx, api, "/search", self.overlap)


class YouTubeSource(ApiSearch[YouTubeConfig]):
    kind = "youtube"

    def page(self, token: str | None, oldest: datetime, now: datetime) -> Page:
        params = {
            "part": "snippet",
            "q": self.config.query,
            "type": "video",
            "order": "date",
            "maxResults": _PAGE,
            "publishedAfter": oldest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "regionCode": self.config.region,
            "relevanceLanguage": self.config.language,
            "pageToken": token,
        }
        data = self._get(self._path, params)
        items = [i for i in data.get("items") or [] if _video_id(i)]
        stats = self._statistics(items) if self.config.statistics and items else {}
        times = [t for i in items if (t := iso_time(i["snippet"].get("publishedAt")))]
        return Page(
            [self._mention(i, stats, now) for i in items],
            data.get("nextPageToken") or None,
            time_mark(max(times)) if times else None,
        )

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            return self._api.get(path, params).data
        except ApiError as exc:
            if exc.status == 403 and exc.code in _QUOTA:
                raise ApiError(exc.reason, _QUOTA_WAIT, status=exc.status, code=exc.code) from None
            raise

    def _statistics(self, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Per video id: its statistics plus ``subscribers`` of its channel. Figures are
        optional: when they cannot be had, the mentions go on without them."""
        ids = ",".join(_video_id(i) or "" for i in items)
        try:
            videos = self._get("/videos", {"part": "statistics", "id": ids}).get("items") or []
            out = {v["id"]: dict(v.get("statistics") or {}) for v in videos if v.get("id")}
            channels = sorted({i["snippet"].get("channelId") for i in items} - {None})
            found = self._get("/channels", {"part": "statistics", "id": ",".join(channels)})
        except ApiError as exc:
            log.debug("%s: statistics unavailable: %s", self.name, exc.reason)
            return {}
        subscribers = {
            c["id"]: (c.get("statistics") or {}).get("subscriberCount")
            for c in found.get("items") or []
            if c.get("id") and not (c.get("statistics") or {}).get("hiddenSubscriberCount")
        }
        for item in items:
            video = out.setdefault(_video_id(item) or "", {})
            video["subscribers"] = subscribers.get(item["snippet"].get("channelId"))
        return out

    def _mention(
        self, item: dict[str, Any], stats: dict[str, dict[str, Any]], now: datetime
    ) -> Mention | None:
        video = _video_id(item)
        snippet = item["snippet"]
        figures = stats.get(video or "", {})
        return mention(
            source=self.kind,
            source_name=self.name,
            source_id=video,
            url=f"https://www.youtube.com/watch?v={video}",
            title=_plain(snippet.get("title")),
            text=_plain(snippet.get("description")),
            author=_plain(snippet.get("channelTitle")) or None,
            published_at=iso_time(snippet.get("publishedAt")),
            fetched_at=now,
            engagement=engagement(
                likes=figures.get("likeCount"),
                replies=figures.get("commentCount"),
                followers=figures.get("subscribers"),
            ),
        )


def _video_id(item: dict[str, Any]) -> str | None:
    ident = item.get("id")
    video = ident.get("videoId") if isinstance(ident, dict) else None
    return video if isinstance(video, str) and isinstance(item.get("snippet"), dict) else None


def _plain(value: object) -> str:
    return collapse_whitespace(html.unescape(value)) if isinstance(value, str) else ""
