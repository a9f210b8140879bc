"""The one loop every bus-to-bus stage runs: poll, process, produce, flush, commit.

Guarantees a stage inherits from `StageLoop`:

* At-least-once: offsets are committed only after everything the batch produced is
  flushed to the bus. A crash anywhere before the commit means the batch is read again.
* A record the handler declares poison (`Reject`) goes to the dead-letter topic with its
  reason; the stream never blocks on it and it never vanishes.
* Any other failure (the store is down, the bus refused a flush) is transient: the loop
  logs it, backs off (exponentially, up to ``max_backoff``) and retries the SAME batch;
  it never skips a batch it could not finish.
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
"""Processes one batch; returns what to produce and what to reject, in any order.
It must not have side effects that cannot be repeated: a batch may be handled again."""

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
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.name = name
        self._consumer = bus.consumer(group, topics)
        self._producer = bus.producer()
        self._handler = handler
        self._dlq = dlq_topic
        self._tick = tick
        self._max_records = max_records
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._batch: list[Message] = []
        self._handled = False
        self._outbox: list[Out | Reject] = []
        self._failures = 0
        self.processed = 0
        self.rejected = 0

    @property
    def failures(self) -> int:
        """Consecutive failed attempts at the current batch (0 when healthy)."""
        return self._failures

    def backoff(self) -> float:
        """Seconds to wait before the next attempt (0 when healthy)."""
        if not self._failures:
            return 0.0
        return float(min(self._max_backoff, self._initial_backoff * 2 ** (self._failures - 1)))

    def run_once(self, timeout: float = 0.5) -> int:
        """One turn: returns how many records were finished (handled and committed).

        Raises nothing for transient failures: they are logged and the work is kept for
        the next turn (see `backoff`). A batch whose handler succeeded is not handled
        again when only producing its output failed: the output is kept and re-sent."""
        try:
            if not self._batch and not self._outbox:
                # a broker that is down or restarting: polling again later is the remedy
                self._batch = self._consumer.poll(timeout=timeout, max_records=self._max_records)
                self._handled = False
            if self._batch and not self._handled:
                self._outbox.extend(self._handler(self._batch))
                self._handled = True
            if self._tick is not None:
                self._outbox.extend(self._tick())
            self._send(self._outbox)
        except Exception as exc:  # transient by contract: retry
            self._failures += 1
            log.warning(
                "%s: attempt %d at a batch of %d failed, retrying in %.1fs: %s",
                self.name,
                self._failures,
                len(self._batch),
                self.backoff(),
                exc,
            )
            return 0
        if self._failures:
            log.warning("%s: recovered after %d failed attempts", self.name, self._failures)
            self._failures = 0
        self.rejected += sum(isinstance(item, Reject) for item in self._outbox)
        self._outbox = []
        done, self._batch = self._batch, []
        if done:
            try:
                self._consumer.commit(last_offsets(done))
            except BusError as exc:
                log.warning("%s: %s", self.name, exc)
            self.processed += len(done)
        return len(done)

    def _send(self, items: list[Out | Reject]) -> None:
        if not items:
            return
        for item in items:
            if isinstance(item, Reject):
                dead_letter(self._producer, self._dlq, item.message, item.reason, self.name)
            else:
                self._producer.send(item.topic, item.value, item.key, item.headers)
        self._producer.flush()

    def run(self, stop: threading.Event, timeout: float = 0.5) -> None:
        """Turn until ``stop`` is set, then close (without committing what is unfinished)."""
        try:
            while not stop.is_set():
                self.run_once(timeout)
                if self._failures:
                    stop.wait(self.backoff())
        finally:
            self.close()

    def close(self) -> None:
        self._consumer.close()
        try:
            self._producer.close()
        except BusError as exc:
            log.warning("%s: closing the producer: %s", self.name, exc)


__all__ = ["DLQ_TOPIC", "Handler", "Out", "Reject", "StageLoop", "Ticker"]
