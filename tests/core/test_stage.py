"""The stage loop's failure policy (the bus contract module covers dead letters)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.bus import (
    BusError,
    Consumer,
    Headers,
    Message,
    Producer,
    TopicPartition,
    TopicSpec,
)
from core.bus.embedded import EmbeddedBus
from core.stage import Out, StageLoop


def test_a_failing_batch_is_retried_not_skipped_and_committed_only_when_done() -> None:
    bus = EmbeddedBus()
    bus.ensure_topics([TopicSpec("in", 1), TopicSpec("out", 1)])
    with bus.producer() as p:
        for i in range(3):
            p.send("in", str(i).encode())
        p.flush()
    attempts = {"n": 0}

    def flaky(batch: Sequence[Message]) -> list[Out]:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            raise ConnectionError("store is down")
        return [Out("out", m.value) for m in batch]

    loop = StageLoop("flaky", bus, "g", ["in"], flaky, initial_backoff=0.1, max_backoff=0.3)
    assert loop.run_once(0.1) == 0 and loop.failures == 1 and loop.backoff() == 0.1
    assert loop.run_once(0.1) == 0 and loop.failures == 2 and loop.backoff() == 0.2
    assert bus.committed("g", TopicPartition("in", 0)) is None, "nothing committed while failing"
    assert loop.run_once(0.1) == 3 and loop.failures == 0
    assert bus.committed("g", TopicPartition("in", 0)) == 3
    loop.close()
    with bus.consumer("reader", ["out"]) as c:
        assert [m.value for m in c.poll(0.5)] == [b"0", b"1", b"2"]


def test_backoff_is_capped() -> None:
    bus = EmbeddedBus()

    def broken(batch: Sequence[Message]) -> list[Out]:
        raise RuntimeError("no")

    bus.ensure_topics([TopicSpec("in", 1)])
    with bus.producer() as p:
        p.send("in", b"x")
    loop = StageLoop("broken", bus, "g", ["in"], broken, initial_backoff=1, max_backoff=5)
    for _ in range(6):
        loop.run_once(0.1)
    assert loop.failures == 6 and loop.backoff() == 5
    loop.close()


class _FlakyBus(EmbeddedBus):
    """An embedded bus whose producers fail their next ``flushes`` flushes and whose
    consumers fail their next ``polls`` polls, as Kafka clients do while the broker is down."""

    def __init__(self, *, flushes: int = 0, polls: int = 0) -> None:
        super().__init__()
        self.flushes = flushes
        self.polls = polls

    def producer(self) -> Producer:
        bus = self
        inner = super().producer()

        class Flaky(Producer):
            def send(
                self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
            ) -> None:
                inner.send(topic, value, key, headers)

            def flush(self, timeout: float | None = None) -> None:
                if bus.flushes:
                    bus.flushes -= 1
                    raise BusError("broker unavailable")
                inner.flush(timeout)

            def close(self) -> None:
                inner.close()

        return Flaky()

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        bus = self
        inner = super().consumer(group, topics)

        class Flaky(Consumer):
            def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Message]:
                if bus.polls:
                    bus.polls -= 1
                    raise BusError("poll failed: KafkaConnectionError: 111 ECONNREFUSED")
                return inner.poll(timeout, max_records)

            def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
                inner.commit(offsets)

            def assignment(self) -> set[TopicPartition]:
                return inner.assignment()

            def close(self) -> None:
                inner.close()

        return Flaky()


def test_output_is_resent_without_handling_the_batch_again_and_ticks_are_kept() -> None:
    bus = _FlakyBus()
    bus.ensure_topics([TopicSpec("in", 1), TopicSpec("out", 1)])
    with bus.producer() as p:
        p.send("in", b"a")
    bus.flushes = 2
    handled: list[bytes] = []
    ticks = iter([[Out("out", b"tick-1")], [], [Out("out", b"tick-3")]])

    def handler(batch: Sequence[Message]) -> list[Out]:
        handled.extend(m.value for m in batch)
        return [Out("out", m.value.upper()) for m in batch]

    loop = StageLoop("t", bus, "g", ["in"], handler, tick=lambda: next(ticks, []))
    assert loop.run_once(0.1) == 0 and loop.failures == 1
    assert loop.run_once(0.1) == 0 and loop.failures == 2
    assert loop.run_once(0.1) == 1 and loop.failures == 0
    assert handled == [b"a"], "the handler ran once; only sending was retried"
    loop.close()
    values = [m.value for m in bus.read_topic("out")]
    assert b"A" in values and b"tick-1" in values and b"tick-3" in values, values


def test_a_poll_that_fails_is_retried_with_backoff_and_the_loop_carries_on() -> None:
    bus = _FlakyBus(polls=2)
    bus.ensure_topics([TopicSpec("in", 1), TopicSpec("out", 1)])
    with bus.producer() as p:
        p.send("in", b"a")

    loop = StageLoop("t", bus, "g", ["in"], lambda batch: [Out("out", m.value) for m in batch])
    assert loop.run_once(0.1) == 0 and loop.failures == 1 and loop.backoff() == 0.5
    assert loop.run_once(0.1) == 0 and loop.failures == 2
    assert loop.run_once(0.1) == 1 and loop.failures == 0
    assert bus.committed("g", TopicPartition("in", 0)) == 1
    loop.close()
    assert [m.value for m in bus.read_topic("out")] == [b"a"]
