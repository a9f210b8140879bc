"""Mastodon over REST: hashtag timelines (``/api/v1/timelines/tag/:hashtag``) and status
search (``/api/v2/search?type=statuses``), polled.

Every listing is newest first, filtered by the last poll's newest id (``since_id`` for
timelines, ``min_id`` for search) and paged back with ``max_id``: one resumable walk per
hashtag and one for the query (`ingest.pager`), each with its own cursor keys. On the
first start a walk stops at statuses older than the backfill window.

Normalisation (shared with `ingest.sources.mastodon_stream`): ``source`` ``mastodon``;
``source_id`` the status id on the instance; ``url`` the status's canonical URL (its
home server's, so one toot seen through two instances is one mention); ``title`` the
content warning; ``text`` the content as plain text; ``author`` ``@user@server``;
``language``; engagement: likes = favourites, shares = boosts, replies, followers.
Boosts are skipped (the boosted status is the mention).

Status search needs an access token (``${MASTODON_TOKEN}``) on most servers; hashtag
timelines do not. ``X-RateLimit-*`` headers (reset as an ISO time) are honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator, model_validator

from core.records import Mention
from ingest.api import JsonApi
from ingest.pager import Page, Walk, floor_of, scoped, unscope, walk
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
)
from ingest.text import collapse_whitespace, html_to_text

PAGE = 40
KIND = "mastodon"


class MastodonConfig(PagedConfig):
    type: Literal["mastodon"]
    instance: HttpUrl
    """The server to ask, e.g. ``https://mastodon.social``."""
    hashtags: tuple[str, ...] = ()
    """Hashtags whose timelines to follow, with or without ``#``."""
    query: str | None = Field(default=None, min_length=1)
    """A full-text status search (needs ``token`` on most servers)."""
    local_only: bool = False
    """Only statuses posted on ``instance`` itself."""
    token: Secret | None = None
    kind: ClassVar[str] = KIND

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_tag(t) for t in value)

    @model_validator(mode="after")
    def _something(self) -> MastodonConfig:
        if not (self.hashtags or self.query):
            raise ValueError("give hashtags, a query, or both")
        return self

    def build(self, ctx: SourceContext) -> MastodonSource:
        return MastodonSource(self, ctx)


def normalise_tag(tag: str) -> str:
    name = tag.removeprefix("#")
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError(f"{tag!r} is not a hashtag like #acme")
    return name


class MastodonSource(Polled[MastodonConfig]):
    kind = KIND

    def __init__(self, config: MastodonConfig, ctx: SourceContext) -> None:
        self.config = config
        self._clock = ctx.clock
        self._api = json_api(ctx, config.instance, config.timeout, token=config.token)
        self.where = config.instance

    def fetch(self, cursor: Cursor) -> Fetched:
        now = self._clock.now()
        mentions: list[Mention] = []
        state: dict[str, str] = {}
        waits: list[float] = []
        listings: list[tuple[str, str, str, dict[str, str]]] = [
            (f"tag:{t}:", tag_path(t), "since_id", {}) for t in self.config.hashtags
        ]
        if self.config.query:
            params = {"q": self.config.query, "type": "statuses", "resolve": "false"}
            listings.append(("search:", "/api/v2/search", "min_id", params))
        only_local = self.config.local_only
        for prefix, path, newer, params in listings:
            search = path == "/api/v2/search"
            # timelines filter by themselves; search has no such parameter, so its remote
            # statuses (an account "user@other.server") are left out here
            local = {"local": "true"} if only_local and not search else {}
            keep_remote = not (only_local and search)
            listed = timeline_walk(
                self._api,
                path,
                {**params, **local},
                newer,
                scoped(cursor, prefix),
                floor=floor_of(scoped(cursor, prefix), now, self.config.backfill),
                max_pages=self.config.max_pages,
                to_mention=partial(self._mention, now=now, keep_remote=keep_remote),
            )
            mentions.extend(listed.mentions)
            state.update(unscope(listed.cursor, prefix))
            if listed.retry_after:
                waits.append(listed.retry_after)
        return Fetched(tuple(mentions), state, retry_after=max(waits) if waits else None)

    def _mention(
        self, status: dict[str, Any], *, now: datetime, keep_remote: bool
    ) -> Mention | None:
        return status_mention(status, self.name, now) if keep_remote or _local(status) else None


def _local(status: dict[str, Any]) -> bool:
    """Whether a status was posted on the instance asked (its account has no domain)."""
    account = status.get("account")
    return isinstance(account, dict) and "@" not in str(account.get("acct") or "@")


def tag_path(tag: str) -> str:
    return f"/api/v1/timelines/tag/{quote(tag)}"


def timeline_walk(
    api: JsonApi,
    path: str,
    params: dict[str, str],
    newer: str,
    state: Cursor,
    *,
    floor: datetime,
    max_pages: int,
    to_mention: Callable[[dict[str, Any]], Mention | None],
) -> Walk:
    """One listing walked back to ``state``'s mark (``newer`` is the parameter that
    filters by it) or, without one, to ``floor``."""
    mark = state.get("mark")

    def page(token: str | None) -> Page:
        data = api.get(path, {**params, newer: mark, "max_id": token, "limit": PAGE}).data
        if isinstance(data, dict):  # search wraps the statuses
            data = data.get("statuses")
        statuses = [s for s in data or [] if isinstance(s, dict) and str(s.get("id", "")).isdigit()]
        ids = [str(s["id"]) for s in statuses]
        young = [s for s in statuses if (t := iso_time(s.get("created_at"))) and t >= floor]
        reached = mark is None and len(young) < len(statuses)
        wanted = statuses if mark else young
        return Page(
            [to_mention(s) for s in wanted],
            # a short page can still have older statuses behind it (the server drops what
            # the token's user filters), so only an empty page ends the listing
            min(ids, key=int) if ids else None,
            max(ids, key=int) if ids else None,
            done=reached,
        )

    return walk(page, state, floor=floor, max_pages=max_pages, order=int, hold=api.hold)


def status_mention(status: dict[str, Any], source_name: str, now: datetime) -> Mention | None:
    """A status as a mention (None for a boost or something unusable)."""
    if status.get("reblog"):
        return None
    account = obj(status.get("account"))
    return mention(
        source=KIND,
        source_name=source_name,
        source_id=str(status.get("id") or "") or None,
        url=status.get("url") or status.get("uri") or None,
        title=collapse_whitespace(str(status.get("spoiler_text") or "")),
        text=html_to_text(str(status.get("content") or "")),
        author=_handle(account),
        published_at=iso_time(status.get("created_at")),
        fetched_at=now,
        language=status.get("language") or None,
        engagement=engagement(
            likes=status.get("favourites_count"),
            shares=status.get("reblogs_count"),
            replies=status.get("replies_count"),
            followers=account.get("followers_count"),
        ),
    )


def status_text(status: dict[str, Any]) -> str:
    """What a term filter looks at: content warning, content and hashtags."""
    tags = " ".join(f"#{t.get('name')}" for t in status.get("tags") or [] if isinstance(t, dict))
    body = html_to_text(str(status.get("content") or ""))
    return f"{status.get('spoiler_text') or ''} {body} {tags}"


def _handle(account: dict[str, Any]) -> str | None:
    acct = account.get("acct")
    if not isinstance(acct, str) or not acct:
        return None
    if "@" in acct:
        return f"@{acct}"
    host = urlsplit(str(account.get("url") or "")).hostname
    return f"@{acct}@{host}" if host else f"@{acct}"
