"""The bus port: topics of keyed records, partitions, consumer groups, committed offsets.

Contract every adapter keeps (tests/core/test_bus_contract.py checks it):

* Records with the same key go to the same partition and are read in the order sent.
* `Producer.flush` returns only when every record sent before it is durably on the bus,
  and raises `BusError` if any of them could not be delivered.
* Consumers of one group share the topic's partitions; each partition has one reader.
* A consumer starts from its group's committed offset (from the earliest record when the
  group has none). Offsets move only on `Consumer.commit`: a consumer that stops without
  committing leaves its records to be read again (at-least-once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Self


class BusError(RuntimeError):
    """The bus refused or lost an operation; the message says which and why."""


class TopicPartition(NamedTuple):
    topic: str
    partition: int


Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = ()
    timestamp_ms: int = 0

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


class Producer(ABC):
    @abstractmethod
    def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        """Queue a record. Delivery is confirmed by `flush`."""

    @abstractmethod
    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything sent is on the bus; raise `BusError` if any of it failed."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Consumer(ABC):
    @abstractmethod
    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Message]:
        """Return the next records of the assigned partitions (empty after `timeout`)."""

    @abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit the next offset to read per partition; None: all records polled so far."""

    @abstractmethod
    def assignment(self) -> set[TopicPartition]:
        """The partitions this member reads now (may change as members join or leave)."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group without committing."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(ABC):
    name: str

    @abstractmethod
    def ensure_topics(self, topics: Iterable[TopicSpec]) -> None:
        """Create the topics that do not exist yet (existing ones are left alone)."""

    @abstractmethod
    def partitions(self, topic: str) -> int: ...

    @abstractmethod
    def producer(self) -> Producer: ...

    @abstractmethod
    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...

    @abstractmethod
    def read_topic(self, topic: str, timeout: float = 30.0) -> list[Message]:
        """Every record of ``topic`` from the beginning up to its end at the time of the
        call, partition by partition in offset order, outside any consumer group (for
        rebuilding state from a log). Raises `BusError` if the end is not reached in time."""

    @abstractmethod
    def check(self) -> str:
        """Probe the bus; return a one-line description or raise `BusError`."""

    def close(self) -> None:
        """Release what the bus holds (connections, files)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def last_offsets(messages: Iterable[Message]) -> dict[TopicPartition, int]:
    """The offsets to commit after processing ``messages``: the next one per partition."""
    nxt: dict[TopicPartition, int] = {}
    for m in messages:
        tp = m.tp
        if m.offset + 1 > nxt.get(tp, -1):
            nxt[tp] = m.offset + 1
    return nxt
