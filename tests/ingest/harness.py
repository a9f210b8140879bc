"""Building services over the real local servers, and reading what they produced."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from core import topics
from core.bus.embedded import EmbeddedBus
from core.clock import ManualClock
from core.records import Mention, decode
from core.watchlist import Brand, Watchlist
from ingest.dedup import FeedHealth
from ingest.service import IngestService
from ingest.settings import IngestSettings

WATCHLIST = Watchlist(
    brands=(
        Brand(id="acme", name="Acme", aliases=("Acme Corp",), hashtags=("#acme",)),
        Brand(id="globex", name="Globex"),
    )
)


def iso(at: datetime) -> str:
    """A platform timestamp: UTC with milliseconds and ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def settings(*sources: dict[str, Any], **overrides: Any) -> IngestSettings:
    """Test settings: no first-poll jitter, quick stream checkpoints, ``sources``
    validated through the real union."""
    data: dict[str, Any] = {
        "user_agent": "stormwatch-test/1 (+https://example.com/contact)",
        "first_poll_jitter": "0s",
        "backoff": {"initial": "1m", "max": "30m", "jitter": 0.2},
        "stream": {"batch_size": 50, "checkpoint_every": "0s"},
        "sources": list(sources),
        **overrides,
    }
    return IngestSettings.model_validate(data)


class Harness:
    """Services on one state file, bus, clock and HTTP client; `restart` closes the
    current service and opens another on the same state (a process restart)."""

    def __init__(self, state_path: Path, clock: ManualClock, http: httpx.Client) -> None:
        self.state_path = state_path
        self.clock = clock
        self.http = http
        self.bus = EmbeddedBus()
        self.services: list[IngestService] = []

    def service(
        self, *sources: dict[str, Any], watchlist: Watchlist = WATCHLIST, **overrides: Any
    ) -> IngestService:
        svc = IngestService(
            watchlist,
            settings(*sources, **overrides),
            self.bus.producer(),
            self.state_path,
            self.clock,
            self.http,
            rng=random.Random(7),
        )
        self.services.append(svc)
        return svc

    def restart(self, *sources: dict[str, Any], **overrides: Any) -> IngestService:
        for svc in self.services:
            svc.close()
        self.services.clear()
        return self.service(*sources, **overrides)

    def raw(self) -> list[Mention]:
        out = []
        for msg in self.bus.read_topic(topics.RAW):
            mention = decode(msg.value, Mention)
            assert msg.key == mention.id.encode()
            out.append(mention)
        return out

    def health(self, name: str) -> FeedHealth:
        for svc in self.services:
            for h in svc.status():
                if h.name == name:
                    return h
        raise KeyError(name)

    def close(self) -> None:
        for svc in self.services:
            svc.close()

    @contextmanager
    def running(self, svc: IngestService) -> Iterator[threading.Event]:
        """``svc.run`` in a thread for the duration of the block."""
        stop = threading.Event()
        thread = threading.Thread(target=svc.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield stop
        finally:
            stop.set()
            thread.join(timeout=10)
            assert not thread.is_alive()


def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait (real time) for work in other threads; never used to wait out a backoff."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.01)


def advance_to_reconnect(harness: Harness, name: str) -> timedelta:
    """Wait until stream ``name`` is down and scheduled to reconnect, then move the clock
    to that moment. Returns the backoff it waited."""
    eventually(
        lambda: (
            (h := harness.health(name)).connected is False
            and h.next_due is not None
            and h.next_due > harness.clock.now()
        ),
        what=f"{name} to be waiting to reconnect",
    )
    due = harness.health(name).next_due
    assert due is not None
    waited = due - harness.clock.now()
    harness.clock.set(max(due, harness.clock.now()))
    return waited
