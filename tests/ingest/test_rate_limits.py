"""Every source kind honours a 429 and its Retry-After: no request before it passes,
the failure is in the health, and the next attempt goes through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.ingest.apiserver import ApiServer, Reply
from tests.ingest.documents import START, simple_items
from tests.ingest.fakes_jetstream import FakeJetstream
from tests.ingest.fakes_search import YOUTUBE_KEY, FakeAlgolia, FakeReddit, FakeYouTube
from tests.ingest.fakes_social import MASTODON_TOKEN, X_TOKEN, FakeBluesky, FakeMastodon, FakeX
from tests.ingest.harness import Harness, advance_to_reconnect, eventually

TOO_MANY = Reply({"error": "slow down"}, 429, {"Retry-After": "450"})


def feed_route(path: str) -> Callable[[ApiServer], Any]:
    def fake(api: ApiServer) -> Any:
        state = {"fail": True}

        def answer(request: object) -> Reply:
            if state["fail"]:
                state["fail"] = False
                return TOO_MANY
            return Reply(simple_items("a"), content_type="application/rss+xml")

        api.routes[path] = answer
        return state

    return fake


def queued(cls: type) -> Callable[[ApiServer], Any]:
    def fake(api: ApiServer) -> Any:
        made = cls(api)
        made.fail.append(TOO_MANY)
        return made

    return fake


POLLED: dict[str, tuple[Callable[[ApiServer], Any], Callable[[str], dict[str, Any]], str]] = {
    "google_alerts": (
        feed_route("/alerts/feeds/1/2"),
        lambda u: {"url": f"{u}/alerts/feeds/1/2"},
        "/alerts/feeds/1/2",
    ),
    "google_news": (
        feed_route("/rss/search"),
        lambda u: {"query": "acme", "base_url": f"{u}/rss/search"},
        "/rss/search",
    ),
    "bing_news": (
        feed_route("/news/search"),
        lambda u: {"query": "acme", "base_url": f"{u}/news/search"},
        "/news/search",
    ),
    "reddit": (queued(FakeReddit), lambda u: {"query": "acme", "base_url": u}, "/search.json"),
    "hackernews": (
        queued(FakeAlgolia),
        lambda u: {"query": "acme", "base_url": f"{u}/api/v1"},
        "/api/v1/search_by_date",
    ),
    "youtube": (
        queued(FakeYouTube),
        lambda u: {"query": "acme", "api_key": YOUTUBE_KEY, "base_url": f"{u}/youtube/v3"},
        "/youtube/v3/search",
    ),
    "mastodon": (
        queued(FakeMastodon),
        lambda u: {"instance": u, "hashtags": ["acme"], "token": MASTODON_TOKEN},
        "/api/v1/timelines/tag/acme",
    ),
    "bluesky": (
        queued(FakeBluesky),
        lambda u: {"query": "acme", "base_url": u},
        "/xrpc/app.bsky.feed.searchPosts",
    ),
    "x": (
        queued(FakeX),
        lambda u: {"query": "acme", "token": X_TOKEN, "base_url": u},
        "/2/tweets/search/recent",
    ),
}


@pytest.mark.parametrize("kind", sorted(POLLED))
def test_a_polled_source_waits_out_retry_after(api: ApiServer, harness: Harness, kind: str) -> None:
    make_fake, config, path = POLLED[kind]
    make_fake(api)
    source = {"type": kind, "name": "src", "interval": "1m", **config(api.url)}
    svc = harness.service(source, backoff={"initial": "1m", "max": "2h", "jitter": 0.2})
    assert svc.poll_due() == []
    h = harness.health("src")
    assert (h.last_error or "").startswith("HTTP 429 Too Many Requests")
    assert h.next_due == START + timedelta(seconds=450)
    harness.clock.advance(449)
    svc.poll_due()
    assert len(api.calls(path)) == 1
    harness.clock.advance(1)
    svc.poll_due()
    assert len(api.calls(path)) >= 2
    assert harness.health("src").consecutive_failures == 0


@pytest.fixture
def jetstream() -> Iterator[FakeJetstream]:
    fake = FakeJetstream()
    yield fake
    fake.stop()


def test_a_jetstream_handshake_429_waits_out_retry_after(
    jetstream: FakeJetstream, harness: Harness
) -> None:
    jetstream.refuse.append((429, {"Retry-After": "45"}))
    svc = harness.service({"type": "bluesky_jetstream", "name": "jet", "url": jetstream.url})
    with harness.running(svc):
        waited = advance_to_reconnect(harness, "jet")
        eventually(lambda: harness.health("jet").connected is True)
    assert waited == timedelta(seconds=45)
    assert harness.health("jet").last_error == "HTTP 429 on connecting"
    assert len(jetstream.cursors) == 1  # the refused handshake never reached the handler
