"""What the embedded bus adds to the bus contract (tests/core/test_bus_contract.py): a
waiting consumer is woken by its own topics only, and the log is kept out of the garbage
collector's way."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.bus import BusError, Message, TopicPartition, TopicSpec
from core.bus.embedded import EmbeddedBus

pytestmark = pytest.mark.timeout(60)


def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for another thread to reach a state (not a window or a retry: a handshake)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.001)


def test_a_waiting_consumer_is_woken_by_its_topics_only() -> None:
    bus = EmbeddedBus()
    bus.ensure_topics([TopicSpec("mine"), TopicSpec("other")])
    consumer = bus.consumer("g", ["mine"])
    got: list[Message] = []
    poller = threading.Thread(target=lambda: got.extend(consumer.poll(timeout=30)))
    poller.start()
    member = consumer._member  # type: ignore[attr-defined]
    _until(lambda: member.id in bus._waiting, "the consumer waits")
    with bus.producer() as producer:
        producer.send("other", b"not for it")
        producer.flush()
        assert member.id in bus._waiting, "a record on another topic must not wake it"
        t0 = time.monotonic()
        producer.send("mine", b"for it")
        producer.flush()
    poller.join(timeout=10)
    assert not poller.is_alive() and time.monotonic() - t0 < 10
    assert [m.value for m in got] == [b"for it"]
    assert member.id not in bus._waiting
    consumer.close()


def test_a_new_member_of_the_group_wakes_a_waiting_one_to_rebalance() -> None:
    bus = EmbeddedBus()
    bus.ensure_topics([TopicSpec("t", partitions=2)])
    first = bus.consumer("g", ["t"])
    assert len(first.assignment()) == 2
    poller = threading.Thread(target=lambda: first.poll(timeout=30))
    poller.start()
    member = first._member  # type: ignore[attr-defined]
    _until(lambda: member.id in bus._waiting, "the consumer waits")
    second = bus.consumer("g", ["t"])
    _until(lambda: member.generation == bus._groups["g"].generation, "it rebalanced")
    assert len(member.assigned) == 1 and len(second.assignment()) == 1
    with bus.producer() as producer:  # end the poll: keyless records go round the partitions
        producer.send("t", b"x")
        producer.send("t", b"y")
    poller.join(timeout=10)
    assert not poller.is_alive()
    first.close()
    second.close()


def test_the_log_is_not_tracked_by_the_garbage_collector() -> None:
    bus = EmbeddedBus()
    with bus.producer() as producer:
        for n in range(100):
            producer.send("t", f"value {n}".encode(), b"key", (("h", b"v"),))
    gc.collect()
    rows = [row for part in bus._logs["t"] for row in part]
    assert len(rows) == 100
    assert not any(gc.is_tracked(row) for row in rows)
    # what a consumer reads is whole Messages, in offset order
    consumer = bus.consumer("g", ["t"])
    messages = consumer.poll(timeout=1)
    assert [(m.offset, m.value, m.headers) for m in messages] == [
        (n, f"value {n}".encode(), (("h", b"v"),)) for n in range(100)
    ]
    assert bus.read_topic("t") == messages


def test_a_second_process_on_the_same_file_is_refused(tmp_path: Path) -> None:
    # two buses on one file would write the same offsets; a lock says so at the start
    first = EmbeddedBus(path=tmp_path / "bus.db")
    with pytest.raises(BusError, match="is in use by another process"):
        EmbeddedBus(path=tmp_path / "bus.db")
    first.close()
    EmbeddedBus(path=tmp_path / "bus.db").close()  # free again once the first is closed


def test_a_closed_bus_refuses_to_take_records(tmp_path: Path) -> None:
    # a late thread's flush must fail, not return as if its records were kept
    bus = EmbeddedBus(path=tmp_path / "bus.db")
    producer = bus.producer()
    producer.send("t", b"before")
    bus.close()
    with pytest.raises(BusError, match="closed"):
        producer.send("t", b"after")
    with pytest.raises(BusError, match="closed"):
        producer.flush()
    producer.close()  # nothing left to flush: no error
    reopened = EmbeddedBus(path=tmp_path / "bus.db")
    assert [m.value for m in reopened.read_topic("t")] == [b"before"]
    reopened.close()


def test_members_reading_different_topics_each_get_their_topics_partitions() -> None:
    bus = EmbeddedBus()
    bus.ensure_topics([TopicSpec("a", 2), TopicSpec("b", 1)])
    first, second = bus.consumer("g", ["a"]), bus.consumer("g", ["b"])
    first.poll(0.01), second.poll(0.01)
    assert first.assignment() == {TopicPartition("a", 0), TopicPartition("a", 1)}
    assert second.assignment() == {TopicPartition("b", 0)}
