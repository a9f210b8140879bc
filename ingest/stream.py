"""Streaming sources, and the runner that keeps one connected.

A `StreamSource` (Mastodon's streaming API, Bluesky's Jetstream, X's filtered stream)
is the other shape of a source: instead of being polled it `connect`s and gets a
`Connection`, an iterator of `StreamEvent`s that blocks on the network, with a
`Connection.close` any thread may call. The contract:

* ``connect(cursor)`` opens the stream from the stored cursor (an empty cursor is the
  first start: the source backfills its configured window) and raises `SourceError` when
  it cannot. A source whose platform cannot replay a stream catches up inside the
  connection: it opens the stream *first*, then yields what its REST API has since the
  cursor, then the live events, so nothing falls between the two.
* Every event carries the cursor to resume from after it (or None: unchanged); an event
  may carry no mention (a firehose post that matched nothing still moves the cursor).
* The iterator ends when the server closes the stream and raises `SourceError` when it
  breaks (including when no data, not even a heartbeat, arrived for the idle timeout).

`StreamRunner` runs one stream in a thread of its own for `ingest.service.IngestService`:
events are read by a reader thread into a bounded queue and delivered in small batches
(whatever is queued, up to ``batch_size`` mentions) through the service's
produce → flush → mark path, so the cursor is stored only after the posts are on the bus.
A dropped or failed connection reconnects after an exponential backoff with jitter,
from the stored cursor. Waiting is measured on the injected clock, so tests move a
`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.bus.port import BusError
from core.clock import Clock
from core.records import Mention
from ingest.source import Cursor, SourceError

if TYPE_CHECKING:  # settings import the source configs, which import this module
    from ingest.settings import StreamSettings

log = logging.getLogger(__name__)

_TICK = 0.1
"""Longest real wait between checks of the stop flag (seconds)."""
_QUEUE = 2000
"""Events buffered between the reader and the runner; a full queue slows the reader."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    mentions: tuple[Mention, ...] = ()
    cursor: Cursor | None = None
    """Where to resume after this event (None: where the previous event said)."""
    catch_up: bool = False
    """What a REST listing had since the cursor, not a live event: it does not show that
    the stream works, so a session that ends after it still counts as failing."""


class Connection:
    """An open stream: iterate it in one thread, `close` it from any."""

    def __init__(self, events: Iterator[StreamEvent], close: Callable[[], None]) -> None:
        self._events = events
        self._close = close
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[StreamEvent]:
        for event in self._events:
            if self._closed.is_set():
                return
            yield event

    def close(self) -> None:
        """Idempotent; unblocks a read in progress where the transport allows."""
        if not self._closed.is_set():
            self._closed.set()
            try:
                self._close()
            except Exception:  # closing a broken transport may fail; it is gone anyway
                log.debug("closing a stream failed", exc_info=True)


@runtime_checkable
class StreamSource(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def location(self) -> str | None: ...

    def connect(self, cursor: Cursor) -> Connection:
        """Open the stream from ``cursor``; raise `SourceError` if it cannot."""
        ...


class StreamHooks(Protocol):
    """What the runner needs from the service."""

    def cursor(self) -> dict[str, str]:
        """The stored cursor of this stream."""
        ...

    def deliver(self, mentions: Sequence[Mention], cursor: Cursor | None) -> None:
        """Produce what is new, flush, then mark it and store ``cursor``
        (None: keep the stored one). Raises `BusError` when the bus fails."""
        ...

    def report(
        self, *, connected: bool, error: str | None, failures: int, next_due: datetime | None
    ) -> None:
        """The stream's state changed (connected, or failed and waiting until ``next_due``)."""
        ...


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """How one connection ended."""

    received: int
    """Live events that arrived before it ended."""
    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _End:
    error: SourceError | None = None


class StreamRunner:
    """Keeps one `StreamSource` connected and delivering (see the module docstring)."""

    def __init__(
        self,
        source: StreamSource,
        hooks: StreamHooks,
        clock: Clock,
        settings: StreamSettings,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self._hooks = hooks
        self._clock = clock
        self._settings = settings
        self._rng = rng or random.Random()
        self._failures = 0

    def run(self, stop: threading.Event) -> None:
        """Connect, deliver, reconnect with backoff, until ``stop`` is set. Never raises."""
        while not stop.is_set():
            try:
                ended = self.session(stop)
            except SourceError as exc:  # could not connect
                ended = SessionEnd(0, exc.reason, exc.retry_after)
            except BusError as exc:
                ended = SessionEnd(0, f"bus: {exc}")
            except Exception as exc:  # a bug in one source must not stop the others
                log.debug("stream %s: unexpected error", self.source.name, exc_info=True)
                ended = SessionEnd(0, f"unexpected {type(exc).__name__}: {exc}")
            if stop.is_set():
                break
            self._wait_until(self._failed(ended), stop)
        self._hooks.report(connected=False, error=None, failures=self._failures, next_due=None)

    def session(self, stop: threading.Event) -> SessionEnd:
        """One connection, from the stored cursor, until it ends or ``stop`` is set.

        Raises `SourceError` when it cannot connect and `BusError` when delivering fails
        (the undelivered events come again from the stored cursor).
        """
        conn = self.source.connect(self._hooks.cursor())
        self._hooks.report(connected=True, error=None, failures=self._failures, next_due=None)
        events: queue.Queue[StreamEvent | _End] = queue.Queue(_QUEUE)
        done = threading.Event()
        reader = threading.Thread(
            target=_pump,
            args=(conn, events, done),
            name=f"stream-{self.source.name}",
            daemon=True,
        )
        reader.start()
        pending: list[Mention] = []
        cursor: Cursor | None = None
        received = 0
        last_checkpoint = self._clock.monotonic()
        end: _End | None = None
        try:
            while end is None and not stop.is_set():
                try:
                    first = events.get(timeout=_TICK)
                except queue.Empty:
                    continue
                for item in _drain(first, events, self._settings.batch_size):
                    if isinstance(item, _End):
                        end = item
                        break
                    received += not item.catch_up
                    pending.extend(item.mentions)
                    cursor = item.cursor if item.cursor is not None else cursor
                since = self._clock.monotonic() - last_checkpoint
                checkpoint = cursor is not None and (
                    end is not None or since >= self._settings.checkpoint_every.total_seconds()
                )
                if pending or checkpoint:
                    self._hooks.deliver(pending, cursor)
                    pending, cursor = [], None
                    last_checkpoint = self._clock.monotonic()
            if pending or cursor is not None:  # stopped: keep what arrived
                self._hooks.deliver(pending, cursor)
        finally:
            done.set()
            conn.close()
        if end is None:
            return SessionEnd(received, "stopped")
        if end.error is not None:
            return SessionEnd(received, end.error.reason, end.error.retry_after)
        return SessionEnd(received, "connection closed by the server")

    def _failed(self, ended: SessionEnd) -> datetime:
        # a stream that delivered live events before it dropped reconnects after the
        # first step of the backoff; one that keeps failing (including one that is
        # accepted and then ends at once) backs off further each time
        self._failures = 1 if ended.received else self._failures + 1
        reason = ended.reason
        delay = self._settings.backoff.delay(self._failures, timedelta(0), self._rng)
        if ended.retry_after is not None:
            cap = self._settings.backoff.max
            delay = max(delay, min(timedelta(seconds=ended.retry_after), cap))
        due = self._clock.now() + delay
        level = logging.WARNING if self._failures <= 1 else logging.DEBUG
        log.log(
            level,
            "stream %s: %s; reconnecting in %.0fs (%d failures in a row)",
            self.source.name,
            reason,
            delay.total_seconds(),
            self._failures,
        )
        self._hooks.report(connected=False, error=reason, failures=self._failures, next_due=due)
        return due

    def _wait_until(self, due: datetime, stop: threading.Event) -> None:
        while not stop.is_set():
            left = (due - self._clock.now()).total_seconds()
            if left <= 0:
                return
            stop.wait(min(_TICK, left))


def _drain(
    first: StreamEvent | _End, events: queue.Queue[StreamEvent | _End], batch_size: int
) -> Iterator[StreamEvent | _End]:
    """``first`` and whatever else is queued now, up to about ``batch_size`` mentions."""
    yield first
    mentions = 0 if isinstance(first, _End) else len(first.mentions)
    # bounded in events too, so a firehose of non-matching events still gets checkpoints
    for _ in range(batch_size * 10):
        if mentions >= batch_size:
            return
        try:
            item = events.get_nowait()
        except queue.Empty:
            return
        yield item
        if isinstance(item, _End):
            return
        mentions += len(item.mentions)


def _pump(conn: Connection, events: queue.Queue[StreamEvent | _End], done: threading.Event) -> None:
    """The reader thread: the connection's events into the queue, then its end."""

    def put(item: StreamEvent | _End) -> bool:
        while not done.is_set():
            try:
                events.put(item, timeout=_TICK)
                return True
            except queue.Full:
                continue
        return False

    try:
        for event in conn:
            if not put(event):
                return
        put(_End())
    except SourceError as exc:
        put(_End(exc))
    except Exception as exc:
        if not done.is_set():  # a read failing because we closed it is no news
            log.debug("stream reader failed", exc_info=True)
            put(_End(SourceError(f"unexpected {type(exc).__name__}: {exc}")))


def sample(source: StreamSource, *, seconds: float, limit: int) -> list[Mention]:
    """Connect from an empty cursor, read for up to ``seconds`` (real time) or ``limit``
    mentions, disconnect; nothing is produced or stored (``stormwatch sources test``).

    Raises `SourceError` when the source cannot connect, or breaks before anything came.
    """
    conn = source.connect({})
    events: queue.Queue[StreamEvent | _End] = queue.Queue(_QUEUE)
    done = threading.Event()
    threading.Thread(target=_pump, args=(conn, events, done), daemon=True).start()
    out: list[Mention] = []
    deadline = time.monotonic() + seconds
    try:
        while len(out) < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = events.get(timeout=min(_TICK, left))
            except queue.Empty:
                continue
            if isinstance(item, _End):
                if item.error is not None and not out:
                    raise item.error
                break
            out.extend(item.mentions)
    finally:
        done.set()
        conn.close()
    return out[:limit]
