"""`RssSource` against a real HTTP server: normalisation, conditional GET, failures."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.clock import ManualClock
from core.records import Mention, mention_id
from ingest.rss import RssSource, parse_feed
from ingest.source import SourceError
from tests.ingest.documents import (
    START,
    atom,
    blog_atom,
    feed,
    item,
    news_rss,
    rss,
)
from tests.ingest.feedserver import FeedServer, Route

UA = "stormwatch-test/1"


def source(
    server: FeedServer, http: httpx.Client, clock: ManualClock, path: str, **kw: object
) -> RssSource:
    return RssSource(feed(path.strip("/"), server.url(path), **kw), http, UA, clock)


def by_guid(mentions: list[Mention]) -> dict[str | None, Mention]:
    out: dict[str | None, Mention] = {}
    for m in mentions:
        out.setdefault(m.source_id, m)  # the first entry of a repeated GUID
    return out


def test_rss_entries_are_normalised(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    server.routes["/news.rss"] = Route(news_rss())
    fetched = source(server, http, clock, "/news.rss").fetch({})
    got = by_guid(list(fetched.mentions))

    recall = got["acme-recall-7"]
    assert recall.source == "rss"
    assert recall.source_name == "news.rss"
    assert recall.url == "https://news.example.com/acme-recall?utm_source=rss&utm_medium=feed&id=7"
    # the id is the canonical URL's: tracking parameters do not make another mention
    assert recall.id == mention_id("rss", None, "https://news.example.com/acme-recall?id=7")
    assert recall.title == "Acme & Co recall"
    assert recall.text == "Customers are angry & loud. Café “quotes”"
    assert recall.author == "Jo Press"
    assert recall.published_at == datetime(2026, 6, 2, 12, 30, tzinfo=UTC)
    assert recall.published_at.utcoffset() == timedelta(hours=2)
    assert recall.fetched_at == START

    undated = got["undated-1"]
    assert undated.published_at == START  # no date in the feed: the fetch time
    assert undated.title == "Undated \u2013 story"
    assert undated.text == "Plain words"

    full = got["full-1"]
    assert full.text == "The whole story, at length."  # content:encoded beats the teaser
    assert full.published_at.utcoffset() == timedelta(hours=-7)

    relative = got[None]
    assert relative.url == server.url("/relative/9")  # made absolute against the feed URL
    assert relative.published_at == datetime(2026, 6, 2, 10, 0, tzinfo=UTC)

    for m in fetched.mentions:
        assert m.published_at.tzinfo is not None and m.fetched_at.tzinfo is not None


def test_atom_entries_are_normalised(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    server.routes["/blog.atom"] = Route(blog_atom(), content_type="application/atom+xml")
    got = by_guid(list(source(server, http, clock, "/blog.atom").fetch({}).mentions))
    first = got["tag:blog.example.com,2026:1"]
    assert first.source == "atom"
    assert first.title == "Acme & friends"
    assert first.text == "Full text"  # HTML content, style dropped, nbsp collapsed
    assert first.author == "Ann Blogger"
    assert first.url == "https://blog.example.com/posts/1?fbclid=abc"
    assert first.published_at == datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # published, not updated
    assert first.published_at.utcoffset() == timedelta(0)

    second = got["tag:blog.example.com,2026:2"]
    assert second.text == "a <b> literal"  # type="text": a literal, not markup
    assert second.published_at.utcoffset() == timedelta(hours=-5)  # from <updated>
    assert second.published_at == datetime(2026, 6, 1, 13, 15, tzinfo=UTC)


def test_the_request_is_polite(server: FeedServer, http: httpx.Client, clock: ManualClock) -> None:
    server.routes["/news.rss"] = Route(news_rss())
    source(server, http, clock, "/news.rss").fetch({})
    sent = server.last_request("/news.rss")
    assert sent["user-agent"] == UA
    assert "application/rss+xml" in sent["accept"]
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_conditional_get(server: FeedServer, http: httpx.Client, clock: ManualClock) -> None:
    lm = "Tue, 02 Jun 2026 12:00:00 GMT"
    server.routes["/news.rss"] = Route(news_rss(), etag='"v1"', last_modified=lm)
    src = source(server, http, clock, "/news.rss")
    first = src.fetch({})
    for_url = first.cursor.pop("for")  # the URL they came from, hashed
    assert first.cursor == {"etag": '"v1"', "last_modified": lm}
    first.cursor["for"] = for_url
    assert not first.not_modified

    again = src.fetch(first.cursor)
    sent = server.last_request("/news.rss")
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == lm
    assert again.not_modified and again.mentions == () and again.cursor == first.cursor

    server.routes["/news.rss"] = Route(rss(item("New", "https://n.example/new")), etag='"v2"')
    changed = src.fetch(first.cursor)
    assert [m.title for m in changed.mentions] == ["New"]
    assert changed.cursor == {"etag": '"v2"', "for": for_url}


def test_validators_of_another_url_are_not_sent(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    # the feed moved: the old server's Last-Modified got 304s from the new one
    lm = "Tue, 02 Jun 2026 12:00:00 GMT"
    server.routes["/old.rss"] = Route(news_rss(), etag='"v1"', last_modified=lm)
    server.routes["/new.rss"] = Route(news_rss(), last_modified=lm)
    old = source(server, http, clock, "/old.rss").fetch({})
    moved = source(server, http, clock, "/new.rss").fetch(old.cursor)
    sent = server.last_request("/new.rss")
    assert "if-modified-since" not in sent and "if-none-match" not in sent
    assert not moved.not_modified and moved.mentions


def test_a_feed_with_recoverable_flaws_still_yields_entries(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    # a bare "&" is not XML; feedparser's lenient parser recovers (bozo, but usable)
    body = rss(item("AT&T and Acme", "https://n.example/att", "att-1"))
    mentions, flaw = parse_feed(
        body, feed_name="f", base_url="https://n.example/", fetched_at=START
    )
    assert flaw is not None and "SAXParseException" in flaw
    assert [m.source_id for m in mentions] == ["att-1"]
    server.routes["/flawed.rss"] = Route(body)
    assert len(source(server, http, clock, "/flawed.rss").fetch({}).mentions) == 1


def test_a_valid_feed_without_entries_is_fine() -> None:
    assert parse_feed(rss(), feed_name="f", base_url="https://n.example/", fetched_at=START) == (
        [],
        None,
    )
    assert parse_feed(atom(), feed_name="f", base_url="https://n.example/", fetched_at=START) == (
        [],
        None,
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>oops",
            "malformed feed: SAXParseException",
        ),
        (b"\x00\x01{ this is not xml", "not an RSS or Atom document (SAXParseException"),
        (b"<html><body><p>Our feed moved!</p></body></html>", "not an RSS or Atom document"),
        (rss(item("no link, no guid")), "no entry has a link or a GUID"),
    ],
)
def test_an_unusable_document_is_an_error(body: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as err:
        parse_feed(body, feed_name="f", base_url="https://n.example/", fetched_at=START)
    assert err.value.reason.startswith(reason)


def test_entries_without_identity_are_skipped_not_fatal() -> None:
    body = rss(item("no link, no guid"), item("ok", "https://n.example/ok"))
    mentions, _ = parse_feed(body, feed_name="f", base_url="https://n.example/", fetched_at=START)
    assert [m.title for m in mentions] == ["ok"]


def fails(src: RssSource) -> SourceError:
    with pytest.raises(SourceError) as err:
        src.fetch({})
    return err.value


def test_http_errors(server: FeedServer, http: httpx.Client, clock: ManualClock) -> None:
    server.routes["/down.rss"] = Route(b"oops", status=500)
    assert (
        fails(source(server, http, clock, "/down.rss")).reason == "HTTP 500 Internal Server Error"
    )
    assert fails(source(server, http, clock, "/missing.rss")).reason == "HTTP 404 Not Found"
    server.routes["/busy.rss"] = Route(b"", status=429, headers={"Retry-After": "120"})
    busy = fails(source(server, http, clock, "/busy.rss"))
    assert busy.reason.startswith("HTTP 429") and busy.retry_after == 120
    # an HTTP date is measured against the response's own Date header
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    server.routes["/gone.rss"] = Route(b"", status=503, headers={"Retry-After": later})
    gone = fails(source(server, http, clock, "/gone.rss")).retry_after
    assert gone is not None and 590 <= gone <= 601


def test_malformed_over_http(server: FeedServer, http: httpx.Client, clock: ManualClock) -> None:
    server.routes["/bad.rss"] = Route(b"<rss><channel><item><title>broken")
    assert fails(source(server, http, clock, "/bad.rss")).reason.startswith("malformed feed")


def test_connection_refused(http: httpx.Client, clock: ManualClock, closed_port: int) -> None:
    src = RssSource(feed("closed", f"http://127.0.0.1:{closed_port}/feed"), http, UA, clock)
    assert fails(src).reason.startswith("ConnectError")


def test_a_hanging_server_times_out(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    server.routes["/hang.rss"] = Route(behaviour="hang")
    began = time.monotonic()
    err = fails(source(server, http, clock, "/hang.rss", timeout="0.3s"))
    assert err.reason == "timed out after 0.3s"
    assert time.monotonic() - began < 3


def test_a_trickling_server_hits_the_total_deadline(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    # every read arrives within the per-read timeout, but the whole takes too long
    server.routes["/slow.rss"] = Route(behaviour="trickle")
    began = time.monotonic()
    err = fails(source(server, http, clock, "/slow.rss", timeout="0.5s"))
    assert err.reason == "timed out after 0.5s"
    assert time.monotonic() - began < 3


def test_a_huge_body_is_refused_while_streaming(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    server.routes["/huge.rss"] = Route(behaviour="stream")
    err = fails(source(server, http, clock, "/huge.rss", max_bytes=200_000))
    assert err.reason == "too large: more than 200000 bytes"
    # the client stopped reading: the server could not push the whole 50 MB
    time.sleep(0.2)
    assert server.streamed["/huge.rss"] < 20_000_000


def test_a_declared_huge_body_is_refused_before_reading(
    server: FeedServer, http: httpx.Client, clock: ManualClock
) -> None:
    server.routes["/declared.rss"] = Route(behaviour="declare-huge")
    err = fails(source(server, http, clock, "/declared.rss", max_bytes=200_000))
    assert err.reason == "too large: 1000000000 bytes declared, limit 200000"


def test_location_hides_credentials(http: httpx.Client, clock: ManualClock) -> None:
    src = RssSource(
        feed("private", "https://user:secret@feeds.example.com:8443/a.rss?x=1"), http, UA, clock
    )
    assert src.location == "https://feeds.example.com:8443/a.rss?x=1"
    assert src.kind == "rss" and src.name == "private" and src.interval == timedelta(minutes=1)
