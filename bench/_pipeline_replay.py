"""Throughput on the embedded adapters: a pre-loaded stream drained stage by stage, then
through every stage at once, wired by `stormwatch.wiring.Runtime` as the demo wires them.

The stream is history replayed far faster than it happened. Live, a stage's clock reads
about the event time of what it is handling; a wall clock here would put every mention
hours in the past (windows empty, nothing fires) and a fixed clock would clamp every
later mention to "clock + max_future". So each stage gets a `PacedClock` that its
handler moves to the latest event time of each batch it is given, as live time would.
"""

from __future__ import annotations

import multiprocessing
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench._pipeline_measure import status_kb
from core import topics
from core.bus.embedded import EmbeddedBus
from core.bus.port import Message
from core.clock import ManualClock
from core.records import Mention, encode
from core.stage import StageLoop
from core.store.sqlite import SqliteStore
from stormwatch.config import App
from stormwatch.wiring import Runtime, Worker, run_workers

_PUBLISHED = re.compile(rb'"published_at":"([^"]+)"')

STAGE_ORDER = ("enrich-match", "enrich-velocity", "rules", "alerting", "index")


def event_time(value: bytes) -> datetime | None:
    """The first ``published_at`` in a record's JSON (the mention's, in every record kind
    that carries one); None if there is none."""
    found = _PUBLISHED.search(value)
    return datetime.fromisoformat(found.group(1).decode()) if found else None


class PacedClock(ManualClock):
    """A clock moved forward by the records a stage handles (never backwards)."""

    def see(self, batch: Sequence[Message]) -> None:
        last: dict[tuple[str, int], Message] = {}
        for m in batch:  # the newest record of each partition bounds the batch
            last[m.topic, m.partition] = m
        times = [t for m in last.values() if (t := event_time(m.value)) is not None]
        if times and max(times) > self.now():
            self.set(max(times))


def paced(loop: StageLoop, clock: PacedClock) -> None:
    """Make ``loop``'s handler move ``clock`` to each batch's event time first.

    The bench reaches into the loop because `Runtime` takes one clock for every stage and
    StageLoop has no hook; the handler itself is the shipped one, unchanged."""
    inner: Callable[[Sequence[Message]], object] = loop._handler

    def handle(batch: Sequence[Message]) -> object:
        clock.see(batch)
        return inner(batch)

    loop._handler = handle  # type: ignore[assignment]


@dataclass
class Pipeline:
    """Every stage but ingest and dashboards, each with its own clock, on one bus/store."""

    runtimes: list[Runtime]
    bus: EmbeddedBus
    loops: dict[str, StageLoop]

    def close(self) -> None:
        for r in self.runtimes:
            r.close_workers()
            r.http.close()
        if self.runtimes and self.runtimes[0].store is not None:
            self.runtimes[0].store.close()
        self.bus.close()


def build(app: App, folder: Path, start: datetime, file_bus: bool = False) -> Pipeline:
    """The pipeline's stages on one embedded bus: in memory, or in a SQLite file
    (``file_bus``: what `stormwatch run` uses by default)."""
    path = Path(tempfile.mkdtemp(dir=folder)) / "bus.db" if file_bus else None
    bus = EmbeddedBus(path, default_partitions=app.settings.bus.embedded.partitions)
    store = SqliteStore(Path(tempfile.mkdtemp(dir=folder)) / "store.db")
    runtimes: list[Runtime] = []
    loops: dict[str, StageLoop] = {}
    for stage in ("enrich", "rules", "alerting", "index"):
        runtime = Runtime(app, PacedClock(start), bus=bus, store=store)
        runtime.prepare([stage])
        runtime.workers(stage)
        runtimes.append(runtime)
        for loop in runtime.loops:
            assert isinstance(runtime.clock, PacedClock)
            paced(loop, runtime.clock)
            loops[loop.name] = loop
    return Pipeline(runtimes, bus, loops)


def preload(bus: EmbeddedBus, mentions: Sequence[Mention]) -> float:
    """Produce ``mentions`` to ``mentions.raw`` as ingest would; returns records/s."""
    t0 = time.perf_counter()
    with bus.producer() as producer:
        for m in mentions:
            producer.send(topics.RAW, encode(m), m.id.encode())
        producer.flush()
    return len(mentions) / (time.perf_counter() - t0)


@dataclass(frozen=True)
class StageRate:
    name: str
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


def drain(loop: StageLoop, expected: int, timeout: float = 600.0) -> float:
    """Turn ``loop`` until it has finished ``expected`` records; returns the seconds."""
    t0 = time.perf_counter()
    deadline = t0 + timeout
    while loop.processed < expected:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{loop.name}: {loop.processed} of {expected} after {timeout}s")
        loop.run_once(timeout=0.05)
    return time.perf_counter() - t0


@dataclass(frozen=True)
class Counts:
    raw: int
    matched: int
    alerts: int


def per_stage(
    app: App, folder: Path, mentions: Sequence[Mention]
) -> tuple[list[StageRate], Counts, float]:
    """Each stage alone draining its input, in pipeline order. Returns the rates, the
    record counts, and the pre-load rate."""
    pipe = build(app, folder, mentions[0].published_at)
    try:
        produce = preload(pipe.bus, mentions)
        rates = [
            StageRate(
                "enrich-match", len(mentions), drain(pipe.loops["enrich-match"], len(mentions))
            )
        ]
        matched = len(pipe.bus.read_topic(topics.MATCHED))
        velocity = pipe.loops["enrich-velocity"]
        rates.append(StageRate("enrich-velocity", matched, drain(velocity, matched)))
        enriched = matched - velocity.rejected  # dead-lettered records go no further
        rates.append(StageRate("rules", enriched, drain(pipe.loops["rules"], enriched)))
        alerts = len(pipe.bus.read_topic(topics.ALERTS))
        rates.append(StageRate("alerting", alerts, drain(pipe.loops["alerting"], alerts)))
        rates.append(
            StageRate("index", enriched + alerts, drain(pipe.loops["index"], enriched + alerts))
        )
        return rates, Counts(len(mentions), matched, alerts), produce
    finally:
        pipe.close()


def match_only(app: App, folder: Path, mentions: Sequence[Mention]) -> StageRate:
    """The enrich match step alone draining ``mentions`` (for the transformer scorer)."""
    pipe = build(app, folder, mentions[0].published_at)
    try:
        preload(pipe.bus, mentions)
        seconds = drain(pipe.loops["enrich-match"], len(mentions))
        return StageRate("enrich-match", len(mentions), seconds)
    finally:
        pipe.close()


@dataclass(frozen=True)
class EndToEnd:
    rate: StageRate
    children_kb: list[int]
    """Peak RSS (VmHWM) of each child process (``enrich.processes``), read before they stop."""
    alerts: int
    """Alerts this run fired (it may differ from a stage-by-stage drain: event time runs
    differently when a stage is handed one partition's backlog at a time)."""


class Finish:
    """Whether every stage has handled everything the stages before it produced: each
    stage's input is read once the stage before it is through (a stage's ``processed``
    counts its dead-lettered records too, which never reach the next topic)."""

    def __init__(self, bus: EmbeddedBus, loops: dict[str, StageLoop], raw: int) -> None:
        self._bus, self._loops, self._raw = bus, loops, raw
        self._matched: int | None = None
        self.alerts: int | None = None

    def __call__(self) -> bool:
        loops = self._loops
        if loops["enrich-match"].processed < self._raw:
            return False
        if self._matched is None:
            self._matched = len(self._bus.read_topic(topics.MATCHED))
        velocity = loops["enrich-velocity"]
        if velocity.processed < self._matched:
            return False
        enriched = self._matched - velocity.rejected
        if loops["rules"].processed < enriched:
            return False
        self.alerts = len(self._bus.read_topic(topics.ALERTS))
        return (
            loops["alerting"].processed >= self.alerts
            and loops["index"].processed >= enriched + self.alerts
        )


def in_event_order(app: App, mentions: Sequence[Mention]) -> int:
    """The alerts the rules fire on ``mentions`` taken one at a time in event order, with
    no bus, no partitions and no threads (`enrich.stage.enrich_mentions`,
    `rules.replay.replay`, nothing pending resolved afterwards): the count the replays'
    counts are judged against."""
    from enrich.stage import enrich_mentions
    from rules.replay import replay as replay_rules

    enriched = enrich_mentions(mentions, app.watchlist, app.settings.enrich)
    return len(replay_rules(app.rules, enriched, drain=False))


def end_to_end(
    app: App, folder: Path, mentions: Sequence[Mention], file_bus: bool = False
) -> EndToEnd:
    """Every stage in its own thread, from the first raw record to the last indexed one."""
    pipe = build(app, folder, mentions[0].published_at, file_bus)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        preload(pipe.bus, mentions)
        loops = pipe.loops
        finished = Finish(pipe.bus, loops, len(mentions))
        workers: list[Worker] = list(loops.values())
        t0 = time.perf_counter()
        threads = run_workers(workers, stop)
        deadline = t0 + 900
        while not finished():
            if stop.is_set() or time.perf_counter() > deadline:
                got = {n: loop.processed for n, loop in loops.items()}
                raise RuntimeError(f"end to end did not finish: {got}")
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        children = [
            status_kb(c.pid, "VmHWM")
            for c in multiprocessing.active_children()
            if c.pid is not None
        ]
        assert finished.alerts is not None
        return EndToEnd(
            StageRate("end to end", len(mentions), seconds),
            [kb for kb in children if kb],
            finished.alerts,
        )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        pipe.close()
