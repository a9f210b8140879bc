"""The ingest service: polls every source on its own schedule and produces new mentions.

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

The shell builds one per process: ``with IngestService(...) as svc: svc.run(stop)``.
The producer is the caller's: the service flushes it but never closes it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterable
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
from ingest.dedup import FeedHealth, IngestState
from ingest.rss import RssSource
from ingest.settings import IngestSettings
from ingest.source import Fetched, Source, SourceError

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
        sources: Iterable[Source] = (),
        rng: random.Random | None = None,
    ) -> None:
        """Poll the watchlist's feeds (through ``http``, else a client of its own) and
        any further ``sources``; state lives in the SQLite file ``state_path``."""
        extra = list(sources)
        names = [f.name for f in watchlist.feeds] + [s.name for s in extra]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {dupes}")
        self._settings = settings
        self._producer = producer
        self._clock = clock
        self._rng = rng or random.Random()
        self._state = IngestState(state_path)
        self._own_http = http is None
        self._http = http or httpx.Client(headers={"User-Agent": settings.user_agent})
        all_sources: list[Source] = [
            RssSource(feed, self._http, settings.user_agent, clock) for feed in watchlist.feeds
        ]
        all_sources.extend(extra)
        self._slots = {s.name: self._first_slot(s) for s in all_sources}
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="ingest")
        self._last_prune: datetime | None = None

    def _first_slot(self, source: Source) -> _Slot:
        """Resume a stored schedule (a backoff in progress), else start within the jitter."""
        now = self._clock.now()
        stored = self._state.load_health(source.name, source.kind, source.location)
        jitter = self._settings.first_poll_jitter.total_seconds() * self._rng.random()
        due = now + timedelta(seconds=jitter)
        if stored.next_due is not None and stored.next_due > due:
            # a stored time far ahead (the clock was wrong then) must not park the feed
            latest = now + max(source.interval, self._settings.backoff.max)
            due = min(stored.next_due, latest)
        return _Slot(source, replace(stored, next_due=due))

    # -- public ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set. Polls still in flight then are abandoned: their
        items were neither produced nor marked, so the next start fetches them again."""
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
        """One scheduling turn: poll every source that is due now, wait for them, and
        produce, flush and mark what is new. Returns the mentions produced."""
        return self._turn(wait_all=True)

    def poll_once(self, name: str) -> list[Mention]:
        """Fetch source ``name`` now, unconditionally, and return everything it yields,
        WITHOUT producing, marking or touching its schedule (``stormwatch sources test``).

        Raises `KeyError` for an unknown name and `SourceError` if the poll fails.
        """
        slot = self._slots.get(name)
        if slot is None:
            raise KeyError(f"no source named {name!r} (known: {sorted(self._slots)})")
        return list(slot.source.fetch({}).mentions)

    def status(self) -> list[FeedHealth]:
        """The health of every source, in watchlist order."""
        since = self._clock.now() - self._settings.health_window
        return [
            replace(s.health, items_recent=self._state.count_since(name, since))
            for name, s in self._slots.items()
        ]

    def close(self) -> None:
        """Stop the workers (without waiting for polls in flight) and release the state
        file and the HTTP client if the service made it. The producer stays open."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_http:
            self._http.close()
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
        oldest = now - self._settings.seen_retention
        fetched: list[Mention] = []
        cursors: dict[str, dict[str, str]] = {}
        succeeded: list[_Slot] = []
        for slot, outcome in done:
            if isinstance(outcome, _Failed):
                self._failed(slot, now, outcome.reason, outcome.retry_after)
                continue
            succeeded.append(slot)
            cursors[slot.source.name] = dict(outcome.cursor)
            # older than the retention: dedup may have forgotten it, so it would repeat
            fetched.extend(m for m in outcome.mentions if m.published_at >= oldest)
        # Oldest first: feeds list newest first, and downstream windows want event order.
        new = sorted(self._state.unseen(fetched), key=lambda m: m.published_at)
        try:
            for m in new:
                self._producer.send(topics.RAW, encode(m), key=m.id.encode())
            if new:
                self._producer.flush()
        except BusError as exc:
            for slot in succeeded:
                self._failed(slot, now, f"bus: {exc}", None)
            return []
        self._state.commit(new, cursors, now)
        for slot in succeeded:
            self._succeeded(slot, now)
        return new

    def _succeeded(self, slot: _Slot, now: datetime) -> None:
        before = slot.health
        if before.consecutive_failures:
            log.info(
                "source %s: recovered after %d failed polls",
                before.name,
                before.consecutive_failures,
            )
        self._store(
            slot,
            replace(
                before,
                last_poll_at=now,
                last_success_at=now,
                consecutive_failures=0,
                next_due=now + slot.source.interval,
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

    def _store(self, slot: _Slot, health: FeedHealth) -> None:
        slot.health = health
        self._state.save_health(health)


def _poll(source: Source, cursor: dict[str, str]) -> _Outcome:
    """Runs in a worker: never raises, so one broken source cannot break the loop."""
    try:
        return source.fetch(cursor)
    except SourceError as exc:
        return _Failed(exc.reason, exc.retry_after)
    except Exception as exc:  # a bug in one source must not stop the others
        log.debug("source %s: unexpected error", source.name, exc_info=True)
        return _Failed(f"unexpected {type(exc).__name__}: {exc}")
