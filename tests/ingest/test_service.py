"""`IngestService` end to end over a real HTTP server, an EmbeddedBus and a ManualClock."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core import topics
from core.bus.embedded import EmbeddedBus
from core.bus.port import BusError, Headers, Producer
from core.clock import ManualClock
from core.records import Mention, decode
from core.watchlist import Feed
from ingest.dedup import FeedHealth
from ingest.service import IngestService
from ingest.settings import BackoffSettings, IngestSettings
from ingest.source import Cursor, Fetched, Source, SourceError
from tests.ingest.documents import (
    START,
    blog_atom,
    feed,
    item,
    news_rss,
    rss,
    simple_items,
    watchlist,
)
from tests.ingest.feedserver import FeedServer, Route

MINUTE = timedelta(minutes=1)
SETTINGS = IngestSettings(
    user_agent="stormwatch-test/1",
    first_poll_jitter=timedelta(0),
    backoff=BackoffSettings(initial=MINUTE, max=timedelta(minutes=30), jitter=0.2),
)


class RecordingProducer(Producer):
    """Keeps what was sent; `flush` fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.flushed = 0
        self.failing = False

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        if self.failing:
            raise BusError("broker unreachable")
        self.flushed = len(self.sent)

    def close(self) -> None:
        pass


@pytest.fixture
def services() -> Iterator[list[IngestService]]:
    made: list[IngestService] = []
    yield made
    for svc in made:
        svc.close()


Make = Callable[..., IngestService]


@pytest.fixture
def make(
    services: list[IngestService], state_path: Path, clock: ManualClock, http: httpx.Client
) -> Make:
    """Builds a service on the shared state file, HTTP client and clock."""

    def build(
        *feeds: Feed,
        producer: Producer,
        settings: IngestSettings = SETTINGS,
        sources: Sequence[Source] = (),
    ) -> IngestService:
        svc = IngestService(
            watchlist(*feeds),
            settings,
            producer,
            state_path,
            clock,
            http,
            sources=sources,
            rng=random.Random(42),
        )
        services.append(svc)
        return svc

    return build


def raw(bus: EmbeddedBus) -> list[Mention]:
    out = []
    for msg in bus.read_topic(topics.RAW):
        m = decode(msg.value, Mention)
        assert msg.key == m.id.encode()
        out.append(m)
    return out


def health(svc: IngestService) -> dict[str, FeedHealth]:
    return {h.name: h for h in svc.status()}


def test_new_mentions_go_to_the_raw_topic_keyed_by_id(
    server: FeedServer, bus: EmbeddedBus, make: Make
) -> None:
    server.routes["/news.rss"] = Route(news_rss())
    server.routes["/blog.atom"] = Route(blog_atom(), content_type="application/atom+xml")
    svc = make(
        feed("news", server.url("/news.rss")),
        feed("blog", server.url("/blog.atom")),
        producer=bus.producer(),
    )
    produced = svc.poll_due()
    # news: 6 items, of which one repeats a GUID and one repeats a URL behind tracking
    # parameters; blog: 3 entries, one of them the news feed's recall article again
    assert len(produced) == 6
    assert len({m.id for m in produced}) == 6
    assert raw(bus) == produced
    assert sorted((m.source_name, m.source) for m in produced) == [
        ("blog", "atom"),
        ("blog", "atom"),
        ("news", "rss"),
        ("news", "rss"),
        ("news", "rss"),
        ("news", "rss"),
    ]
    recall = [m for m in produced if "acme-recall" in (m.url or "")]
    assert [m.source_id for m in recall] == ["acme-recall-7"]


def test_conditional_get_sends_the_validators_and_304_produces_nothing(
    server: FeedServer, bus: EmbeddedBus, clock: ManualClock, make: Make
) -> None:
    lm = "Tue, 02 Jun 2026 12:00:00 GMT"
    server.routes["/news.rss"] = Route(simple_items("a", "b"), etag='"v1"', last_modified=lm)
    svc = make(feed("news", server.url("/news.rss")), producer=bus.producer())
    assert len(svc.poll_due()) == 2
    assert "if-none-match" not in server.last_request("/news.rss")

    clock.advance(60)
    assert svc.poll_due() == []
    sent = server.last_request("/news.rss")
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('"v1"', lm)
    assert server.hits("/news.rss") == 2
    assert len(raw(bus)) == 2
    h = health(svc)["news"]
    assert h.last_success_at == clock.now() and h.consecutive_failures == 0


def test_a_restarted_service_produces_only_what_is_new(
    server: FeedServer, clock: ManualClock, make: Make, services: list[IngestService]
) -> None:
    server.routes["/news.rss"] = Route(simple_items("a", "b"), etag='"v1"')
    server.routes["/plain.rss"] = Route(simple_items("p", "q"))  # no validators at all
    feeds = (feed("news", server.url("/news.rss")), feed("plain", server.url("/plain.rss")))
    first_bus = EmbeddedBus()
    first = make(*feeds, producer=first_bus.producer())
    assert len(first.poll_due()) == 4
    first.close()
    services.remove(first)

    server.routes["/news.rss"] = Route(simple_items("a", "b", "c"), etag='"v2"')
    clock.advance(3600)
    second_bus = EmbeddedBus()
    second = make(*feeds, producer=second_bus.producer())
    produced = second.poll_due()
    assert [m.source_id for m in produced] == ["story-c"]
    assert raw(second_bus) == produced
    # the stored validators were sent, and the unchanged plain feed was deduplicated
    assert server.requests["/news.rss"][-1]["if-none-match"] == '"v1"'
    assert server.hits("/plain.rss") == 2


def test_nothing_is_marked_seen_until_the_producer_flushed(
    server: FeedServer, clock: ManualClock, make: Make
) -> None:
    server.routes["/news.rss"] = Route(simple_items("a", "b", "c"), etag='"v1"')
    producer = RecordingProducer()
    producer.failing = True
    svc = make(feed("news", server.url("/news.rss")), producer=producer)

    assert svc.poll_due() == []
    assert len(producer.sent) == 3 and producer.flushed == 0
    h = health(svc)["news"]
    assert h.consecutive_failures == 1
    assert h.last_error == "bus: broker unreachable"
    assert h.items_recent == 0

    producer.failing = False
    assert h.next_due is not None
    clock.set(h.next_due)
    again = svc.poll_due()
    # the same three again: neither the entries nor the new ETag were recorded
    assert "if-none-match" not in server.last_request("/news.rss")
    assert sorted(m.source_id or "" for m in again) == ["story-a", "story-b", "story-c"]
    assert producer.flushed == 6
    assert health(svc)["news"].consecutive_failures == 0

    clock.advance(60)
    assert svc.poll_due() == []  # now it is recorded: 304, nothing new
    assert server.last_request("/news.rss")["if-none-match"] == '"v1"'


def test_backoff_grows_with_jitter_and_resets_on_success(
    server: FeedServer, bus: EmbeddedBus, clock: ManualClock, make: Make
) -> None:
    server.routes["/flaky.rss"] = Route(b"down", status=500)
    svc = make(feed("flaky", server.url("/flaky.rss")), producer=bus.producer())
    waits = []
    for n in range(1, 8):
        assert svc.poll_due() == []
        assert server.hits("/flaky.rss") == n
        h = health(svc)["flaky"]
        assert h.consecutive_failures == n
        assert h.last_error == "HTTP 500 Internal Server Error"
        assert h.next_due is not None
        wait = (h.next_due - clock.now()).total_seconds()
        ceiling = min(30 * 60, 60 * 2 ** (n - 1))
        assert 0.8 * ceiling <= wait <= ceiling
        waits.append(wait)
        # not due yet: a turn a second early does not poll
        clock.set(h.next_due - timedelta(seconds=1))
        svc.poll_due()
        assert server.hits("/flaky.rss") == n
        clock.set(h.next_due)
    assert waits[:5] == sorted(waits[:5]) and len(set(waits[:5])) == 5  # grows
    assert any(w != min(30 * 60, 60 * 2**i) for i, w in enumerate(waits))  # jittered

    server.routes["/flaky.rss"] = Route(simple_items("a"))
    assert len(svc.poll_due()) == 1
    h = health(svc)["flaky"]
    assert h.consecutive_failures == 0
    assert h.next_due == clock.now() + MINUTE  # back on its interval, no jitter
    assert h.last_success_at == clock.now()
    assert h.last_error == "HTTP 500 Internal Server Error"  # kept for the record

    server.routes["/flaky.rss"] = Route(b"down again", status=500)
    clock.advance(60)
    svc.poll_due()
    h = health(svc)["flaky"]
    assert h.consecutive_failures == 1
    assert h.next_due is not None and h.next_due - clock.now() <= MINUTE


def test_retry_after_is_honoured_within_the_cap(
    server: FeedServer, bus: EmbeddedBus, clock: ManualClock, make: Make
) -> None:
    server.routes["/busy.rss"] = Route(b"", status=503, headers={"Retry-After": "1200"})
    server.routes["/greedy.rss"] = Route(b"", status=429, headers={"Retry-After": "86400"})
    svc = make(
        feed("busy", server.url("/busy.rss")),
        feed("greedy", server.url("/greedy.rss")),
        producer=bus.producer(),
    )
    svc.poll_due()
    h = health(svc)
    assert h["busy"].next_due == clock.now() + timedelta(seconds=1200)
    assert h["greedy"].next_due == clock.now() + timedelta(minutes=30)  # backoff.max


def test_a_failing_feed_does_not_stop_the_others(
    server: FeedServer, bus: EmbeddedBus, make: Make, closed_port: int
) -> None:
    server.routes["/good.rss"] = Route(simple_items("a", "b"))
    server.routes["/malformed.rss"] = Route(b"<?xml version='1.0'?><rss><channel><item><title>x")
    server.routes["/html.rss"] = Route(b"<html><body>moved</body></html>", content_type="text/html")
    server.routes["/hang.rss"] = Route(behaviour="hang")
    server.routes["/huge.rss"] = Route(behaviour="stream")
    server.routes["/error.rss"] = Route(b"", status=500)
    svc = make(
        feed("malformed", server.url("/malformed.rss")),
        feed("html", server.url("/html.rss")),
        feed("hang", server.url("/hang.rss"), timeout="0.3s"),
        feed("huge", server.url("/huge.rss"), max_bytes=65_536),
        feed("error", server.url("/error.rss")),
        feed("refused", f"http://127.0.0.1:{closed_port}/feed.rss"),
        feed("good", server.url("/good.rss")),
        producer=bus.producer(),
    )
    produced = svc.poll_due()
    assert sorted(m.source_id or "" for m in produced) == ["story-a", "story-b"]
    assert len(raw(bus)) == 2
    h = health(svc)
    reasons = {name: (x.last_error or "") for name, x in h.items() if name != "good"}
    assert reasons["malformed"].startswith("malformed feed: SAXParseException")
    assert reasons["html"].startswith("not an RSS or Atom document")
    assert reasons["hang"] == "timed out after 0.3s"
    assert reasons["huge"] == "too large: more than 65536 bytes"
    assert reasons["error"] == "HTTP 500 Internal Server Error"
    assert reasons["refused"].startswith("ConnectError")
    assert {name: x.consecutive_failures for name, x in h.items()} == {
        "malformed": 1,
        "html": 1,
        "hang": 1,
        "huge": 1,
        "error": 1,
        "refused": 1,
        "good": 0,
    }
    assert h["good"].items_recent == 2 and h["good"].last_error is None


def test_run_keeps_polling_the_others_while_one_hangs(
    server: FeedServer, bus: EmbeddedBus, make: Make
) -> None:
    server.routes["/hang.rss"] = Route(behaviour="hang")  # released when the server stops
    server.routes["/good.rss"] = Route(simple_items("a"))
    svc = make(
        feed("hang", server.url("/hang.rss"), timeout="20s"),
        feed("good", server.url("/good.rss")),
        producer=bus.producer(),
    )
    stop = threading.Event()
    runner = threading.Thread(target=svc.run, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while not raw(bus) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [m.source_id for m in raw(bus)] == ["story-a"]
        h = health(svc)
        assert h["hang"].last_poll_at is None  # still in flight
        assert server.hits("/hang.rss") == 1
        assert h["good"].last_success_at is not None
    finally:
        stop.set()
        runner.join(timeout=5)
    assert not runner.is_alive()  # stopping does not wait for the hanging poll


def test_failures_are_logged_once_per_change(
    server: FeedServer,
    bus: EmbeddedBus,
    clock: ManualClock,
    make: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest")
    server.routes["/f.rss"] = Route(b"", status=500)
    svc = make(feed("acme-feed", server.url("/f.rss")), producer=bus.producer())

    def turn() -> None:
        svc.poll_due()
        due = health(svc)["acme-feed"].next_due
        assert due is not None
        clock.set(max(due, clock.now()))

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    for _ in range(3):
        turn()
    assert len(warnings()) == 1
    assert "acme-feed" in warnings()[0] and "HTTP 500 Internal Server Error" in warnings()[0]

    server.routes["/f.rss"] = Route(b"", status=404)
    turn()
    turn()
    assert len(warnings()) == 2 and "HTTP 404 Not Found" in warnings()[1]

    server.routes["/f.rss"] = Route(simple_items("a"))
    turn()
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == ["source acme-feed: recovered after 5 failed polls"]


def test_health_counts_recent_items_in_the_window(
    server: FeedServer, bus: EmbeddedBus, clock: ManualClock, make: Make
) -> None:
    server.routes["/news.rss"] = Route(simple_items("a", "b"))
    svc = make(feed("news", server.url("/news.rss"), interval="10m"), producer=bus.producer())
    before = health(svc)["news"]
    assert before == FeedHealth("news", "rss", server.url("/news.rss"), next_due=clock.now())

    svc.poll_due()
    clock.advance(30 * 60)
    server.routes["/news.rss"] = Route(simple_items("a", "b", "c"))
    svc.poll_due()
    h = health(svc)["news"]
    assert h.items_recent == 3
    assert h.last_poll_at == h.last_success_at == clock.now()
    assert h.next_due == clock.now() + timedelta(minutes=10)
    clock.advance(31 * 60)  # the first two are now older than the 1h window
    assert health(svc)["news"].items_recent == 1


def test_poll_once_fetches_without_producing_or_marking(
    server: FeedServer, bus: EmbeddedBus, clock: ManualClock, make: Make
) -> None:
    server.routes["/news.rss"] = Route(simple_items("a", "b"), etag='"v1"')
    server.routes["/down.rss"] = Route(b"", status=502)
    svc = make(
        feed("news", server.url("/news.rss")),
        feed("down", server.url("/down.rss")),
        producer=bus.producer(),
    )
    assert [m.source_id for m in svc.poll_once("news")] == ["story-a", "story-b"]
    assert raw(bus) == []
    assert len(svc.poll_due()) == 2  # nothing was marked by poll_once

    clock.advance(60)
    # unconditional even though a cursor is stored now: a test shows what the feed has
    assert len(svc.poll_once("news")) == 2
    assert "if-none-match" not in server.last_request("/news.rss")
    assert len(raw(bus)) == 2
    with pytest.raises(SourceError, match="HTTP 502"):
        svc.poll_once("down")
    with pytest.raises(KeyError, match="nope"):
        svc.poll_once("nope")


def test_first_polls_are_spread_over_the_jitter(
    server: FeedServer, bus: EmbeddedBus, clock: ManualClock, make: Make
) -> None:
    for i in range(5):
        server.routes[f"/f{i}.rss"] = Route(simple_items(f"x{i}"))
    settings = SETTINGS.model_copy(update={"first_poll_jitter": timedelta(seconds=30)})
    svc = make(
        *(feed(f"f{i}", server.url(f"/f{i}.rss")) for i in range(5)),
        producer=bus.producer(),
        settings=settings,
    )
    dues = [h.next_due for h in svc.status()]
    assert all(
        d is not None and clock.now() <= d <= clock.now() + timedelta(seconds=30) for d in dues
    )
    assert len(set(dues)) == 5
    assert svc.poll_due() == []
    clock.advance(30)
    assert len(svc.poll_due()) == 5


def test_a_restart_resumes_a_backoff_in_progress(
    server: FeedServer,
    bus: EmbeddedBus,
    clock: ManualClock,
    make: Make,
    services: list[IngestService],
) -> None:
    server.routes["/down.rss"] = Route(b"", status=500)
    first = make(feed("down", server.url("/down.rss")), producer=bus.producer())
    for _ in range(3):
        first.poll_due()
        due = health(first)["down"].next_due
        assert due is not None
        clock.set(due)
    first.poll_due()
    stored = health(first)["down"]
    first.close()
    services.remove(first)

    second = make(feed("down", server.url("/down.rss")), producer=bus.producer())
    resumed = health(second)["down"]
    assert resumed.consecutive_failures == 4
    assert resumed.next_due == stored.next_due
    assert second.poll_due() == []
    assert server.hits("/down.rss") == 4


def test_entries_older_than_the_retention_are_ignored(
    server: FeedServer, bus: EmbeddedBus, make: Make
) -> None:
    server.routes["/news.rss"] = Route(
        rss(
            item("Ancient", "https://n.example/old", "old", "Mon, 20 Apr 2026 10:00:00 +0000"),
            item("Fresh", "https://n.example/new", "new", "Tue, 02 Jun 2026 10:00:00 +0000"),
        )
    )
    settings = SETTINGS.model_copy(update={"seen_retention": timedelta(days=30)})
    svc = make(feed("news", server.url("/news.rss")), producer=bus.producer(), settings=settings)
    assert [m.source_id for m in svc.poll_due()] == ["new"]


class CountingSource:
    """A non-HTTP source, as a social API module would be: it pages with a cursor."""

    kind = "fake"
    name = "fake-api"
    interval = MINUTE
    location = None

    def __init__(self) -> None:
        self.cursors: list[dict[str, str]] = []

    def fetch(self, cursor: Cursor) -> Fetched:
        self.cursors.append(dict(cursor))
        n = int(cursor.get("since", "0")) + 1
        m = Mention(
            source="fake",
            source_name=self.name,
            source_id=f"post-{n}",
            published_at=START,
            fetched_at=START,
        )
        return Fetched((m,), {"since": str(n)})


def test_other_source_kinds_plug_in(bus: EmbeddedBus, clock: ManualClock, make: Make) -> None:
    fake = CountingSource()
    svc = make(producer=bus.producer(), sources=[fake])
    assert [m.source_id for m in svc.poll_due()] == ["post-1"]
    clock.advance(60)
    assert [m.source_id for m in svc.poll_due()] == ["post-2"]
    assert fake.cursors == [{}, {"since": "1"}]
    assert [h.kind for h in svc.status()] == ["fake"]
    assert len(raw(bus)) == 2


def test_source_names_must_be_unique(
    server: FeedServer, bus: EmbeddedBus, state_path: Path, clock: ManualClock
) -> None:
    fake = CountingSource()
    with pytest.raises(ValueError, match="fake-api"):
        IngestService(
            watchlist(feed("fake-api", server.url("/x.rss"))),
            SETTINGS,
            bus.producer(),
            state_path,
            clock,
            sources=[fake],
        )


def test_without_a_client_the_service_makes_its_own(
    server: FeedServer, bus: EmbeddedBus, state_path: Path, clock: ManualClock
) -> None:
    server.routes["/news.rss"] = Route(simple_items("a"))
    with IngestService(
        watchlist(feed("news", server.url("/news.rss"))),
        SETTINGS,
        bus.producer(),
        state_path,
        clock,
    ) as svc:
        assert len(svc.poll_due()) == 1
    assert server.last_request("/news.rss")["user-agent"] == "stormwatch-test/1"
