"""Bluesky post search on an AppView: ``/xrpc/app.bsky.feed.searchPosts`` with
``sort=latest``, ``since`` and the ``cursor`` it returns for the next (older) page.

Normalisation (shared with `ingest.sources.jetstream`, so a post seen by both is one
mention): ``source`` ``bluesky``; ``source_id`` the post's ``at://`` URI; ``url``
``https://bsky.app/profile/<did>/post/<rkey>``; ``text`` the post text; ``author``
``@handle`` (the DID where no handle is known); ``language`` the first of ``langs``;
engagement: likes, shares = reposts + quotes, replies (a post view has no follower
count).

The default AppView is Bluesky's public one; set ``base_url`` to another (or to your
PDS with ``token``, a session's access JWT) where that one refuses anonymous search.
``ratelimit-*`` headers are honoured.
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
    iso_time,
    json_api,
    mention,
    obj,
    total,
)
from ingest.text import collapse_whitespace

KIND = "bluesky"
POST = "app.bsky.feed.post"
_PAGE = 100
_SEARCH = "/xrpc/app.bsky.feed.searchPosts"


class BlueskySearchConfig(PagedConfig):
    type: Literal["bluesky"]
    query: str = Field(min_length=1)
    """Bluesky search syntax: words, ``"phrases"``, ``#tags``, ``from:handle``."""
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    token: Secret | None = None
    base_url: HttpUrl = "https://public.api.bsky.app"
    overlap: NotNegative = timedelta(minutes=5)
    kind: ClassVar[str] = KIND

    def build(self, ctx: SourceContext) -> BlueskySearch:
        api = json_api(ctx, self.base_url, self.timeout, token=self.token)
        return BlueskySearch(self, ctx, api, _SEARCH, self.overlap)


class BlueskySearch(ApiSearch[BlueskySearchConfig]):
    kind = KIND

    def page(self, token: str | None, oldest: datetime, now: datetime) -> Page:
        params = {
            "q": self.config.query,
            "sort": "latest",
            "limit": _PAGE,
            "since": oldest.astimezone(UTC).isoformat(timespec="milliseconds"),
            "lang": self.config.language,
            "cursor": token,
        }
        data = self._api.get(self._path, params).data
        posts = [p for p in data.get("posts") or [] if isinstance(p, dict)]
        times = [t for p in posts if (t := _sort_time(p))]
        return Page(
            [post_mention(p, self.name, now) for p in posts],
            (data.get("cursor") or None) if posts else None,
            time_mark(max(times)) if times else None,
        )


def post_mention(post: dict[str, Any], source_name: str, now: datetime) -> Mention | None:
    """A post view (``app.bsky.feed.defs#postView``) as a mention."""
    author = obj(post.get("author"))
    record = obj(post.get("record"))
    did, rkey = split_uri(str(post.get("uri") or ""))
    if not (did and rkey):
        return None
    handle = author.get("handle")
    return mention(
        source=KIND,
        source_name=source_name,
        source_id=f"at://{did}/{POST}/{rkey}",
        url=post_url(did, rkey),
        text=collapse_whitespace(str(record.get("text") or "")),
        author=f"@{handle}" if handle and handle != "handle.invalid" else did,
        published_at=iso_time(record.get("createdAt")) or iso_time(post.get("indexedAt")),
        fetched_at=now,
        language=first_language(record),
        engagement=engagement(
            likes=post.get("likeCount"),
            shares=total(post.get("repostCount"), post.get("quoteCount")),
            replies=post.get("replyCount"),
        ),
    )


def post_url(did: str, rkey: str) -> str:
    # the DID, not the handle: handles change, and the firehose knows only the DID
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def split_uri(uri: str) -> tuple[str | None, str | None]:
    """``at://<did>/app.bsky.feed.post/<rkey>`` into the DID and the record key."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != POST or not parts[0].startswith("did:"):
        return None, None
    return parts[0], parts[2]


def first_language(record: dict[str, Any]) -> str | None:
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str) and langs[0]:
        return langs[0]
    return None


def _sort_time(post: dict[str, Any]) -> datetime | None:
    """When search sorts the post: the earlier of created and indexed (a client may
    claim any creation time; indexing happens later)."""
    record = obj(post.get("record"))
    times = [t for t in (iso_time(record.get("createdAt")), iso_time(post.get("indexedAt"))) if t]
    return min(times) if times else None
