"""Source health across kinds (`IngestService.status`, `format_status`), ``sources
test`` (`IngestService.poll_once`) for polled and streamed sources, and credentials
kept out of every log line, error and status."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from core.watchlist import Watchlist
from ingest.dedup import FeedHealth, IngestState
from ingest.health import format_status
from ingest.source import SourceError
from tests.ingest.apiserver import ApiServer, Reply, Request
from tests.ingest.documents import START, feed, simple_items
from tests.ingest.fakes_jetstream import FakeJetstream
from tests.ingest.fakes_search import YOUTUBE_KEY, FakeAlgolia
from tests.ingest.fakes_social import MASTODON_TOKEN, X_TOKEN, FakeMastodon, Script
from tests.ingest.feedserver import FeedServer, Route
from tests.ingest.harness import WATCHLIST, Harness, eventually


def test_status_covers_feeds_polled_sources_and_streams(
    api: ApiServer, server: FeedServer, harness: Harness
) -> None:
    algolia = FakeAlgolia(api)
    algolia.story(1, START - timedelta(minutes=20))
    algolia.story(2, START - timedelta(minutes=10))
    server.routes["/news.rss"] = Route(simple_items("a"))
    mastodon = FakeMastodon(api)
    mastodon.scripts.append(
        Script(posts=[mastodon.status(1, START - timedelta(seconds=30))], end="stay")
    )
    watchlist = Watchlist(
        brands=WATCHLIST.brands, feeds=(feed("newsroom", server.url("/news.rss")),)
    )
    svc = harness.service(
        {"type": "hackernews", "name": "hn", "query": "acme", "base_url": f"{api.url}/api/v1"},
        {"type": "mastodon_stream", "name": "masto-live", "instance": api.url, "hashtag": "acme"},
        watchlist=watchlist,
    )
    before = {h.name: h for h in svc.status()}
    assert [h.name for h in svc.status()] == ["newsroom", "hn", "masto-live"]
    assert before["masto-live"].mode == "stream" and before["masto-live"].connected is False
    assert before["hn"].lag is None and before["hn"].items_per_minute == 0
    svc.poll_due()
    with harness.running(svc):
        eventually(lambda: harness.health("masto-live").items_recent == 1)
        live = harness.health("masto-live")
        assert live.connected is True and live.last_success_at == START
    hn = harness.health("hn")
    assert hn.items_recent == 2 and hn.items_per_minute == pytest.approx(2 / 60)
    assert hn.lag == timedelta(minutes=10)  # the newest story is 10 minutes old
    assert hn.newest_item_at == START - timedelta(minutes=10)
    assert harness.health("masto-live").lag == timedelta(seconds=30)
    harness.clock.advance(3600)
    assert harness.health("hn").lag == timedelta(minutes=70)  # quiet, not blind: last success known
    # lag survives a restart (it is stored), the derived figures are recomputed
    svc = harness.restart(
        {"type": "hackernews", "name": "hn", "query": "acme", "base_url": f"{api.url}/api/v1"}
    )
    assert harness.health("hn").lag == timedelta(minutes=70)


def test_format_status_tells_quiet_from_blind() -> None:
    now = START
    rows = [
        FeedHealth("newsroom", "rss", last_success_at=now - timedelta(minutes=2), items_recent=24,
                   items_per_minute=0.4, lag=timedelta(minutes=12)),
        FeedHealth("x-live", "x", mode="stream", connected=True, last_success_at=now - timedelta(seconds=5),
                   items_per_minute=3.14, lag=timedelta(seconds=20)),
        FeedHealth("reddit", "reddit", last_success_at=now - timedelta(hours=1), consecutive_failures=3,
                   next_due=now + timedelta(minutes=4), last_error="HTTP 503 Service Unavailable",
                   lag=timedelta(hours=3)),
        FeedHealth("jet", "bluesky", mode="stream", connected=False, consecutive_failures=2,
                   next_due=now + timedelta(seconds=30), last_error="cannot connect: " + "x" * 80),
        FeedHealth("hn", "hackernews"),
    ]  # fmt: skip
    table = format_status(rows, now)
    assert table.splitlines() == [
        "NAME      KIND        MODE    STATE                          LAST SUCCESS  ITEMS/MIN  LAG  LAST ERROR",
        "newsroom  rss         poll    ok                             2m ago        0.4        12m  -",
        "x-live    x           stream  connected                      5s ago        3.1        20s  -",
        "reddit    reddit      poll    failing (3), next in 4m        1h ago        0.0        3h   HTTP 503 Service Unavailable",
        "jet       bluesky     stream  reconnecting (2), next in 30s  never         0.0        -    cannot connect: "
        + "x" * 41
        + "...",
        "hn        hackernews  poll    not polled yet                 never         0.0        -    -",
    ]
    absolute = format_status(rows[:1])
    assert "2026-06-02 14:58:00Z" in absolute


def test_poll_once_shows_a_polled_source_without_producing(
    api: ApiServer, harness: Harness
) -> None:
    algolia = FakeAlgolia(api)
    algolia.story(1, START - timedelta(minutes=5))
    svc = harness.service(
        {"type": "hackernews", "name": "hn", "query": "acme", "base_url": f"{api.url}/api/v1"}
    )
    assert [m.source_id for m in svc.poll_once("hn")] == ["40000001"]
    assert harness.raw() == []
    assert svc._state.cursor("hn") == {}
    assert len(svc.poll_due()) == 1  # nothing was marked by the test


def test_poll_once_samples_a_stream_without_producing(api: ApiServer, harness: Harness) -> None:
    mastodon = FakeMastodon(api)
    mastodon.status(1, START - timedelta(minutes=1))
    mastodon.scripts.append(Script(posts=[mastodon.status(2, START)], end="stay"))
    mastodon.statuses = mastodon.statuses[:1]
    svc = harness.service(
        {"type": "mastodon_stream", "name": "live", "instance": api.url, "hashtag": "acme"}
    )
    sampled = svc.poll_once("live", seconds=5, limit=2)
    assert len(sampled) == 2  # the catch-up's status and the live one
    assert harness.raw() == [] and svc._state.cursor("live") == {}
    with pytest.raises(KeyError, match="nope"):
        svc.poll_once("nope")


def test_poll_once_of_a_jetstream_reads_for_the_given_time(harness: Harness) -> None:
    jet = FakeJetstream()
    try:
        jet.post(int(START.timestamp() * 1e6) - 1000, "acme?", 1, START)
        svc = harness.service({"type": "bluesky_jetstream", "name": "jet", "url": jet.url})
        assert [m.text for m in svc.poll_once("jet", seconds=0.5, limit=5)] == ["acme?"]
    finally:
        jet.stop()


def test_poll_once_raises_what_the_stream_says(harness: Harness, closed_port: int) -> None:
    svc = harness.service(
        {"type": "bluesky_jetstream", "name": "jet", "url": f"ws://127.0.0.1:{closed_port}/x"}
    )
    with pytest.raises(SourceError, match="cannot connect"):
        svc.poll_once("jet", seconds=1)


SECRETS = (X_TOKEN, YOUTUBE_KEY, MASTODON_TOKEN, "reddit-token-abcdef", "bsky-jwt-abcdef")


def credentialed(base: str) -> list[dict[str, object]]:
    return [
        {"type": "x", "name": "x", "query": "acme", "token": X_TOKEN, "base_url": base},
        {
            "type": "x_stream",
            "name": "x-live",
            "rules": ["acme"],
            "token": X_TOKEN,
            "base_url": base,
        },
        {
            "type": "youtube",
            "name": "yt",
            "query": "acme",
            "api_key": YOUTUBE_KEY,
            "base_url": base,
        },
        {
            "type": "mastodon",
            "name": "m",
            "instance": base,
            "query": "acme",
            "token": MASTODON_TOKEN,
        },
        {
            "type": "mastodon_stream",
            "name": "m-live",
            "instance": base,
            "hashtag": "acme",
            "token": MASTODON_TOKEN,
        },
        {"type": "reddit", "name": "r", "query": "acme", "token": SECRETS[3], "base_url": base},
        {"type": "bluesky", "name": "b", "query": "acme", "token": SECRETS[4], "base_url": base},
    ]


@pytest.mark.parametrize("where", ["echoing server", "closed port"])
def test_credentials_never_reach_logs_errors_or_status(
    api: ApiServer,
    harness: Harness,
    closed_port: int,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included

    def echo(request: Request) -> Reply:
        # a hostile or buggy server repeating the credential it was sent
        sent = request.headers.get("authorization") or request.headers.get("x-goog-api-key")
        return Reply(
            {"error": f"bad credentials: {sent}", "message": f"bad credentials: {sent}"}, 401
        )

    for path in ("/2/tweets/search/recent", "/2/tweets/search/stream/rules", "/search", "/api/v2/search",
                 "/api/v1/streaming/hashtag", "/search.json", "/xrpc/app.bsky.feed.searchPosts"):  # fmt: skip
        api.routes[path] = echo
    base = api.url if where == "echoing server" else f"http://127.0.0.1:{closed_port}"
    svc = harness.service(*credentialed(base))
    svc.poll_due()
    errors = []
    for source in ("x", "yt", "m", "r", "b", "x-live", "m-live"):
        try:
            svc.poll_once(source, seconds=1)
        except SourceError as exc:
            errors.append(str(exc))
    with harness.running(svc):
        eventually(lambda: all(h.last_error for h in svc.status()), what="every source to fail")
    assert len(errors) == 7
    status = svc.status()
    seen = "\n".join(
        [caplog.text, *errors, format_status(status, START), *(repr(h) for h in status)]
    )
    assert "bad credentials" in seen or where == "closed port"
    for secret in SECRETS:
        assert secret not in seen


def test_a_state_file_from_before_lag_is_migrated(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    path = Path(str(tmp_path)) / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE health (source TEXT PRIMARY KEY, last_poll_at REAL, last_success_at REAL, "
        "last_error TEXT, last_error_at REAL, failures INTEGER NOT NULL DEFAULT 0, next_due REAL)"
    )
    db.execute("INSERT INTO health VALUES ('news', 1.0, 1.0, NULL, NULL, 0, 2.0)")
    db.commit()
    db.close()
    state = IngestState(path)
    assert state.load_health("news", "rss").newest_item_at is None
    state.save_health(FeedHealth("news", "rss", newest_item_at=START))
    assert state.load_health("news", "rss").newest_item_at == START
