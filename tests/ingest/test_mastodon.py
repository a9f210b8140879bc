"""Mastodon: hashtag timelines and status search over REST (polled), and the streaming
API over server-sent events (with REST catch-up), against the local fake."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.records import Engagement
from tests.ingest.apiserver import ApiServer, Reply
from tests.ingest.documents import START
from tests.ingest.fakes_social import MASTODON_TOKEN, FakeMastodon, Script
from tests.ingest.harness import Harness, advance_to_reconnect, eventually


def ago(minutes: float) -> datetime:
    return START - timedelta(minutes=minutes)


def rest(api: ApiServer, **kw: object) -> dict[str, object]:
    return {"type": "mastodon", "name": "masto", "instance": api.url, "hashtags": ["#acme"], **kw}


def test_statuses_are_normalised_with_engagement(api: ApiServer, harness: Harness) -> None:
    fake = FakeMastodon(api)
    local = fake.status(1, ago(10), spoiler_text="acme rant", language="de")
    remote = fake.status(2, ago(5))
    fake.status(3, ago(4), reblog={"id": "1"})  # a boost: the original is the mention
    svc = harness.service(rest(api))
    first, second = sorted(svc.poll_due(), key=lambda m: m.published_at)
    assert first.source == "mastodon" and first.source_id == local["id"]
    assert first.url == f"https://mastodon.example/@fan1/{local['id']}"
    assert (first.title, first.text) == ("acme rant", "I love #acme post 1")
    assert (first.author, first.language) == ("@fan1@mastodon.example", "de")
    assert first.engagement == Engagement(likes=3, shares=2, replies=1, author_followers=100)
    assert second.author == "@fan2@other.example"
    assert second.url == remote["url"]
    assert second.published_at == ago(5)


def test_timelines_page_back_to_the_backfill_window_then_follow_since_id(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeMastodon(api)
    fake.status(0, ago(90))  # before the 1h backfill
    for n in range(1, 51):
        fake.status(n, ago(55 - n))
    svc = harness.service(rest(api))
    assert len(svc.poll_due()) == 50
    calls = api.calls("/api/v1/timelines/tag/acme")
    assert [c.arg("since_id") for c in calls] == [None, None]
    assert calls[1].arg("max_id") == min(
        (s["id"] for s in fake.statuses[-40:]), key=int
    )  # the oldest of the first page of 40

    svc = harness.restart(rest(api))
    newest = max((s["id"] for s in fake.statuses), key=int)
    late = fake.status(51, ago(1))
    harness.clock.advance(300)
    assert [m.source_id for m in svc.poll_due()] == [late["id"]]
    assert api.calls("/api/v1/timelines/tag/acme")[-2].arg("since_id") == newest
    assert len(harness.raw()) == 51


def test_each_hashtag_and_the_search_keep_their_own_cursor(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeMastodon(api)
    a = fake.status(1, ago(3), tags=("acme",))
    b = fake.status(2, ago(2), tags=("boycottacme",), content="<p>boycott now</p>")
    c = fake.status(3, ago(1), tags=(), content="<p>acme corp again</p>")
    config = rest(api, hashtags=["acme", "boycottacme"], query="acme corp", token=MASTODON_TOKEN)
    svc = harness.service(config)
    assert {m.source_id for m in svc.poll_due()} == {a["id"], b["id"], c["id"]}
    state = svc._state.cursor("masto")
    assert state == {
        "tag:acme:mark": a["id"],
        "tag:boycottacme:mark": b["id"],
        "search:mark": c["id"],
    }
    harness.clock.advance(300)
    svc.poll_due()
    assert api.calls("/api/v2/search")[-1].arg("min_id") == c["id"]


def test_local_only_keeps_the_searchs_local_statuses_too(api: ApiServer, harness: Harness) -> None:
    # search has no "local" parameter: its remote statuses (even numbers here) were kept
    fake = FakeMastodon(api)
    local = fake.status(1, ago(2), tags=(), content="<p>acme corp again</p>")
    fake.status(2, ago(1), tags=(), content="<p>acme corp from afar</p>")
    config = rest(api, hashtags=[], query="acme corp", token=MASTODON_TOKEN, local_only=True)
    svc = harness.service(config)
    assert [m.source_id for m in svc.poll_due()] == [local["id"]]
    assert api.calls("/api/v2/search")[-1].arg("local") is None


def test_search_without_a_token_fails_and_says_why(api: ApiServer, harness: Harness) -> None:
    FakeMastodon(api)
    svc = harness.service(rest(api, hashtags=[], query="acme"))
    svc.poll_due()
    assert (
        harness.health("masto").last_error == "HTTP 401 Unauthorized: The access token is invalid"
    )


def test_a_429_waits_for_retry_after(api: ApiServer, harness: Harness) -> None:
    fake = FakeMastodon(api)
    fake.status(1, ago(1))
    fake.fail.append(Reply({"error": "Too many requests"}, 429, {"Retry-After": "240"}))
    svc = harness.service(rest(api, interval="1m"))
    assert svc.poll_due() == []
    assert harness.health("masto").next_due == START + timedelta(seconds=240)
    harness.clock.advance(240)
    assert len(svc.poll_due()) == 1


# -- streaming ------------------------------------------------------------------------------


def stream(api: ApiServer, **kw: object) -> dict[str, object]:
    return {
        "type": "mastodon_stream",
        "name": "masto-live",
        "instance": api.url,
        "hashtag": "acme",
        **kw,
    }


def test_stream_catches_up_then_relays_live_statuses(api: ApiServer, harness: Harness) -> None:
    fake = FakeMastodon(api)
    old = fake.status(1, ago(30))  # before the stream's 15 min backfill
    recent = fake.status(2, ago(10))
    live = [fake.status(n, START + timedelta(seconds=n)) for n in (3, 4)]
    fake.statuses = [old, recent]  # the live ones are not in REST yet
    fake.scripts.append(Script(posts=live, end="stay", heartbeat=b":thump\n"))
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 3, what="catch-up and live statuses")
    assert [m.source_id for m in harness.raw()] == [recent["id"], live[0]["id"], live[1]["id"]]
    assert api.calls("/api/v1/streaming/hashtag")[0].arg("tag") == "acme"
    assert svc._state.cursor("masto-live") == {"mark": live[1]["id"]}


def test_a_dropped_stream_reconnects_and_catches_up_from_the_last_id(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeMastodon(api)
    first = fake.status(1, ago(1))
    fake.scripts.append(Script(posts=[first], end="drop"))
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 1, what="the first status")
        eventually(lambda: harness.health("masto-live").connected is False, what="the drop")
        assert harness.health("masto-live").last_error == "stream broke: RemoteProtocolError"
        # posted while we are disconnected: only REST can tell us
        missed = fake.status(2, START + timedelta(seconds=5))
        live = fake.status(3, START + timedelta(seconds=6))
        fake.scripts.append(Script(posts=[live], end="stay"))
        waited = advance_to_reconnect(harness, "masto-live")
        assert timedelta(0) < waited <= timedelta(seconds=1)  # delivered, then dropped: quick
        eventually(lambda: len(harness.raw()) == 3, what="the catch-up after the drop")
        assert harness.health("masto-live").connected is True
    assert [m.source_id for m in harness.raw()] == [first["id"], missed["id"], live["id"]]
    catch_ups = api.calls("/api/v1/timelines/tag/acme")
    assert catch_ups[-2].arg("since_id") == first["id"]  # then an empty page ends the walk


def test_a_restart_resumes_the_stream_from_the_stored_id(api: ApiServer, harness: Harness) -> None:
    fake = FakeMastodon(api)
    a = fake.status(1, ago(2))
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 1)
    b = fake.status(2, ago(1))
    svc = harness.restart(stream(api))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 2)
    assert [m.source_id for m in harness.raw()] == [a["id"], b["id"]]
    assert api.calls("/api/v1/timelines/tag/acme")[-2].arg("since_id") == a["id"]


def test_the_public_stream_keeps_only_posts_naming_the_watchlist(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeMastodon(api)
    hit = fake.status(1, START, content="<p>Acme Corp stock falls</p>", tags=())
    miss = fake.status(2, START, content="<p>cats</p>", tags=())
    tagged = fake.status(3, START, content="<p>so angry</p>", tags=("acme",))
    fake.statuses = []
    fake.scripts.append(Script(posts=[hit, miss, tagged], end="stay"))
    svc = harness.service(stream(api, timeline="public", hashtag=None, brands=["acme"]))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 2)
        eventually(lambda: svc._state.cursor("masto-live").get("mark") == tagged["id"])
    assert [m.source_id for m in harness.raw()] == [hit["id"], tagged["id"]]
    assert api.calls("/api/v1/streaming/public")


def test_a_429_on_connecting_waits_for_retry_after(api: ApiServer, harness: Harness) -> None:
    fake = FakeMastodon(api)
    fake.fail.append(Reply({"error": "Too many requests"}, 429, {"Retry-After": "120"}))
    svc = harness.service(stream(api))
    with harness.running(svc):
        waited = advance_to_reconnect(harness, "masto-live")
        assert waited == timedelta(seconds=120)
        eventually(lambda: harness.health("masto-live").connected is True)
    assert harness.health("masto-live").last_error == "HTTP 429 Too Many Requests"
