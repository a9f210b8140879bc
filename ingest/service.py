"""The ingest service: polls every source on its own schedule, keeps every stream
connected, and produces new mentions.

Guarantees:

* Every source is polled on its own interval, in a small thread pool: a slow, huge,
  down or malformed source costs one worker until its own timeout and never delays or
  stops the others.
* A failing source backs off exponentially with jitter (`BackoffSettings`) and returns
  to its interval after one success. Each failure is logged once per change of state
  (healthy to failing, or a different reason), with the source's name and the reason.
* New mentions go to ``mentions.raw`` keyed by mention id; only after the producer
  flushed are they marked seen and the sources' cursors stored (`IngestState.commit`).
  A crash or a bus failure in between makes the next poll produce them again.
* Dedup is by mention id (canonical URL) and by GUID per source, across restarts.
* A polled source that reports its rate limit spent (`Fetched.retry_after`) is next
  polled after the reset, without counting a failure.
* Each streaming source (`ingest.stream.StreamSource`) runs in a thread of its own while
  `run` runs (`ingest.stream.StreamRunner`): small batches through the same produce →
  flush → mark path, the cursor stored with them, reconnects with backoff and jitter.

The shell builds one per process: ``with IngestService(...) as svc: svc.run(stop)``.
The producer is the caller's: the service flushes it but never closes it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from core import topics
from core.bus.port import BusError, Producer
from core.clock import Clock
from core.records import Mention, encode
from core.watchlist import Watchlist
from ingest.build import AnySource, build_sources
from ingest.dedup import FeedHealth, IngestState
from ingest.settings import IngestSettings
from ingest.source import Cursor, Fetched, Source, SourceError
from ingest.stream import StreamRunner, StreamSource, sample

log = logging.getLogger(__name__)

_IDLE = 0.5
"""Longest wait of `run` between turns (seconds): bounds how late a stop is noticed."""
_PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class _Failed:
    reason: str
    retry_after: float | None = None


_Outcome = Fetched | _Failed


class _Slot:
    """One source and its schedule (touched by the scheduling thread only)."""

    def __init__(self, source: Source, health: FeedHealth) -> None:
        self.source = source
        self.health = health
        self.future: Future[_Outcome] | None = None

    @property
    def due(self) -> datetime:
        assert self.health.next_due is not None  # set for every slot at start
        return self.health.next_due


class _StreamSlot:
    """One stream: its runner's hooks into the service (`ingest.stream.StreamHooks`)."""

    def __init__(self, service: IngestService, source: StreamSource, health: FeedHealth) -> None:
        self._service = service
        self.source = source
        self.health = health
        self.runner = StreamRunner(
            source, self, service._clock, service._settings.stream, service._rng
        )

    def cursor(self) -> dict[str, str]:
        return self._service._state.cursor(self.source.name)

    def deliver(self, mentions: Sequence[Mention], cursor: Cursor | None) -> None:
        self._service._deliver(self, mentions, cursor)

    def report(
        self, *, connected: bool, error: str | None, failures: int, next_due: datetime | None
    ) -> None:
        now = self._service._clock.now()
        health = replace(
            self.health,
            connected=connected,
            consecutive_failures=failures,
            next_due=next_due,
            last_poll_at=now,
        )
        if connected:
            health = replace(health, last_success_at=now)
        if error is not None:
            health = replace(health, last_error=error, last_error_at=now)
        self._service._store(self, health)


class IngestService:
    def __init__(  # noqa: PLR0917 (the shell's agreed signature)
        self,
        watchlist: Watchlist,
        settings: IngestSettings,
        producer: Producer,
        state_path: str | Path,
        clock: Clock,
        http: httpx.Client | None = None,
        *,
        sources: Iterable[AnySource] = (),
        rng: random.Random | None = None,
    ) -> None:
        """Poll the watchlist's feeds and run the sources of ``settings.sources``
        (`ingest.build.build_sources`, through ``http``, else a client of its own), plus
        any further ``sources`` (polled or streaming); state lives in the SQLite file
        ``state_path``. Raises `ValueError` for a name used twice or an unknown brand."""
        self._settings = settings
        self._producer = producer
        self._clock = clock
        self._rng = rng or random.Random()
        self._own_http = http is None
        self._http = http or httpx.Client(headers={"User-Agent": settings.user_agent})
        try:
            all_sources = [*build_sources(settings, watchlist, self._http, clock), *sources]
        except ValueError:
            self._close_http()
            raise
        names = [s.name for s in all_sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            self._close_http()
            raise ValueError(f"source names must be unique: {dupes}")
        self._state = IngestState(state_path)
        self._lock = threading.Lock()  # produce → flush → mark, one batch at a time
        self._order = names
        self._slots: dict[str, _Slot] = {}
        self._streams: dict[str, _StreamSlot] = {}
        for source in all_sources:
            if isinstance(source, StreamSource):
                health = self._state.load_health(
                    source.name, source.kind, source.location, mode="stream"
                )
                # as stored: `status` in another process shows what the running one saw
                self._streams[source.name] = _StreamSlot(self, source, health)
            else:
                self._slots[source.name] = self._first_slot(source)
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="ingest")
        self._last_prune: datetime | None = None

    def _close_http(self) -> None:
        if self._own_http:
            self._http.close()

    def _first_slot(self, source: Source) -> _Slot:
        """Resume a stored schedule (a backoff in progress), else start within the jitter."""
        now = self._clock.now()
        stored = self._state.load_health(source.name, source.kind, source.location)
        jitter = self._settings.first_poll_jitter.total_seconds() * self._rng.random()
        due = now + timedelta(seconds=jitter)
        if stored.next_due is not None and stored.next_due > due:
            # a stored time far ahead (the clock was wrong then) must not park the feed;
            # a backoff or a platform's rate-limit reset up to backoff.max is kept
            latest = now + max(source.interval, self._settings.backoff.max)
            due = min(stored.next_due, latest)
        return _Slot(source, replace(stored, next_due=due))

    # -- public ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Poll and stream until ``stop`` is set. Polls still in flight then are
        abandoned: their items were neither produced nor marked, so the next start
        fetches them again. Streams deliver what they hold and disconnect."""
        for slot in self._streams.values():
            # a stream connects at once; the stored state and backoff of a past run are moot
            fresh = replace(slot.health, consecutive_failures=0, next_due=None, connected=False)
            self._store(slot, fresh)
        streams = [
            threading.Thread(
                target=slot.runner.run, args=(stop,), name=f"ingest-{name}", daemon=True
            )
            for name, slot in self._streams.items()
        ]
        for thread in streams:
            thread.start()
        try:
            self._poll_until(stop)
        finally:
            for thread in streams:
                thread.join(timeout=5)

    def _poll_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._turn(wait_all=False)
            pending = [s.future for s in self._slots.values() if s.future is not None]
            idle = [s.due for s in self._slots.values() if s.future is None]
            timeout = _IDLE
            if idle:
                until = (min(idle) - self._clock.now()).total_seconds()
                timeout = max(0.0, min(_IDLE, until))
            if pending:
                wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            else:
                stop.wait(timeout)

    def poll_due(self) -> list[Mention]:
        """One scheduling turn of the polled sources (streams run only under `run`):
        poll every one that is due now, wait for them, and produce, flush and mark what
        is new. Returns the mentions produced."""
        return self._turn(wait_all=True)

    def poll_once(self, name: str, *, seconds: float = 5.0, limit: int = 20) -> list[Mention]:
        """Fetch from source ``name`` now and return what it yields, WITHOUT producing,
        marking or touching its schedule or cursor (``stormwatch sources test``).

        A polled source is fetched once from an empty cursor (what its first start
        would see, within its backfill window). A stream is connected from an empty
        cursor, read for up to ``seconds`` or ``limit`` mentions, and disconnected.
        Raises `KeyError` for an unknown name and `SourceError` if the source fails.
        """
        if name in self._streams:
            return sample(self._streams[name].source, seconds=seconds, limit=limit)
        slot = self._slots.get(name)
        if slot is None:
            raise KeyError(f"no source named {name!r} (known: {self._order})")
        return list(slot.source.fetch({}).mentions)

    def status(self) -> list[FeedHealth]:
        """The health of every source (the watchlist's feeds, then the configured
        sources, in order), with the derived figures: ``items_recent`` and
        ``items_per_minute`` over the health window, and ``lag``."""
        now = self._clock.now()
        since = now - self._settings.health_window
        minutes = self._settings.health_window.total_seconds() / 60
        out = []
        for name in self._order:
            slot = self._slots.get(name) or self._streams[name]
            count = self._state.count_since(name, since)
            newest = slot.health.newest_item_at
            out.append(
                replace(
                    slot.health,
                    items_recent=count,
                    items_per_minute=count / minutes,
                    lag=max(now - newest, timedelta(0)) if newest else None,
                )
            )
        return out

    def close(self) -> None:
        """Stop the workers (without waiting for polls in flight) and release the state
        file and the HTTP client if the service made it. The producer stays open.
        Streams stop with `run`'s ``stop``."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._close_http()
        self._state.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- scheduling ----------------------------------------------------------------------
    def _turn(self, *, wait_all: bool) -> list[Mention]:
        now = self._clock.now()
        if self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY:
            dropped = self._state.prune(now - self._settings.seen_retention)
            log.debug("pruned %d seen keys older than %s", dropped, self._settings.seen_retention)
            self._last_prune = now
        for slot in self._slots.values():
            if slot.future is None and slot.due <= now:
                cursor = self._state.cursor(slot.source.name)
                slot.future = self._pool.submit(_poll, slot.source, cursor)
        in_flight = [s for s in self._slots.values() if s.future is not None]
        if wait_all:
            wait([s.future for s in in_flight if s.future is not None])
        done: list[tuple[_Slot, _Outcome]] = []
        for slot in in_flight:
            future = slot.future
            if future is not None and future.done():
                slot.future = None
                done.append((slot, future.result()))
        return self._finish(done) if done else []

    def _finish(self, done: list[tuple[_Slot, _Outcome]]) -> list[Mention]:
        """Produce what is new from the finished polls, flush, then commit the state."""
        now = self._clock.now()
        fetched: list[Mention] = []
        cursors: dict[str, dict[str, str]] = {}
        succeeded: list[tuple[_Slot, Fetched]] = []
        for slot, outcome in done:
            if isinstance(outcome, _Failed):
                self._failed(slot, now, outcome.reason, outcome.retry_after)
                continue
            succeeded.append((slot, outcome))
            cursors[slot.source.name] = dict(outcome.cursor)
            fetched.extend(outcome.mentions)
        try:
            new = self._produce(fetched, cursors, now)
        except BusError as exc:
            for slot, _ in succeeded:
                self._failed(slot, now, f"bus: {exc}", None)
            return []
        for slot, outcome in succeeded:
            self._succeeded(slot, now, outcome)
        return new

    def _produce(
        self, mentions: Sequence[Mention], cursors: dict[str, dict[str, str]], now: datetime
    ) -> list[Mention]:
        """Produce the unseen ``mentions``, flush, then mark them and store ``cursors``
        in one transaction. Raises `BusError` (nothing marked, nothing stored)."""
        # older than the retention: dedup may have forgotten it, so it would repeat
        oldest = now - self._settings.seen_retention
        recent = [m for m in mentions if m.published_at >= oldest]
        with self._lock:
            # Oldest first: feeds list newest first, and downstream windows want event order.
            new = sorted(self._state.unseen(recent), key=lambda m: m.published_at)
            for m in new:
                self._producer.send(topics.RAW, encode(m), key=m.id.encode())
            if new:
                self._producer.flush()
            self._state.commit(new, cursors, now, seen_again=recent)
        return new

    def _deliver(
        self, slot: _StreamSlot, mentions: Sequence[Mention], cursor: Cursor | None
    ) -> None:
        """A stream's batch through the same path; raises `BusError`."""
        now = self._clock.now()
        name = slot.source.name
        self._produce(mentions, {name: dict(cursor)} if cursor is not None else {}, now)
        newest = _newest(slot.health.newest_item_at, mentions)
        self._store(slot, replace(slot.health, last_success_at=now, newest_item_at=newest))

    def _succeeded(self, slot: _Slot, now: datetime, outcome: Fetched) -> None:
        before = slot.health
        if before.consecutive_failures:
            log.info(
                "source %s: recovered after %d failed polls",
                before.name,
                before.consecutive_failures,
            )
        wait = slot.source.interval
        if outcome.retry_after:  # the platform's window is spent: poll after its reset
            cap = max(self._settings.backoff.max, wait)
            wait = max(wait, min(timedelta(seconds=outcome.retry_after), cap))
        self._store(
            slot,
            replace(
                before,
                last_poll_at=now,
                last_success_at=now,
                consecutive_failures=0,
                next_due=now + wait,
                newest_item_at=_newest(before.newest_item_at, outcome.mentions),
            ),
        )

    def _failed(self, slot: _Slot, now: datetime, reason: str, retry_after: float | None) -> None:
        before = slot.health
        failures = before.consecutive_failures + 1
        delay = self._settings.backoff.delay(failures, slot.source.interval, self._rng)
        if retry_after is not None:
            cap = max(self._settings.backoff.max, slot.source.interval)
            delay = max(delay, min(timedelta(seconds=retry_after), cap))
        changed = before.consecutive_failures == 0 or before.last_error != reason
        log.log(
            logging.WARNING if changed else logging.DEBUG,
            "source %s: poll failed (%d in a row), next try in %ds: %s",
            before.name,
            failures,
            int(delay.total_seconds()),
            reason,
        )
        self._store(
            slot,
            replace(
                before,
                last_poll_at=now,
                last_error=reason,
                last_error_at=now,
                consecutive_failures=failures,
                next_due=now + delay,
            ),
        )

    def _store(self, slot: _Slot | _StreamSlot, health: FeedHealth) -> None:
        slot.health = health
        self._state.save_health(health)


def _newest(before: datetime | None, mentions: Iterable[Mention]) -> datetime | None:
    times = [m.published_at for m in mentions]
    if before is not None:
        times.append(before)
    return max(times) if times else None


def _poll(source: Source, cursor: dict[str, str]) -> _Outcome:
    """Runs in a worker: never raises, so one broken source cannot break the loop."""
    try:
        return source.fetch(cursor)
    except SourceError as exc:
        return _Failed(exc.reason, exc.retry_after)
    except Exception as exc:  # a bug in one source must not stop the others
        log.debug("source %s: unexpected error", source.name, exc_info=True)
        return _Failed(f"unexpected {type(exc).__name__}: {exc}")
