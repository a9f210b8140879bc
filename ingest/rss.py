"""RSS and Atom feeds as a `Source`: fetch with `ingest.fetch`, parse with feedparser,
normalise every entry into a `Mention`.

Normalisation (what a consumer of ``mentions.raw`` may rely on for these sources):

* ``source`` is ``atom`` for Atom documents, ``rss`` for every RSS/RDF flavour;
  ``source_name`` is the feed's name; ``source_id`` is the entry's GUID / Atom id;
  ``url`` is the entry's link made absolute against the feed URL (http/https only).
* ``title`` and ``text`` are plain text (markup stripped, entities unescaped, whitespace
  collapsed); ``text`` is the full content where the feed has it, else the summary.
* ``published_at`` is the entry's published (else updated) time with the publisher's
  UTC offset, else the fetch time; never naive.
* An entry with neither a link nor a GUID cannot be identified and is skipped.

A document feedparser cannot make sense of (bozo with no usable entry, or not a feed
at all) is a `SourceError`; a document with recoverable flaws still yields its entries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx
from pydantic import ValidationError

from core.clock import Clock
from core.records import Mention, stable_id
from core.watchlist import Feed
from ingest.fetch import fetch_document
from ingest.source import Cursor, Fetched, SourceError
from ingest.text import collapse_whitespace, html_to_text, parse_timestamp

log = logging.getLogger(__name__)

_RSS_AUTHOR = re.compile(r"\S+@\S+\s*\((.+)\)")

Adjust = Callable[[Mention, Any], "Mention | None"]
"""Changes a parsed mention, given its feedparser entry (None: skip it)."""

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


_VALIDATED = "for"
"""The cursor key naming (hashed) the URL its ETag and Last-Modified came from."""


class RssSource:
    """One watchlist `Feed`, polled through the one shared ``client``."""

    kind = "rss"

    def __init__(self, feed: Feed, client: httpx.Client, user_agent: str, clock: Clock) -> None:
        self._feed = feed
        self._client = client
        self._user_agent = user_agent
        self._clock = clock
        self._last_flaw: str | None = None

    @property
    def name(self) -> str:
        return self._feed.name

    @property
    def interval(self) -> timedelta:
        return self._feed.interval

    @property
    def location(self) -> str | None:
        parts = urlsplit(str(self._feed.url))
        # never show credentials someone put in the URL
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return parts._replace(netloc=netloc).geturl()

    def fetch(self, cursor: Cursor) -> Fetched:
        # The validators are the URL's they came from (kept hashed: a URL may carry a
        # token): after the URL changes, the old server's Last-Modified would get 304s
        # from the new one until its feed changed.
        url = str(self._feed.url)
        source = stable_id("feed", url)
        doc = fetch_document(
            self._client,
            url,
            validators=cursor if cursor.get(_VALIDATED) == source else {},
            timeout=self._feed.timeout.total_seconds(),
            max_bytes=self._feed.max_bytes,
            user_agent=self._user_agent,
            accept=ACCEPT,
        )
        if doc is None:
            return Fetched(cursor=dict(cursor), not_modified=True)
        mentions, flaw = parse_feed(
            doc.body,
            feed_name=self._feed.name,
            base_url=doc.url,
            content_type=doc.content_type,
            fetched_at=self._clock.now(),
        )
        if flaw != self._last_flaw:  # once per change, not on every poll
            if flaw:
                log.info("feed %s: recoverable flaw, entries still used: %s", self.name, flaw)
            self._last_flaw = flaw
        return Fetched(tuple(mentions), {**doc.validators, _VALIDATED: source})


def parse_feed(
    body: bytes,
    *,
    feed_name: str,
    base_url: str,
    fetched_at: datetime,
    content_type: str | None = None,
    adjust: Adjust | None = None,
) -> tuple[list[Mention], str | None]:
    """The entries of an RSS/Atom document as mentions, and the flaw feedparser
    recovered from (None for a clean document).

    ``adjust`` (the search feeds') gets each mention with its feedparser entry and
    returns it changed (`rebuild`), or None to skip it.

    Raises `SourceError` when the document is not a feed or is too broken to yield a
    single usable entry.
    """
    # No content-location: feedparser would "resolve" a non-URL GUID such as "item-17"
    # against it and change the id. Links are made absolute here instead.
    headers = {"content-type": content_type} if content_type else {}
    parsed: Any = feedparser.parse(body, response_headers=headers)
    flaw = _describe(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    entries: list[Any] = list(parsed.get("entries") or [])
    if not entries:
        if not parsed.get("version"):
            raise SourceError("not an RSS or Atom document" + (f" ({flaw})" if flaw else ""))
        if flaw:
            raise SourceError(f"malformed feed: {flaw}")
        return [], None
    kind = "atom" if str(parsed.get("version", "")).startswith("atom") else "rss"
    mentions = []
    for entry in entries:
        mention = _mention(entry, kind, feed_name, base_url, fetched_at)
        if mention is not None and adjust is not None:
            mention = adjust(mention, entry)
        if mention is not None:
            mentions.append(mention)
    if not mentions:
        why = f"malformed feed: {flaw}" if flaw else "no entry has a link or a GUID"
        raise SourceError(why)
    return mentions, flaw


def rebuild(mention: Mention, **changes: Any) -> Mention:
    """``mention`` with fields changed and its id derived anew (the URL may change)."""
    return Mention.model_validate({**mention.model_dump(exclude={"id"}), **changes})


def _describe(exc: object) -> str:
    text = collapse_whitespace(str(exc)) if exc is not None else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _mention(
    entry: Any, kind: str, feed_name: str, base_url: str, fetched_at: datetime
) -> Mention | None:
    guid = collapse_whitespace(str(entry.get("id") or "")) or None
    url = _absolute_link(entry.get("link"), base_url)
    if not (guid or url):
        return None
    published = parse_timestamp(entry.get("published"), entry.get("published_parsed"))
    if published is None:
        published = parse_timestamp(entry.get("updated"), entry.get("updated_parsed"))
    try:
        return Mention(
            source=kind,
            source_name=feed_name,
            source_id=guid,
            url=url,
            title=_text(entry.get("title_detail"), entry.get("title")),
            text=_body(entry),
            author=_author(entry),
            published_at=published or fetched_at,
            fetched_at=fetched_at,
        )
    except ValidationError as exc:  # one odd entry must not cost the feed its others
        log.debug("feed %s: entry %s skipped: %s", feed_name, guid or url, exc)
        return None


def _absolute_link(link: object, base_url: str) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = urljoin(base_url, link.strip())
    return absolute if urlsplit(absolute).scheme in {"http", "https"} else None


def _text(detail: Any, value: object) -> str:
    """Plain text of a feedparser text construct (``*_detail`` carries its type)."""
    if detail is not None and detail.get("value") is not None:
        value = detail.get("value")
    if not isinstance(value, str):
        return ""
    kind = str(detail.get("type") or "") if detail is not None else ""
    if kind == "text/plain":
        return collapse_whitespace(value)
    return html_to_text(value)


def _body(entry: Any) -> str:
    # Atom <content> / RSS <content:encoded> is the full text; prefer the longest.
    best = ""
    for part in entry.get("content") or []:
        text = _text(part, part.get("value"))
        if len(text) > len(best):
            best = text
    return best or _text(entry.get("summary_detail"), entry.get("summary"))


def _author(entry: Any) -> str | None:
    # The raw string first: feedparser's author_detail mangles "address (Name)" when the
    # address has a long top-level domain.
    raw = entry.get("author")
    if isinstance(raw, str):
        match = _RSS_AUTHOR.fullmatch(html_to_text(raw))
        if match:  # RSS <author> is "address (Name)": keep the name, not the address
            return match.group(1).strip() or None
    name = (entry.get("author_detail") or {}).get("name") or raw
    if not isinstance(name, str):
        return None
    return html_to_text(name) or None
