"""Bluesky: post search on an AppView (polled) and the Jetstream firehose over a real
WebSocket, filtered by the watchlist's terms and resumed from its ``time_us`` cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.records import Engagement
from tests.ingest.apiserver import ApiServer, Reply
from tests.ingest.documents import START
from tests.ingest.fakes_jetstream import FakeJetstream, Plan
from tests.ingest.fakes_social import FakeBluesky
from tests.ingest.harness import Harness, advance_to_reconnect, eventually

US = 1_000_000
T0 = int(START.timestamp() * US)


def search(api: ApiServer, **kw: object) -> dict[str, object]:
    return {"type": "bluesky", "name": "bsky", "query": "acme", "base_url": api.url, **kw}


def test_search_normalises_posts_with_engagement(api: ApiServer, harness: Harness) -> None:
    fake = FakeBluesky(api)
    fake.post(1, START - timedelta(minutes=5))
    svc = harness.service(search(api))
    (m,) = svc.poll_due()
    assert m.source == "bluesky"
    assert m.source_id == "at://did:plc:user0001/app.bsky.feed.post/3kpost0001"
    assert m.url == "https://bsky.app/profile/did:plc:user0001/post/3kpost0001"
    assert (m.text, m.author, m.language) == ("Acme ist schuld #1", "@user1.bsky.social", "de")
    assert m.engagement == Engagement(likes=3, shares=3, replies=1)
    sent = api.calls("/xrpc/app.bsky.feed.searchPosts")[0]
    assert sent.arg("since") == "2026-06-02T14:00:00.000+00:00"


def test_search_pages_with_the_cursor_and_resumes(api: ApiServer, harness: Harness) -> None:
    fake = FakeBluesky(api)
    for n in range(1, 131):
        fake.post(n, START - timedelta(minutes=50) + timedelta(seconds=10 * n))
    svc = harness.service(search(api, overlap="0s"))
    assert len(svc.poll_due()) == 130
    assert [r.arg("cursor") for r in api.calls("/xrpc/app.bsky.feed.searchPosts")] == [None, "100"]

    svc = harness.restart(search(api, overlap="0s"))
    fake.post(131, START + timedelta(seconds=30))
    harness.clock.advance(300)
    assert [m.source_id for m in svc.poll_due()] == [
        "at://did:plc:user0131/app.bsky.feed.post/3kpost0131"
    ]
    newest = START - timedelta(minutes=50) + timedelta(seconds=1300)
    assert api.calls("/xrpc/app.bsky.feed.searchPosts")[-1].arg("since") == newest.isoformat(
        timespec="milliseconds"
    )
    assert len(harness.raw()) == 131


def test_search_429_waits_for_retry_after(api: ApiServer, harness: Harness) -> None:
    fake = FakeBluesky(api)
    fake.fail.append(
        Reply(
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            429,
            {"Retry-After": "300"},
        )
    )
    svc = harness.service(search(api, interval="1m"))
    svc.poll_due()
    h = harness.health("bsky")
    assert h.last_error == "HTTP 429 Too Many Requests: Rate Limit Exceeded"
    assert h.next_due == START + timedelta(seconds=300)


# -- Jetstream ---------------------------------------------------------------------------


@pytest.fixture
def jetstream() -> Iterator[FakeJetstream]:
    fake = FakeJetstream()
    yield fake
    fake.stop()


def firehose(js: FakeJetstream, **kw: object) -> dict[str, object]:
    return {"type": "bluesky_jetstream", "name": "jet", "url": js.url, **kw}


def test_jetstream_keeps_posts_naming_a_brand(jetstream: FakeJetstream, harness: Harness) -> None:
    jetstream.post(T0 + 1, "Acme Corp let me down", 1, START)
    jetstream.post(T0 + 2, "lovely weather", 2, START)
    jetstream.other(T0 + 3, "like")
    jetstream.post(T0 + 4, "#acme boycott!", 3, START, langs=["de"])
    jetstream.post(
        T0 + 5,
        "look at this",
        4,
        START,
        embed={
            "$type": "app.bsky.embed.external",
            "external": {"uri": "https://n.example/x", "title": "Globex fined", "description": ""},
        },
    )
    jetstream.post(T0 + 6, "pacmeaning", 5, START)  # "acme" inside a word is no mention
    jetstream.other(T0 + 7)
    svc = harness.service(firehose(jetstream))
    with harness.running(svc):
        eventually(lambda: svc._state.cursor("jet") == {"time_us": str(T0 + 7)}, what="the cursor")
    produced = harness.raw()
    assert [m.text for m in produced] == ["Acme Corp let me down", "#acme boycott!", "look at this"]
    first = produced[0]
    assert first.source == "bluesky" and first.author == "did:plc:poster0001"
    assert first.url == "https://bsky.app/profile/did:plc:poster0001/post/3lpost0001"
    assert first.engagement == Engagement()
    assert produced[1].language == "de"
    # the first start replays the 5 minute backfill
    assert jetstream.cursors == [T0 - 300 * US]
    assert jetstream.collections == [["app.bsky.feed.post"]]


def test_jetstream_brand_hint_narrows_the_terms(jetstream: FakeJetstream, harness: Harness) -> None:
    jetstream.post(T0 + 1, "Acme again", 1, START)
    jetstream.post(T0 + 2, "Globex again", 2, START)
    jetstream.post(T0 + 3, "rocket skates", 3, START)
    svc = harness.service(firehose(jetstream, brands=["globex"], terms=["rocket skates"]))
    with harness.running(svc):
        eventually(lambda: svc._state.cursor("jet").get("time_us") == str(T0 + 3))
    assert [m.text for m in harness.raw()] == ["Globex again", "rocket skates"]


def test_jetstream_drop_reconnects_from_the_cursor_without_gap_or_duplicate(
    jetstream: FakeJetstream, harness: Harness
) -> None:
    for n in range(1, 7):
        jetstream.post(T0 + n * US, f"acme post {n}", n, START)
    jetstream.plans = [
        Plan(send=3, then="drop"),
        Plan(send=10, then="close"),
        Plan(send=0, then="stay"),
    ]
    svc = harness.service(firehose(jetstream, rewind="2s"))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 3)
        eventually(lambda: harness.health("jet").connected is False)
        assert harness.health("jet").last_error == "stream broke: no close frame"
        advance_to_reconnect(harness, "jet")
        eventually(lambda: len(harness.raw()) == 6, what="the posts after the drop")
        # the clean close is also a reason to come back
        eventually(lambda: harness.health("jet").last_error == "connection closed by the server")
        advance_to_reconnect(harness, "jet")
        eventually(lambda: len(jetstream.cursors) == 3)
    assert [m.text for m in harness.raw()] == [f"acme post {n}" for n in range(1, 7)]
    # each reconnect starts 2s before the last event seen, so nothing falls between
    assert jetstream.cursors[1:] == [T0 + 3 * US - 2 * US, T0 + 6 * US - 2 * US]


def test_jetstream_restart_resumes_from_the_stored_cursor(
    jetstream: FakeJetstream, harness: Harness
) -> None:
    jetstream.post(T0 + US, "acme one", 1, START)
    svc = harness.service(firehose(jetstream))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 1)
        eventually(lambda: svc._state.cursor("jet") == {"time_us": str(T0 + US)})
    jetstream.post(T0 + 2 * US, "acme two", 2, START)
    svc = harness.restart(firehose(jetstream))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 2)
    assert [m.text for m in harness.raw()] == ["acme one", "acme two"]
    assert jetstream.cursors[-1] == T0 + US - 5 * US


def test_jetstream_unreachable_backs_off_further_each_time(
    harness: Harness, closed_port: int
) -> None:
    svc = harness.service(
        {
            "type": "bluesky_jetstream",
            "name": "jet",
            "url": f"ws://127.0.0.1:{closed_port}/subscribe",
        }
    )
    with harness.running(svc):
        waits = [advance_to_reconnect(harness, "jet") for _ in range(4)]
    # 1s, 2s, 4s, 8s, each shortened by up to half (the jitter)
    for n, wait in enumerate(waits):
        assert timedelta(seconds=2**n * 0.5) <= wait <= timedelta(seconds=2**n)
    h = harness.health("jet")
    assert h.consecutive_failures >= 4
    assert (h.last_error or "").startswith("cannot connect: ConnectionRefusedError")
