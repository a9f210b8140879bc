"""The stream runner inside the service, with in-memory streams: batching through
produce → flush → mark, cursors stored only after a flush, a failing bus or a broken
source costing nothing, and other sources unaffected."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.bus.port import BusError, Headers, Producer
from core.records import Mention
from ingest.source import Cursor, SourceError
from ingest.stream import Connection, StreamEvent
from tests.ingest.apiserver import ApiServer
from tests.ingest.documents import START
from tests.ingest.fakes_search import FakeAlgolia
from tests.ingest.harness import WATCHLIST, Harness, advance_to_reconnect, eventually, settings


def post(n: int) -> Mention:
    return Mention(
        source="mem", source_name="mem", source_id=f"p{n}", published_at=START, fetched_at=START
    )


class MemoryStream:
    """Posts 1..total, each event carrying ``{"n": str(n)}``; resumes after the cursor.
    ``matching`` picks which posts are mentions (the others only move the cursor)."""

    kind = "mem"
    name = "mem"
    location = None

    def __init__(self, total: int, matching: int = 1, hold: bool = True) -> None:
        self.total = total
        self.matching = matching
        self.hold = hold
        self.cursors: list[dict[str, str]] = []
        self.broken: Exception | None = None
        self.release = threading.Event()
        self.sent_all = threading.Event()

    def connect(self, cursor: Cursor) -> Connection:
        self.cursors.append(dict(cursor))
        start = int(cursor.get("n", "0")) + 1

        def events() -> Iterator[StreamEvent]:
            for n in range(start, self.total + 1):
                found = (post(n),) if n % self.matching == 0 else ()
                yield StreamEvent(found, {"n": str(n)})
            self.sent_all.set()
            if self.broken is not None:
                raise self.broken
            while self.hold and not self.release.wait(0.02):
                pass

        return Connection(events(), self.release.set)


class FlakyProducer(Producer):
    def __init__(self, inner: Producer) -> None:
        self.inner = inner
        self.failing = False
        self.batches: list[int] = []
        self._pending = 0

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        self._pending += 1
        if not self.failing:
            self.inner.send(topic, value, key, headers)

    def flush(self, timeout: float | None = None) -> None:
        if self.failing:
            self._pending = 0
            raise BusError("broker unreachable")
        self.inner.flush(timeout)
        self.batches.append(self._pending)
        self._pending = 0

    def close(self) -> None:
        pass


def service(harness: Harness, source: MemoryStream, producer: Producer, **overrides: object):  # type: ignore[no-untyped-def]
    from ingest.service import IngestService

    svc = IngestService(
        WATCHLIST,
        settings(**overrides),
        producer,
        harness.state_path,
        harness.clock,
        harness.http,
        sources=[source],
    )
    harness.services.append(svc)
    return svc


def test_posts_go_out_in_small_batches_with_their_cursor(harness: Harness) -> None:
    source = MemoryStream(total=230)
    producer = FlakyProducer(harness.bus.producer())
    svc = service(harness, source, producer, stream={"batch_size": 50, "checkpoint_every": "0s"})
    with harness.running(svc):
        eventually(lambda: svc._state.cursor("mem") == {"n": "230"})
    assert [m.source_id for m in harness.raw()] == [f"p{n}" for n in range(1, 231)]
    assert max(producer.batches) <= 50 and sum(producer.batches) == 230
    assert harness.health("mem").connected is False  # stopped


@pytest.mark.parametrize(("every", "few"), [("5s", True), ("0s", False)])
def test_cursor_only_events_are_checkpointed_not_written_each_time(
    harness: Harness, every: str, few: bool
) -> None:
    source = MemoryStream(total=1000, matching=10**6, hold=False)  # a firehose matching nothing
    producer = FlakyProducer(harness.bus.producer())
    svc = service(harness, source, producer, stream={"batch_size": 50, "checkpoint_every": every})
    commits: list[dict[str, str]] = []
    original = svc._state.commit

    def spy(mentions, cursors, at, **kw):  # type: ignore[no-untyped-def]
        commits.append(dict(cursors.get("mem", {})))
        original(mentions, cursors, at, **kw)

    svc._state.commit = spy  # type: ignore[method-assign]
    with harness.running(svc):
        eventually(lambda: svc._state.cursor("mem") == {"n": "1000"})
    assert harness.raw() == []
    if few:  # the manual clock stood still, so no 5s passed: stored once, at the end
        assert commits == [{"n": "1000"}]
    else:  # every drained batch (at most 500 events) stored its position
        assert len(commits) >= 2 and commits[-1] == {"n": "1000"}


def test_a_bus_failure_loses_nothing(harness: Harness) -> None:
    source = MemoryStream(total=3, hold=False)
    producer = FlakyProducer(harness.bus.producer())
    producer.failing = True
    svc = service(harness, source, producer)
    with harness.running(svc):
        eventually(lambda: (harness.health("mem").last_error or "").startswith("bus:"))
        assert svc._state.cursor("mem") == {}
        producer.failing = False
        source.hold = True
        advance_to_reconnect(harness, "mem")
        eventually(lambda: len(harness.raw()) == 3)
    assert source.cursors[:2] == [{}, {}]  # the undelivered events came again
    assert [m.source_id for m in harness.raw()] == ["p1", "p2", "p3"]


def test_a_broken_stream_does_not_stop_the_polled_sources(api: ApiServer, harness: Harness) -> None:
    source = MemoryStream(total=2, hold=False)
    source.broken = RuntimeError("bug in a parser")
    algolia = FakeAlgolia(api)
    algolia.story(1, START - timedelta(minutes=1))
    from ingest.service import IngestService

    svc = IngestService(
        WATCHLIST,
        settings(
            {"type": "hackernews", "name": "hn", "query": "acme", "base_url": f"{api.url}/api/v1"}
        ),
        harness.bus.producer(),
        harness.state_path,
        harness.clock,
        harness.http,
        sources=[source],
    )
    harness.services.append(svc)
    with harness.running(svc):
        eventually(
            lambda: harness.health("mem").last_error == "unexpected RuntimeError: bug in a parser"
        )
        eventually(lambda: any(m.source == "hackernews" for m in harness.raw()))
    assert {m.source_id for m in harness.raw()} >= {"p1", "p2", "40000001"}
    assert svc._state.cursor("mem") == {"n": "2"}  # what arrived before the break is kept


def test_a_source_error_is_reported_with_its_reason(harness: Harness) -> None:
    source = MemoryStream(total=0, hold=False)
    source.broken = SourceError("no data for 90s")
    svc = service(harness, source, FlakyProducer(harness.bus.producer()))
    with harness.running(svc):
        eventually(lambda: harness.health("mem").last_error == "no data for 90s")
        h = harness.health("mem")
        assert h.consecutive_failures >= 1 and h.next_due is not None
