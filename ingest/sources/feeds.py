"""Search feeds that are RSS or Atom: Google Alerts, Google News search, Bing News search.

They reuse the RSS pipeline (`ingest.fetch` with conditional GET, `ingest.rss.parse_feed`)
and add what each search engine needs:

* ``google_alerts``: the Atom feed URL a user copies from google.com/alerts ("Deliver to:
  RSS feed"). Links are Google redirects (``google.com/url?...&url=<article>``): the
  mention's URL is the article, so it is one mention with the publisher's own feed entry.
* ``google_news``: ``news.google.com/rss/search?q=<query>&hl=..&gl=..&ceid=..``. Links
  are opaque Google News article URLs (they cannot be unwrapped without a request); the
  author is the publisher named in the item's ``<source>``.
* ``bing_news``: ``bing.com/news/search?q=<query>&format=rss``, newest first. Links are
  Bing click-through URLs (``apiclick.aspx?...&url=<article>``), unwrapped; the author is
  the item's ``News:Source``.

``source`` is the kind (``google_alerts``, ``google_news``, ``bing_news``). On the first
start only entries published within ``backfill`` are taken; that floor is kept in the
cursor beside the HTTP validators. Later, everything the feed lists is handed on (the
service drops what it produced before).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from pydantic import Field

from core.clock import Clock
from core.records import Mention
from ingest.fetch import fetch_document
from ingest.pager import FLOOR, floor_of
from ingest.rss import ACCEPT, Adjust, parse_feed, rebuild
from ingest.source import Cursor, Fetched
from ingest.sources.base import HttpUrl, Polled, PolledConfig, SourceContext
from ingest.text import html_to_text

log = logging.getLogger(__name__)

_MAX_BYTES = 5_000_000


class FeedSearchSource(Polled[PolledConfig]):
    """A search engine's RSS/Atom results as a polled `Source`."""

    def __init__(
        self,
        config: PolledConfig,
        url: str,
        kind: str,
        adjust: Adjust,
        ctx: SourceContext,
    ) -> None:
        self.config = config
        self.kind = kind
        self.where = url
        self._adjust = adjust
        self._client: httpx.Client = ctx.http
        self._clock: Clock = ctx.clock
        self._user_agent = ctx.user_agent

    def fetch(self, cursor: Cursor) -> Fetched:
        now = self._clock.now()
        floor = floor_of(cursor, now, self.config.backfill)
        kept = {FLOOR: floor.isoformat()}
        doc = fetch_document(
            self._client,
            self.where,
            validators=cursor,
            timeout=self.config.timeout.total_seconds(),
            max_bytes=_MAX_BYTES,
            user_agent=self._user_agent,
            accept=ACCEPT,
        )
        if doc is None:
            return Fetched(cursor={**cursor, **kept}, not_modified=True)
        mentions, flaw = parse_feed(
            doc.body,
            feed_name=self.name,
            base_url=doc.url,
            content_type=doc.content_type,
            fetched_at=now,
            adjust=self._adjust,
        )
        if flaw:
            log.debug("%s: recoverable flaw: %s", self.name, flaw)
        fresh = tuple(m for m in mentions if m.published_at >= floor)
        return Fetched(fresh, {**doc.validators, **kept})


def unwrap(url: str | None, host: str, path_end: str, param: str) -> str | None:
    """The target of a redirect link (``https://host/...path_end?param=<target>``)."""
    if not url:
        return url
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    if (hostname == host or hostname.endswith("." + host)) and parts.path.endswith(path_end):
        target = dict(parse_qsl(parts.query)).get(param, "")
        if urlsplit(target).scheme in {"http", "https"}:
            return target
    return url


# -- Google Alerts ----------------------------------------------------------------------


class GoogleAlertsConfig(PolledConfig):
    """A Google Alert delivered as a feed: paste the feed URL Google shows."""

    type: Literal["google_alerts"]
    url: HttpUrl
    """``https://www.google.com/alerts/feeds/<user>/<alert>``"""
    kind: ClassVar[str] = "google_alerts"

    def build(self, ctx: SourceContext) -> FeedSearchSource:
        def adjust(m: Mention, entry: Any) -> Mention | None:
            target = unwrap(m.url, "google.com", "/url", "url")
            return rebuild(m, source=self.kind, url=target)

        return FeedSearchSource(self, self.url, self.kind, adjust, ctx)


# -- Google News ------------------------------------------------------------------------


class GoogleNewsConfig(PolledConfig):
    """Google News search results for a query (Google's search operators work:
    quotes, OR, ``-word``, ``when:1d``)."""

    type: Literal["google_news"]
    query: str = Field(min_length=1)
    language: str = Field(default="en-US", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    """``hl``: the interface language, e.g. ``de`` or ``en-US``."""
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    """``gl``: the edition's country."""
    base_url: HttpUrl = "https://news.google.com/rss/search"
    kind: ClassVar[str] = "google_news"

    def feed_url(self) -> str:
        edition = f"{self.country}:{self.language.split('-')[0]}"
        query = urlencode({"q": self.query, "hl": self.language, "gl": self.country})
        return f"{self.base_url}?{query}&ceid={edition}"

    def build(self, ctx: SourceContext) -> FeedSearchSource:
        def adjust(m: Mention, entry: Any) -> Mention | None:
            publisher = (entry.get("source") or {}).get("title")
            author = html_to_text(publisher) if isinstance(publisher, str) else m.author
            return rebuild(m, source=self.kind, author=author or m.author)

        return FeedSearchSource(self, self.feed_url(), self.kind, adjust, ctx)


# -- Bing News --------------------------------------------------------------------------


class BingNewsConfig(PolledConfig):
    """Bing News search results for a query, newest first."""

    type: Literal["bing_news"]
    query: str = Field(min_length=1)
    market: str | None = Field(default=None, pattern=r"^[a-z]{2}-[A-Z]{2}$")
    """``mkt``, e.g. ``de-DE`` (none: Bing picks from the request)."""
    base_url: HttpUrl = "https://www.bing.com/news/search"
    kind: ClassVar[str] = "bing_news"

    def feed_url(self) -> str:
        params = {"q": self.query, "format": "rss", "qft": 'sortbydate="1"'}
        if self.market:
            params["mkt"] = self.market
        return f"{self.base_url}?{urlencode(params)}"

    def build(self, ctx: SourceContext) -> FeedSearchSource:
        def adjust(m: Mention, entry: Any) -> Mention | None:
            target = unwrap(m.url, "bing.com", "apiclick.aspx", "url")
            publisher = entry.get("news_source")
            author = html_to_text(publisher) if isinstance(publisher, str) else None
            return rebuild(m, source=self.kind, url=target, author=author or m.author)

        return FeedSearchSource(self, self.feed_url(), self.kind, adjust, ctx)
