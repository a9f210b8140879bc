"""The composition root: which stage runs on which topics with which adapters.

Every stage is a `Worker` (``run(stop)`` until the event is set). `Runtime` opens the bus
and the store the settings name, creates the topics and the index schema, and builds the
workers of any stage. ``stormwatch run STAGE`` runs one stage's workers; the embedded
demo runs all of them in one process.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from core import records, topics
from core.bus import Bus, open_bus
from core.clock import Clock, SystemClock
from core.records import Alert, InvalidRecord, decode
from core.stage import StageLoop
from core.store import Store, open_store
from stormwatch.config import App

log = logging.getLogger(__name__)

STAGES = ("ingest", "enrich", "rules", "alerting", "index", "dashboards")
GROUP = "stormwatch"
SHARED_RECORDS = 4_096
"""Records a multi-stage process keeps to hand from writer to reader (`records.share_decoded`)."""


class Worker(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


@dataclass
class Call:
    """A worker from a function (for services that are not stage loops)."""

    name: str
    target: Callable[[threading.Event], None]

    def run(self, stop: threading.Event) -> None:
        self.target(stop)


@dataclass
class Runtime:
    app: App
    clock: Clock = field(default_factory=SystemClock)
    bus: Bus | None = None
    store: Store | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=20))
    loops: list[StageLoop] = field(default_factory=list)
    need_bus: bool = True
    """False for a process that only serves the search page: it reads the store alone
    (and an embedded bus file is another process's)."""
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.app.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        if self.bus is None and self.need_bus:
            self.bus = open_bus(s.bus)
        if self.store is None:
            self.store = open_store(s.store)

    @property
    def partitions(self) -> int:
        s = self.app.settings.bus
        return s.kafka.partitions if s.adapter == "kafka" else s.embedded.partitions

    def prepare(self, stages: Iterable[str]) -> None:
        """Create the topics, and the index schema where a stage needs the store."""
        assert self.store is not None
        if self.bus is not None:
            self.bus.ensure_topics(topics.specs(self.partitions))
        if {"index", "dashboards"} & set(stages):
            self.store.ensure_schema()

    def _loop(self, name: str, *args: object, **kwargs: object) -> StageLoop:
        loop = StageLoop(name, *args, **kwargs)  # type: ignore[arg-type]
        self.loops.append(loop)
        return loop

    def workers(self, stage: str) -> list[Worker]:
        """The workers of one stage, ready to run."""
        assert self.store is not None
        if stage == "dashboards":
            return [self._search_page()]
        assert self.bus is not None
        settings, bus, clock = self.app.settings, self.bus, self.clock
        # Each stage is imported only when its workers are built: a rules or alerting
        # process must not pay for spaCy and torch (600 MB and seconds of start-up).
        if stage == "ingest":
            from ingest import IngestService

            service = IngestService(
                self.app.watchlist,
                settings.ingest,
                bus.producer(),
                settings.state_dir / settings.ingest.state_file,
                clock,
                self.http,
            )
            return [Call("ingest", service.run)]
        if stage == "enrich":
            from enrich.stage import match_handler, velocity_handler

            match = match_handler(self.app.watchlist, settings.enrich, None, clock)
            self._closers.append(match.close)
            return [
                self._loop(
                    "enrich-match",
                    bus,
                    f"{GROUP}.enrich-match",
                    [topics.RAW],
                    match,
                ),
                self._loop(
                    "enrich-velocity",
                    bus,
                    f"{GROUP}.enrich-velocity",
                    [topics.MATCHED],
                    velocity_handler(settings.enrich, clock),
                ),
            ]
        if stage == "rules":
            from rules import RulesEngine, rules_handler, rules_ticker

            engine = RulesEngine(self.app.rules, clock)
            engine.restore(self._alert_history())
            return [
                self._loop(
                    "rules",
                    bus,
                    f"{GROUP}.rules",
                    [topics.ENRICHED],
                    rules_handler(engine),
                    tick=rules_ticker(engine),
                )
            ]
        if stage == "alerting":
            from alerting import alerting_handler, alerting_ticker, build_notifiers, build_pipeline
            from alerting import restore_from_messages as restore_notifications

            state = restore_notifications(bus.read_topic(topics.NOTIFICATIONS))
            notifiers = build_notifiers(settings.alerting, self.http)
            pipeline = build_pipeline(settings.alerting, notifiers, clock, state)
            return [
                self._loop(
                    "alerting",
                    bus,
                    f"{GROUP}.alerting",
                    [topics.ALERTS],
                    alerting_handler(pipeline),
                    tick=alerting_ticker(pipeline),
                )
            ]
        if stage == "index":
            from dashboards.indexer import TOPICS as INDEX_TOPICS
            from dashboards.indexer import index_handler

            return [
                self._loop(
                    "index",
                    bus,
                    f"{GROUP}.index",
                    list(INDEX_TOPICS),
                    index_handler(self.store),
                    max_records=settings.dashboards.batch_size,
                )
            ]
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")

    def _search_page(self) -> Worker:
        from dashboards.api import create_app
        from dashboards.server import WebServer

        assert self.store is not None
        settings = self.app.settings.dashboards
        web = WebServer(create_app(self.store, self.clock), settings.host, settings.port)

        def serve(stop: threading.Event) -> None:
            web.start()
            log.info("search page on %s", settings.url())
            stop.wait()
            web.stop()

        return Call("dashboards", serve)

    def _alert_history(self) -> list[Alert]:
        assert self.bus is not None
        out = []
        for message in self.bus.read_topic(topics.ALERTS):
            try:
                out.append(decode(message.value, Alert))
            except InvalidRecord as exc:
                log.warning("skipping an unreadable alert in the history: %s", exc)
        return out

    def close_workers(self) -> None:
        """Stop what the workers started beside the bus and the store (child processes)."""
        while self._closers:
            self._closers.pop()()

    def close(self) -> None:
        self.close_workers()
        self.http.close()
        if self.store is not None:
            self.store.close()
        if self.bus is not None:
            self.bus.close()


def tune_gc() -> None:
    """Freeze everything built so far (models, lexicons, watchlists: long-lived) out of the
    garbage collector's reach, and collect the young generation less often: a stream of
    short-lived records made full collections cost a quarter of the pipeline's time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def run_workers(
    workers: list[Worker], stop: threading.Event, crashes: list[str] | None = None
) -> list[threading.Thread]:
    """Start each worker in a thread of its own; a crashed worker stops them all and is
    added to ``crashes`` (``"name: reason"``), so the caller can exit with an error."""

    def guard(worker: Worker) -> None:
        try:
            worker.run(stop)
        except Exception as exc:
            reason = f"{worker.name} crashed: {type(exc).__name__}: {exc}"
            log.error("%s; stopping", reason)
            log.debug("%s", reason, exc_info=True)
            if crashes is not None:
                crashes.append(reason)
            stop.set()

    tune_gc()
    # Stages of one process hand each other records over the bus: the reader gets the
    # writer's record back instead of parsing its JSON again (Kafka's bytes are new
    # objects, so there it costs a dictionary lookup that misses).
    records.share_decoded(SHARED_RECORDS if len(workers) > 1 else 0)
    threads = [threading.Thread(target=guard, args=(w,), name=w.name, daemon=True) for w in workers]
    for t in threads:
        t.start()
    return threads
