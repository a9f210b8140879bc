"""Reddit, Hacker News (Algolia) and YouTube search through the service, against fakes
speaking their documented JSON: normalisation with engagement, pagination, resume after
a restart without gap or duplicate, and 429 / quota handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.records import Engagement
from ingest.pager import FLOOR, MARK, RESUME
from tests.ingest.apiserver import ApiServer, Reply
from tests.ingest.documents import START
from tests.ingest.fakes_search import YOUTUBE_KEY, FakeAlgolia, FakeReddit, FakeYouTube
from tests.ingest.harness import Harness


def minutes(n: float) -> datetime:
    return START - timedelta(minutes=n)


# -- Reddit ---------------------------------------------------------------------------------


def reddit(api: ApiServer, **kw: object) -> dict[str, object]:
    return {"type": "reddit", "name": "reddit-acme", "query": "acme", "base_url": api.url, **kw}


def test_reddit_normalises_posts_with_engagement(api: ApiServer, harness: Harness) -> None:
    fake = FakeReddit(api)
    fake.post(1, minutes(5), title="Acme  recall\n thread", selftext="Why **Acme**?", author="jo")
    fake.post(2, minutes(200))  # older than the 1h backfill of the first start
    svc = harness.service(reddit(api))
    (m,) = svc.poll_due()
    assert m.source == "reddit" and m.source_name == "reddit-acme"
    assert m.source_id == "t3_abc001"
    assert m.url == "https://www.reddit.com/r/technology/comments/abc001/acme_news_1/"
    assert (m.title, m.text, m.author) == ("Acme recall thread", "Why **Acme**?", "u/jo")
    assert m.published_at == minutes(5)
    assert m.engagement == Engagement(likes=11, shares=1, replies=1)
    sent = api.calls("/search.json")[0]
    assert sent.arg("q") == "acme" and sent.arg("raw_json") == "1"
    assert sent.headers["user-agent"].startswith("stormwatch-test/1")


def test_reddit_pages_with_after_and_resumes_without_gap_or_duplicate(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeReddit(api)
    for n in range(1, 251):  # 250 posts in the last 50 minutes: three pages of 100
        fake.post(n, minutes(50 - n * 0.2))
    svc = harness.service(reddit(api, max_pages=2, overlap="0s"))
    first = svc.poll_due()
    assert len(first) == 200
    afters = [r.arg("after") for r in api.calls("/search.json")]
    assert afters == [None, "t3_abc151"]
    # the walk was cut short: the stored cursor resumes it after a restart
    svc = harness.restart(reddit(api, max_pages=2, overlap="0s"))
    for n in range(251, 254):  # newer posts arrived meanwhile
        fake.post(n, START + timedelta(seconds=n - 250))
    harness.clock.advance(300)
    second = svc.poll_due()
    assert api.calls("/search.json")[-1].arg("after") == "t3_abc051"
    assert len(second) == 50
    harness.clock.advance(300)
    third = svc.poll_due()
    assert sorted(m.source_id or "" for m in third) == ["t3_abc251", "t3_abc252", "t3_abc253"]
    produced = [m.source_id for m in harness.raw()]
    assert len(produced) == len(set(produced)) == 253


def test_reddit_429_waits_for_retry_after(api: ApiServer, harness: Harness) -> None:
    fake = FakeReddit(api)
    fake.post(1, minutes(1))
    fake.fail.append(
        Reply({"message": "Too Many Requests", "error": 429}, 429, {"Retry-After": "600"})
    )
    svc = harness.service(reddit(api, interval="1m"))
    assert svc.poll_due() == []
    h = harness.health("reddit-acme")
    assert h.last_error == "HTTP 429 Too Many Requests"
    assert h.next_due == START + timedelta(seconds=600)
    harness.clock.advance(599)
    assert svc.poll_due() == []
    assert len(api.calls("/search.json")) == 1
    harness.clock.advance(1)
    assert len(svc.poll_due()) == 1


def test_reddit_spent_rate_limit_delays_the_next_poll_without_failing(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeReddit(api)
    fake.remaining = 1.0  # this request spends the window (reset in 300s)
    fake.post(1, minutes(1))
    svc = harness.service(reddit(api, interval="1m"))
    assert len(svc.poll_due()) == 1
    h = harness.health("reddit-acme")
    assert h.consecutive_failures == 0 and h.last_error is None
    assert h.next_due == START + timedelta(seconds=300)


# -- Hacker News ----------------------------------------------------------------------------


def hn(api: ApiServer, **kw: object) -> dict[str, object]:
    base = f"{api.url}/api/v1"
    return {"type": "hackernews", "name": "hn", "query": "acme", "base_url": base, **kw}


def test_hackernews_stories_and_comments(api: ApiServer, harness: Harness) -> None:
    fake = FakeAlgolia(api)
    fake.story(1, minutes(30))
    fake.comment(2, minutes(10), "<p>Acme&#x27;s <i>rocket</i> failed</p>")
    svc = harness.service(hn(api))
    comment, story = sorted(svc.poll_due(), key=lambda m: m.source_id or "", reverse=True)
    assert story.url == "https://news.ycombinator.com/item?id=40000001"
    assert (story.title, story.author, story.source) == (
        "Acme launches thing 1",
        "pg",
        "hackernews",
    )
    assert story.engagement == Engagement(likes=10, replies=2)
    assert comment.text == "Acme's rocket failed"
    assert comment.title == "Acme launches thing 1"
    assert comment.engagement == Engagement()
    sent = api.calls("/api/v1/search_by_date")[0]
    assert sent.arg("tags") == "(story,comment)"
    assert (
        sent.arg("numericFilters")
        == f"created_at_i>={int((START - timedelta(hours=1)).timestamp())}"
    )


def test_hackernews_pages_and_resumes_from_the_newest_time(
    api: ApiServer, harness: Harness
) -> None:
    fake = FakeAlgolia(api)
    for n in range(1, 151):
        fake.story(n, minutes(55 - n * 0.3))
    svc = harness.service(hn(api, overlap="0s"))
    assert len(svc.poll_due()) == 150
    assert [r.arg("page") for r in api.calls("/api/v1/search_by_date")] == ["0", "1"]
    newest = max(h["created_at_i"] for h in fake.hits)

    svc = harness.restart(hn(api, overlap="0s"))
    fake.story(151, minutes(0.5))
    harness.clock.advance(600)
    assert [m.source_id for m in svc.poll_due()] == ["40000151"]
    assert (
        api.calls("/api/v1/search_by_date")[-1].arg("numericFilters") == f"created_at_i>={newest}"
    )
    assert len(harness.raw()) == 151


# -- YouTube ----------------------------------------------------------------------------------


def youtube(api: ApiServer, **kw: object) -> dict[str, object]:
    return {
        "type": "youtube",
        "name": "yt",
        "query": "acme",
        "api_key": YOUTUBE_KEY,
        "base_url": f"{api.url}/youtube/v3",
        **kw,
    }


def test_youtube_videos_with_statistics(api: ApiServer, harness: Harness) -> None:
    fake = FakeYouTube(api)
    fake.channels["UCacme"] = {
        "viewCount": "9",
        "subscriberCount": "12345",
        "hiddenSubscriberCount": False,
        "videoCount": "3",
    }
    fake.channels["UChidden"] = {
        "viewCount": "9",
        "subscriberCount": "0",
        "hiddenSubscriberCount": True,
        "videoCount": "1",
    }
    fake.video(1, minutes(20))
    fake.video(2, minutes(10), channel="UChidden")
    svc = harness.service(youtube(api))
    second, first = sorted(svc.poll_due(), key=lambda m: m.source_id or "", reverse=True)
    assert first.url == "https://www.youtube.com/watch?v=vid00000001"
    assert first.title == "Acme & friends review #1"
    assert first.text == "Unboxing the Acme rocket skates 'live'"
    assert first.author == "Gadget Channel"
    assert first.engagement == Engagement(likes=10, replies=1, author_followers=12345)
    assert second.engagement == Engagement(likes=20, replies=2)
    search = api.calls("/youtube/v3/search")[0]
    assert search.arg("publishedAfter") == "2026-06-02T14:00:00Z"
    assert search.headers["x-goog-api-key"] == YOUTUBE_KEY


def test_youtube_pages_and_resumes(api: ApiServer, harness: Harness) -> None:
    fake = FakeYouTube(api)
    for n in range(1, 121):
        fake.video(n, minutes(59 - n * 0.4))
    svc = harness.service(youtube(api, statistics=False, overlap="0s"))
    assert len(svc.poll_due()) == 120
    assert [r.arg("pageToken") for r in api.calls("/youtube/v3/search")] == [
        None,
        "CA50QAA",
        "CA100QAA",
    ]
    assert api.calls("/youtube/v3/videos") == []

    svc = harness.restart(youtube(api, statistics=False, overlap="0s"))
    fake.video(121, minutes(0.5))
    harness.clock.advance(900)
    assert [m.source_id for m in svc.poll_due()] == ["vid00000121"]
    newest = datetime(2026, 6, 2, 14, 49, 0, tzinfo=UTC)  # video 120's time
    assert api.calls("/youtube/v3/search")[-1].arg("publishedAfter") == newest.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert len(harness.raw()) == 121


def test_youtube_spent_quota_waits_an_hour(api: ApiServer, harness: Harness) -> None:
    fake = FakeYouTube(api)
    message = "The request cannot be completed because you have exceeded your quota."
    fake.fail.append(
        Reply(
            {
                "error": {
                    "code": 403,
                    "message": message,
                    "errors": [
                        {"message": message, "domain": "youtube.quota", "reason": "quotaExceeded"}
                    ],
                }
            },
            403,
        )
    )
    svc = harness.service(youtube(api), backoff={"initial": "1m", "max": "2h", "jitter": 0.2})
    svc.poll_due()
    h = harness.health("yt")
    assert h.last_error == f"HTTP 403 Forbidden: {message}"
    assert h.next_due == START + timedelta(hours=1)


def test_a_wrong_youtube_key_is_reported_without_the_key(api: ApiServer, harness: Harness) -> None:
    FakeYouTube(api)
    svc = harness.service(youtube(api, api_key="wrong-key-123"))
    svc.poll_due()
    error = harness.health("yt").last_error or ""
    assert error.startswith("HTTP 400 Bad Request: API key not valid")
    assert "wrong-key-123" not in error


@pytest.mark.parametrize("config", [reddit, hn, youtube])
def test_first_start_stores_the_floor_and_later_polls_keep_it(
    api: ApiServer, harness: Harness, config: object
) -> None:
    FakeReddit(api), FakeAlgolia(api), FakeYouTube(api)
    svc = harness.service(config(api))  # type: ignore[operator]
    svc.poll_due()
    name = svc.status()[0].name
    state = harness.services[0]._state.cursor(name)
    assert state == {FLOOR: (START - timedelta(hours=1)).isoformat()}
    assert MARK not in state and RESUME not in state
