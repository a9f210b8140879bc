"""The rules stage on an EmbeddedBus, run by core.stage.StageLoop."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core import topics
from core.bus import BusError, Headers, Message, Producer, TopicSpec
from core.bus.deadletter import REASON
from core.bus.embedded import EmbeddedBus
from core.clock import ManualClock
from core.records import Alert, AlertState, EnrichedMention, decode, encode
from core.stage import StageLoop
from rules.engine import RulesEngine
from rules.schema import RuleSet
from rules.stage import rules_handler, rules_ticker
from tests.rules.support import MakeMention, at

RULES = """
rules:
  - {name: acme-volume, type: volume, brands: [acme], window: 10m, threshold: 3}
"""


class FlakyBus(EmbeddedBus):
    """An embedded bus whose producers lose everything sent before a failed flush."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def producer(self) -> Producer:
        return _FlakyProducer(self, super().producer())


class _FlakyProducer(Producer):
    def __init__(self, bus: FlakyBus, inner: Producer) -> None:
        self._bus, self._inner = bus, inner
        self._pending: list[tuple[str, bytes, bytes | None, Headers]] = []

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        self._pending.append((topic, value, key, headers))

    def flush(self, timeout: float | None = None) -> None:
        pending, self._pending = self._pending, []
        if self._bus.failures > 0:
            self._bus.failures -= 1
            raise BusError("broker not available")
        for record in pending:
            self._inner.send(*record)
        self._inner.flush()

    def close(self) -> None:
        self._inner.close()


def setup(
    bus: EmbeddedBus, ruleset: RuleSet, clock: ManualClock, max_records: int = 500
) -> StageLoop:
    bus.ensure_topics([TopicSpec(t, 1) for t in (topics.ENRICHED, topics.ALERTS, topics.DLQ)])
    engine = RulesEngine(ruleset, clock)
    return StageLoop(
        "rules",
        bus,
        "rules",
        [topics.ENRICHED],
        rules_handler(engine),
        tick=rules_ticker(engine),
        initial_backoff=0.01,
        max_records=max_records,
    )


def publish(bus: EmbeddedBus, *records: EnrichedMention | bytes) -> None:
    with bus.producer() as p:
        for r in records:
            value = r if isinstance(r, bytes) else encode(r)
            p.send(topics.ENRICHED, value, key=b"acme")
        p.flush()


def read(bus: EmbeddedBus, topic: str) -> list[Message]:
    consumer = bus.consumer(f"reader-{topic}", [topic])
    try:
        return consumer.poll(0.1, 1000)
    finally:
        consumer.close()


def test_mentions_in_alerts_out_keyed_by_fingerprint_and_garbage_to_the_dlq(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    bus, clock = EmbeddedBus(), ManualClock(at(0))
    loop = setup(bus, rules_from(RULES), clock)
    publish(bus, mk(1, 0), mk(2, 1), b'{"not": "a mention"}', mk(2, 1), mk(3, 2))
    assert loop.run_once(0.1) == 5
    (message,) = read(bus, topics.ALERTS)
    alert = decode(message.value, Alert)
    assert alert.state is AlertState.FIRING and alert.at == at(2)
    assert message.key == alert.fingerprint.encode()
    (dead,) = read(bus, topics.DLQ)
    assert dead.value == b'{"not": "a mention"}'
    assert (dead.header(REASON) or b"").startswith(b"enriched_mention: kind is None")
    assert loop.rejected == 1

    clock.set(at(30))  # no mentions: the ticker resolves the episode
    assert loop.run_once(0.01) == 0
    states = [decode(m.value, Alert).state for m in read(bus, topics.ALERTS)]
    assert states == [AlertState.FIRING, AlertState.RESOLVED]
    loop.close()


@pytest.mark.parametrize("failures", [1, 3])
def test_a_batch_retried_after_a_failed_flush_still_produces_its_alerts(
    rules_from: Callable[[str], RuleSet], mk: MakeMention, failures: int
) -> None:
    bus, clock = FlakyBus(failures=0), ManualClock(at(0))
    loop = setup(bus, rules_from(RULES), clock)
    publish(bus, mk(1, 0), mk(2, 1), mk(3, 2))
    bus.failures = failures
    for _ in range(failures):
        assert loop.run_once(0.1) == 0 and loop.failures > 0
    assert read(bus, topics.ALERTS) == [], "lost with the failed flushes"
    assert loop.run_once(0.1) == 3
    assert [decode(m.value, Alert).state for m in read(bus, topics.ALERTS)] == [AlertState.FIRING]
    loop.close()


def test_a_resolution_ticked_during_a_failed_batch_is_sent_with_its_retry(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    bus, clock = FlakyBus(failures=0), ManualClock(at(0))
    loop = setup(bus, rules_from(RULES), clock)
    publish(bus, mk(1, 0), mk(2, 1), mk(3, 2))
    loop.run_once(0.1)
    clock.set(at(45))
    # a batch in hand while the resolution (due at 20) is due: the stream's time is 45, and
    # acme's may trail it by 15 minutes at most
    publish(bus, mk(9, 45, brand="globex"))
    bus.failures = 1
    assert loop.run_once(0.1) == 0
    assert loop.run_once(0.1) == 1
    states = [decode(m.value, Alert).state for m in read(bus, topics.ALERTS)]
    assert states == [AlertState.FIRING, AlertState.RESOLVED]
    loop.close()


def test_a_burst_waiting_on_the_bus_after_a_stall_still_pages(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    """The stage was down for 40 minutes while a burst reached the bus. Read back two
    records a turn, with a tick after each, it fires at the burst's time; 30 seconds
    without a newer mention, and the wall clock resolves it."""
    bus, clock = EmbeddedBus(), ManualClock(at(40))
    loop = setup(bus, rules_from(RULES), clock, max_records=2)
    publish(bus, mk(1, 0), mk(2, 1), mk(3, 2), mk(4, 3))
    assert loop.run_once(0.01) == 2 and loop.run_once(0.01) == 2
    (fired,) = [decode(m.value, Alert) for m in read(bus, topics.ALERTS)]
    assert fired.state is AlertState.FIRING and fired.at == at(2)
    assert loop.run_once(0.01) == 0 and len(read(bus, topics.ALERTS)) == 1
    clock.advance(30)
    assert loop.run_once(0.01) == 0
    states = [decode(m.value, Alert).state for m in read(bus, topics.ALERTS)]
    assert states == [AlertState.FIRING, AlertState.RESOLVED]
    loop.close()
