"""X API v2: recent search (polled) and the filtered stream over chunked HTTP with its
rules, catching up through recent search after every (re)connect."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from core.clock import ManualClock
from core.records import Engagement, Mention
from ingest.source import SourceError
from ingest.sources.base import SourceContext
from ingest.sources.x_stream import XStreamConfig
from tests.ingest.apiserver import ApiServer, Reply
from tests.ingest.documents import START
from tests.ingest.fakes_social import X_TOKEN, FakeX, Script
from tests.ingest.harness import WATCHLIST, Harness, advance_to_reconnect, eventually

BASE_ID = 1_790_000_000_000_000_000


def ago(minutes: float) -> datetime:
    return START - timedelta(minutes=minutes)


def search(api: ApiServer, **kw: object) -> dict[str, object]:
    return {
        "type": "x",
        "name": "x-acme",
        "query": "acme -is:retweet",
        "token": X_TOKEN,
        "base_url": api.url,
        **kw,
    }


def test_recent_search_normalises_posts_and_author_figures(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeX(api)
    fake.post(1, ago(10))
    fake.posts[-1]["lang"] = "und"
    fake.post(2, ago(5), text="Long post cut…")
    fake.posts[-1]["note_tweet"] = {"text": "Long post about Acme, in full"}
    svc = harness.service(search(api))
    first, second = sorted(svc.poll_due(), key=lambda m: m.published_at)
    assert first.source == "x" and first.source_id == str(BASE_ID + 1)
    assert first.url == f"https://x.com/i/web/status/{BASE_ID + 1}"
    assert (first.text, first.author, first.language) == (
        "Acme & co let me down #1",
        "@poster6",
        None,
    )
    assert first.engagement == Engagement(likes=5, shares=2, replies=2, author_followers=1001)
    assert second.text == "Long post about Acme, in full"
    assert second.language == "en"
    sent = api.calls("/2/tweets/search/recent")[0]
    assert sent.arg("query") == "acme -is:retweet"
    assert sent.arg("start_time") == "2026-06-02T14:00:00Z" and sent.arg("since_id") is None
    assert sent.headers["authorization"] == f"Bearer {X_TOKEN}"


def test_an_edited_post_is_the_mention_of_the_post_it_edits(
    api: ApiServer, harness: Harness
) -> None:
    # X gives an edit a new id; its edit history starts with the original's
    fake = FakeX(api)
    fake.post(1, ago(10))
    fake.post(5, ago(5), text="Acme let me down (edit: twice!)")
    fake.posts[-1]["edit_history_tweet_ids"] = [str(BASE_ID + 1), str(BASE_ID + 5)]
    svc = harness.service(search(api))
    [only] = svc.poll_due()  # the edit is the same mention: dropped as seen
    assert only.source_id == str(BASE_ID + 1)
    assert only.url == f"https://x.com/i/web/status/{BASE_ID + 1}"


def test_recent_search_pages_and_resumes_with_since_id(api: ApiServer, harness: Harness) -> None:
    fake = FakeX(api)
    for n in range(1, 251):
        fake.post(n, ago(50 - n * 0.1))
    svc = harness.service(search(api, max_pages=2))
    assert len(svc.poll_due()) == 200
    assert [r.arg("next_token") for r in api.calls("/2/tweets/search/recent")] == [None, "b26v100"]

    svc = harness.restart(search(api, max_pages=2))
    fake.post(251, ago(0.5))
    harness.clock.advance(300)
    resumed = svc.poll_due()  # finishes the cut-short walk first
    assert len(resumed) == 50
    assert api.calls("/2/tweets/search/recent")[-1].arg("next_token") == "b26v200"
    harness.clock.advance(300)
    latest = svc.poll_due()
    assert [m.source_id for m in latest] == [str(BASE_ID + 251)]
    assert api.calls("/2/tweets/search/recent")[-1].arg("since_id") == str(BASE_ID + 250)
    ids = [m.source_id for m in harness.raw()]
    assert len(ids) == len(set(ids)) == 251


def test_a_spent_window_waits_for_its_reset(api: ApiServer, harness: Harness) -> None:
    fake = FakeX(api)
    fake.remaining = 1  # the next request spends the 15 minute window
    fake.post(1, ago(1))
    svc = harness.service(search(api, interval="1m"))
    assert len(svc.poll_due()) == 1
    h = harness.health("x-acme")
    assert h.consecutive_failures == 0
    assert h.next_due == START + timedelta(seconds=900)


def test_a_429_without_retry_after_waits_for_the_reset_header(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeX(api)
    reset = int(api.now.timestamp()) + 600
    fake.fail.append(
        Reply(
            {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
            429,
            {
                "x-rate-limit-limit": "450",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            },
        )
    )
    svc = harness.service(search(api, interval="1m"))
    svc.poll_due()
    h = harness.health("x-acme")
    assert h.last_error == "HTTP 429 Too Many Requests"
    assert h.next_due == START + timedelta(seconds=600)
    harness.clock.advance(300)
    svc.poll_due()  # not due yet: nothing is sent
    assert len(api.calls("/2/tweets/search/recent")) == 1


# -- filtered stream -------------------------------------------------------------------------


def stream(api: ApiServer, **kw: object) -> dict[str, object]:
    return {
        "type": "x_stream",
        "name": "x-live",
        "rules": ["acme -is:retweet", "#boycottacme"],
        "token": X_TOKEN,
        "base_url": api.url,
        **kw,
    }


TAG = "stormwatch:x-live"


def test_stream_syncs_its_rules_catches_up_and_relays_its_posts(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeX(api)
    fake.rules.append({"id": "950", "value": "old rule", "tag": TAG})
    caught = fake.post(1, ago(5))
    live = fake.post(2, START + timedelta(seconds=1))
    foreign = fake.post(3, START + timedelta(seconds=2))
    fake.posts = [caught]  # what recent search knows at connect time
    fake.scripts.append(
        Script(
            posts=[fake.envelope(live, TAG), fake.envelope(foreign, "someone-else")],
            end="stay",
            heartbeat=b"\r\n",
        )
    )
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(
            lambda: svc._state.cursor("x-live").get("mark") == foreign["id"], what="the stream"
        )
    assert [m.source_id for m in harness.raw()] == [caught["id"], live["id"]]
    assert sorted((r["value"], r["tag"]) for r in fake.rules) == [
        ("#boycottacme", TAG),
        ("acme -is:retweet", TAG),
        ("cats", "someone-else"),  # another app's rule is left alone
    ]
    catch_up = api.calls("/2/tweets/search/recent")[0]
    assert catch_up.arg("query") == "(acme -is:retweet) OR (#boycottacme)"
    assert catch_up.arg("start_time") == "2026-06-02T14:45:00Z"  # the 15 min backfill
    assert api.calls("/2/tweets/search/stream")[0].arg("expansions") == "author_id"


def test_a_dropped_stream_catches_up_from_the_last_id(api: ApiServer, harness: Harness) -> None:
    fake = FakeX(api)
    first = fake.post(1, START)
    fake.posts = []
    fake.scripts.append(Script(posts=[fake.envelope(first, TAG)], end="drop"))
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 1)
        eventually(lambda: harness.health("x-live").connected is False)
        assert harness.health("x-live").last_error == "stream broke: RemoteProtocolError"
        fake.posts = [first, fake.post(2, START + timedelta(seconds=3))]  # missed meanwhile
        fake.scripts.append(Script(end="stay"))
        advance_to_reconnect(harness, "x-live")
        eventually(lambda: len(harness.raw()) == 2, what="the catch-up")
    assert [m.source_id for m in harness.raw()] == [first["id"], str(BASE_ID + 2)]
    assert api.calls("/2/tweets/search/recent")[-1].arg("since_id") == first["id"]
    # the rules were already in place: the second connect changed nothing
    assert [r.method for r in api.calls("/2/tweets/search/stream/rules")] == ["GET", "POST", "GET"]


def test_an_operational_disconnect_is_reported(api: ApiServer, harness: Harness) -> None:
    fake = FakeX(api)
    disconnect = {
        "errors": [
            {
                "title": "operational-disconnect",
                "disconnect_type": "UpstreamOperationalDisconnect",
                "detail": "This stream has been disconnected upstream for operational reasons.",
                "type": "https://api.twitter.com/2/problems/operational-disconnect",
            }
        ]
    }
    fake.scripts.append(Script(posts=[disconnect], end="close"))
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(lambda: "operational-disconnect" in (harness.health("x-live").last_error or ""))
    assert harness.health("x-live").last_error == (
        "X ended the stream: operational-disconnect "
        "(This stream has been disconnected upstream for operational reasons.)"
    )


def test_a_stream_ended_at_once_each_time_backs_off_further(
    api: ApiServer, harness: Harness
) -> None:
    # accepted, caught up, ended in-body: the catch-up does not show the stream works
    fake = FakeX(api)
    disconnect = {"errors": [{"title": "operational-disconnect"}]}
    for _ in range(5):
        fake.scripts.append(Script(posts=[disconnect], end="close"))
    svc = harness.service(stream(api))
    with harness.running(svc):
        waits = [advance_to_reconnect(harness, "x-live") for _ in range(4)]
    # the stream backoff's 1s, 2s, 4s, 8s, each shortened by up to half (the jitter)
    for n, wait in enumerate(waits):
        assert timedelta(seconds=2**n * 0.5) <= wait <= timedelta(seconds=2**n)
    assert harness.health("x-live").consecutive_failures >= 4


def test_a_refused_rule_is_the_streams_error(api: ApiServer, harness: Harness) -> None:
    FakeX(api)
    svc = harness.service(stream(api, rules=["(acme OR"]))
    with harness.running(svc):
        eventually(lambda: harness.health("x-live").consecutive_failures >= 1)
    h = harness.health("x-live")
    assert h.last_error == "rule refused: UnprocessableEntity: (acme OR"
    assert api.calls("/2/tweets/search/stream") == []


def test_too_many_connections_waits(api: ApiServer, harness: Harness) -> None:
    fake = FakeX(api)
    fake.stream_fail.append(
        Reply(
            {
                "title": "ConnectionException",
                "detail": "This stream is currently at the maximum allowed connection limit.",
                "type": "https://api.twitter.com/2/problems/streaming-connection",
            },
            429,
            {"Retry-After": "60"},
        )
    )
    svc = harness.service(stream(api))
    with harness.running(svc):
        waited = advance_to_reconnect(harness, "x-live")
        eventually(lambda: harness.health("x-live").connected is True, what="the reconnect")
    assert waited == timedelta(seconds=60)
    assert len(api.calls("/2/tweets/search/stream")) == 2
    assert harness.health("x-live").last_error == (
        "HTTP 429 Too Many Requests: This stream is currently at the maximum allowed connection limit."
    )


def test_a_restart_resumes_the_stream_from_the_stored_id(api: ApiServer, harness: Harness) -> None:
    fake = FakeX(api)
    first = fake.post(1, START)
    fake.posts = []
    fake.scripts.append(Script(posts=[fake.envelope(first, TAG)], end="stay"))
    svc = harness.service(stream(api))
    with harness.running(svc):
        eventually(lambda: svc._state.cursor("x-live").get("mark") == first["id"])
    fake.posts = [first, fake.post(2, START + timedelta(seconds=9))]  # while we were down
    svc = harness.restart(stream(api))
    with harness.running(svc):
        eventually(lambda: len(harness.raw()) == 2)
    assert [m.source_id for m in harness.raw()] == [first["id"], str(BASE_ID + 2)]
    restarted = api.calls("/2/tweets/search/recent")[-1]
    assert restarted.arg("since_id") == first["id"] and restarted.arg("start_time") is None


def test_posts_made_while_down_are_caught_up_after_a_cut_short_catch_up(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    # the first catch-up is cut at max_pages; the next connection finishes it, and must
    # also read what was posted while the stream was down, above where it began
    fake = FakeX(api)
    config = XStreamConfig.model_validate(
        {**stream(api), "rules": ["acme"], "max_pages": 1, "max_results": 10}
    )
    source = config.build(SourceContext(http, clock, "stormwatch-test/1", WATCHLIST))
    for n in range(1, 16):  # a backfill of 15: two pages of 10
        fake.post(n, ago(14 - n * 0.5))

    def live(n: int, at: datetime) -> dict[str, object]:  # delivered by the stream
        return fake.envelope(fake.post(n, at), source.tag)

    fake.scripts.append(Script([live(30, ago(2))], end="drop"))
    seen, cursor = connection(source, {})
    clock.advance(120)
    api.now = clock.now()
    fake.post(31, ago(-1))  # posted while the stream is down
    fake.post(32, ago(-1.5))
    fake.scripts.append(Script([live(40, ago(-3))], end="drop"))
    clock.advance(120)
    api.now = clock.now()
    more, cursor = connection(source, cursor)
    numbers = {int(m.source_id or 0) - BASE_ID for m in [*seen, *more]}
    assert numbers >= {*range(1, 16), 30, 31, 32, 40}


def connection(source: Any, cursor: dict[str, str]) -> tuple[list[Mention], dict[str, str]]:
    """One connection read to its end: the mentions, and the last cursor."""
    got: list[Mention] = []
    conn = source.connect(cursor)
    try:
        for event in conn:
            got.extend(event.mentions)
            cursor = dict(event.cursor) if event.cursor is not None else cursor
    except SourceError:
        pass  # the scripted drop
    finally:
        conn.close()
    return got, cursor


def test_a_rule_the_app_has_under_another_tag_still_delivers_its_posts(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    # X keeps one rule per value: after a rename (or another tool's rule) adding ours is a
    # DuplicateRule, and its posts arrive under the other tag; they were all dropped
    fake = FakeX(api)
    fake.rules.append({"id": "777", "value": "acme", "tag": "stormwatch:x-old-name"})
    config = XStreamConfig.model_validate({**stream(api), "rules": ["acme"], "backfill": "0s"})
    source = config.build(SourceContext(http, clock, "stormwatch-test/1", WATCHLIST))
    posts = [fake.post(n, ago(-n)) for n in (1, 2, 3)]
    for post in posts:
        fake.posts.remove(post)  # live only
    envelopes = [
        {**fake.envelope(p, "stormwatch:x-old-name"), "matching_rules": [{"id": "777"}]}
        for p in posts
    ]
    fake.scripts.append(Script(envelopes, end="drop"))
    got, _ = connection(source, {})
    assert len(got) == 3
