"""The bus contract: every adapter passes this one module (embedded in memory, embedded
on SQLite, and Kafka on a real broker)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.bus import Bus, Consumer, Message, TopicPartition, TopicSpec
from core.bus.deadletter import ORIGIN_OFFSET, ORIGIN_TOPIC, REASON
from core.bus.embedded import EmbeddedBus
from core.records import InvalidRecord, Mention, decode, encode
from core.settings import KafkaSettings
from core.stage import Out, Reject, StageLoop

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["embedded", "embedded-sqlite", "kafka"])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    if request.param == "embedded":
        b: Bus = EmbeddedBus()
    elif request.param == "embedded-sqlite":
        b = EmbeddedBus(tmp_path / "bus.db")
    else:
        from core.bus.kafka import KafkaBus

        addr = request.getfixturevalue("kafka_bootstrap")
        b = KafkaBus(KafkaSettings(bootstrap_servers=(addr,), session_timeout_ms=6000))
    yield b
    b.close()


def _topic(partitions: int, bus: Bus) -> str:
    name = f"contract-{uuid.uuid4().hex[:10]}"
    bus.ensure_topics([TopicSpec(name, partitions)])
    return name


def drain(consumer: Consumer, want: int, timeout: float = 30.0) -> list[Message]:
    """Poll until ``want`` records arrived or ``timeout`` passed."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got.extend(consumer.poll(timeout=0.5))
    return got


def quiet(consumer: Consumer, seconds: float) -> list[Message]:
    """Everything a consumer reads during ``seconds`` (expected: nothing)."""
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got.extend(consumer.poll(timeout=0.5))
    return got


def test_topics_have_the_partitions_asked_for(bus: Bus) -> None:
    topic = _topic(3, bus)
    assert bus.partitions(topic) == 3
    bus.ensure_topics([TopicSpec(topic, 3)])  # existing: left alone, no error
    assert bus.partitions(topic) == 3


def test_same_key_same_partition_in_order(bus: Bus) -> None:
    topic = _topic(3, bus)
    keys = [f"brand-{i}".encode() for i in range(6)]
    with bus.producer() as producer:
        for seq in range(120):
            key = keys[seq % len(keys)]
            producer.send(topic, f"{key.decode()}:{seq}".encode(), key=key)
        producer.flush()
    with bus.consumer(f"g-{uuid.uuid4().hex}", [topic]) as consumer:
        got = drain(consumer, 120)
    assert len(got) == 120
    by_key: dict[bytes, list[Message]] = {}
    for m in got:
        assert m.key is not None
        by_key.setdefault(m.key, []).append(m)
    assert set(by_key) == set(keys)
    for key, messages in by_key.items():
        assert len({m.partition for m in messages}) == 1, key
        seqs = [int(m.value.split(b":")[1]) for m in messages]
        assert seqs == sorted(seqs), key
    assert len({m.partition for m in got}) > 1, "six keys all hashed to one partition"


def test_headers_and_keys_round_trip(bus: Bus) -> None:
    topic = _topic(1, bus)
    with bus.producer() as producer:
        producer.send(topic, b"v", key=None, headers=(("trace", b"\x00\x01"),))
        producer.send(topic, "ü".encode(), key="schlüssel".encode())
        producer.flush()
    with bus.consumer(f"g-{uuid.uuid4().hex}", [topic]) as consumer:
        got = drain(consumer, 2)
    assert [(m.key, m.value) for m in got] == [(None, b"v"), ("schlüssel".encode(), "ü".encode())]
    assert got[0].header("trace") == b"\x00\x01"
    assert got[0].offset == 0 and got[1].offset == 1


def _poll_in_thread(
    consumer: Consumer, stop: threading.Event, sink: list[Message], lock: threading.Lock
) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            batch = consumer.poll(timeout=0.2)
            with lock:
                sink.extend(batch)
            if batch:
                consumer.commit()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_group_members_split_the_partitions(bus: Bus) -> None:
    topic = _topic(4, bus)
    group = f"g-{uuid.uuid4().hex}"
    first, second = bus.consumer(group, [topic]), bus.consumer(group, [topic])
    stop, lock = threading.Event(), threading.Lock()
    got_first: list[Message] = []
    got_second: list[Message] = []
    threads = [
        _poll_in_thread(first, stop, got_first, lock),
        _poll_in_thread(second, stop, got_second, lock),
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            a, b = first.assignment(), second.assignment()
            if a and b and not (a & b) and len(a | b) == 4:
                break
            time.sleep(0.2)
        a, b = first.assignment(), second.assignment()
        assert a and b, f"both members need partitions: {a} / {b}"
        assert not (a & b)
        assert a | b == {TopicPartition(topic, p) for p in range(4)}
        with bus.producer() as producer:
            for i in range(200):
                producer.send(topic, str(i).encode(), key=f"k{i}".encode())
            producer.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(got_first) + len(got_second) >= 200:
                    break
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        first.close()
        second.close()
    values = sorted(int(m.value) for m in got_first + got_second)
    assert values == list(range(200)), "every record read exactly once by the group"
    assert {m.tp for m in got_first} <= a
    assert {m.tp for m in got_second} <= b
    assert got_first and got_second


def test_uncommitted_records_are_read_again_committed_ones_are_not(bus: Bus) -> None:
    topic = _topic(2, bus)
    group = f"g-{uuid.uuid4().hex}"
    with bus.producer() as producer:
        for i in range(10):
            producer.send(topic, str(i).encode(), key=str(i).encode())
        producer.flush()

    crashed = bus.consumer(group, [topic])
    assert len(drain(crashed, 10)) == 10
    crashed.close()  # "killed" before committing

    survivor = bus.consumer(group, [topic])
    again = drain(survivor, 10)
    assert sorted(int(m.value) for m in again) == list(range(10)), "at-least-once"
    survivor.commit()
    survivor.close()

    restarted = bus.consumer(group, [topic])
    assert quiet(restarted, 3.0) == [], "committed records must not come back"
    with bus.producer() as producer:
        producer.send(topic, b"10", key=b"10")
        producer.flush()
    assert [m.value for m in drain(restarted, 1)] == [b"10"]
    restarted.close()


def test_restart_seeks_to_the_committed_offset(bus: Bus) -> None:
    topic = _topic(1, bus)
    group = f"g-{uuid.uuid4().hex}"
    with bus.producer() as producer:
        for i in range(10):
            producer.send(topic, str(i).encode())
        producer.flush()
    with bus.consumer(group, [topic]) as consumer:
        assert len(drain(consumer, 10)) == 10
        consumer.commit({TopicPartition(topic, 0): 6})  # processed 0..5 only
    with bus.consumer(group, [topic]) as consumer:
        rest = drain(consumer, 4)
    assert [int(m.value) for m in rest] == [6, 7, 8, 9]
    assert [m.offset for m in rest] == [6, 7, 8, 9]


def _mention(n: int) -> Mention:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    return Mention(
        source="rss",
        source_name="test",
        url=f"https://news.example/{n}",
        title=f"item {n}",
        published_at=now,
        fetched_at=now,
    )


def test_poison_record_goes_to_the_dead_letter_topic_with_its_reason(bus: Bus) -> None:
    inbox, outbox, dlq = _topic(1, bus), _topic(1, bus), _topic(1, bus)
    group = f"g-{uuid.uuid4().hex}"
    with bus.producer() as producer:
        producer.send(inbox, encode(_mention(1)), key=b"a")
        producer.send(inbox, b"{not json", key=b"b")
        producer.send(inbox, b'{"v": 1, "kind": "mention", "source": "rss"}', key=b"c")
        producer.send(inbox, encode(_mention(2)), key=b"d")
        producer.flush()

    def handler(batch: list[Message]) -> list[Out | Reject]:
        out: list[Out | Reject] = []
        for m in batch:
            try:
                mention = decode(m.value, Mention)
            except InvalidRecord as exc:
                out.append(Reject(m, str(exc)))
                continue
            out.append(Out(outbox, encode(mention), m.key))
        return out

    stage = StageLoop("test", bus, group, [inbox], handler, dlq_topic=dlq)  # type: ignore[arg-type]
    deadline = time.monotonic() + 30
    while stage.processed < 4 and time.monotonic() < deadline:
        stage.run_once(timeout=0.5)
    stage.close()
    assert stage.processed == 4 and stage.rejected == 2

    with bus.consumer(f"g-{uuid.uuid4().hex}", [dlq]) as reader:
        letters = drain(reader, 2)
    assert [m.key for m in letters] == [b"b", b"c"]
    assert letters[0].value == b"{not json", "the dead letter keeps the original bytes"
    assert b"not JSON" in (letters[0].header(REASON) or b"")
    assert b"published_at" in (letters[1].header(REASON) or b""), "the reason names the field"
    assert letters[1].header(ORIGIN_TOPIC) == inbox.encode()
    assert letters[1].header(ORIGIN_OFFSET) == b"2"

    with bus.consumer(f"g-{uuid.uuid4().hex}", [outbox]) as reader:
        good = drain(reader, 2)
    assert [decode(m.value, Mention).title for m in good] == ["item 1", "item 2"]

    with bus.consumer(group, [inbox]) as again:
        assert quiet(again, 3.0) == [], "the stage committed past the poison records"


def test_read_topic_returns_everything_so_far_outside_any_group(bus: Bus) -> None:
    topic = _topic(3, bus)
    assert bus.read_topic(topic) == []
    with bus.producer() as producer:
        for i in range(30):
            producer.send(topic, str(i).encode(), key=f"k{i % 7}".encode())
        producer.flush()
    everything = bus.read_topic(topic)
    assert sorted(int(m.value) for m in everything) == list(range(30))
    for p in {m.partition for m in everything}:
        offsets = [m.offset for m in everything if m.partition == p]
        assert offsets == list(range(len(offsets))), "each partition in offset order"
    group = f"g-{uuid.uuid4().hex}"
    with bus.consumer(group, [topic]) as consumer:
        assert len(drain(consumer, 30)) == 30, "reading did not consume for any group"
    assert len(bus.read_topic(topic)) == 30, "and can be repeated"
