"""The one loop every bus-to-bus stage runs: poll, process, produce, flush, commit.

Guarantees a stage inherits from `StageLoop`:

* At-least-once: offsets are committed only after everything the batch produced is
  flushed to the bus. A crash anywhere before the commit means the batch is read again.
* A record the handler declares poison goes to the dead-letter topic with its reason;
  the stream never blocks on it and it never vanishes.
* A failed commit (the group rebalanced) is logged and the loop goes on: the partition's
  new owner reads those records again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core import topics
from core.bus.deadletter import dead_letter
from core.bus.port import Bus, BusError, Headers, Message, last_offsets

log = logging.getLogger(__name__)

DLQ_TOPIC = topics.DLQ


@dataclass(frozen=True, slots=True)
class Out:
    """A record for the next topic."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Reject:
    """A record the handler cannot process, ever: it goes to the dead-letter topic."""

    message: Message
    reason: str


Handler = Callable[[Sequence[Message]], Iterable[Out | Reject]]
"""Processes one batch; returns what to produce and what to reject, in any order."""

Ticker = Callable[[], Iterable[Out]]
"""Called on every loop turn, even when nothing arrived (time-driven work)."""


class StageLoop:
    def __init__(
        self,
        name: str,
        bus: Bus,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        dlq_topic: str = DLQ_TOPIC,
        tick: Ticker | None = None,
        max_records: int = 500,
    ) -> None:
        self.name = name
        self._consumer = bus.consumer(group, topics)
        self._producer = bus.producer()
        self._handler = handler
        self._dlq = dlq_topic
        self._tick = tick
        self._max_records = max_records
        self.processed = 0
        self.rejected = 0

    def run_once(self, timeout: float = 0.5) -> int:
        """One turn: returns how many records were read."""
        messages = self._consumer.poll(timeout=timeout, max_records=self._max_records)
        produced = False
        if messages:
            for item in self._handler(messages):
                if isinstance(item, Reject):
                    dead_letter(self._producer, self._dlq, item.message, item.reason, self.name)
                    self.rejected += 1
                else:
                    self._producer.send(item.topic, item.value, item.key, item.headers)
                produced = True
        if self._tick is not None:
            for out in self._tick():
                self._producer.send(out.topic, out.value, out.key, out.headers)
                produced = True
        if produced:
            self._producer.flush()
        if messages:
            try:
                self._consumer.commit(last_offsets(messages))
            except BusError as exc:
                log.warning("%s: %s", self.name, exc)
            self.processed += len(messages)
        return len(messages)

    def run(self, stop: threading.Event, timeout: float = 0.5) -> None:
        """Turn until ``stop`` is set, then close (without committing what is unprocessed)."""
        try:
            while not stop.is_set():
                self.run_once(timeout)
        finally:
            self.close()

    def close(self) -> None:
        self._consumer.close()
        self._producer.close()
