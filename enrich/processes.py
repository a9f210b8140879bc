"""The match step's text work (brand matching, language, sentiment) in child processes.

Python runs one thread at a time, so in a process that runs several stages (the embedded
pipeline) the match step, the most expensive, queues behind the others. With
``enrich.processes: N`` it runs in N child processes instead (started with ``spawn``: the
parent has threads, which ``fork`` does not copy safely); the stage's thread waits for
them without holding the interpreter, and the other stages run meanwhile. Each child
builds its own matcher, language model and sentiment scorer (or model) from the
watchlist and settings, so each costs that memory again.

A child that dies takes its batch with it: `ProcessAnalyser.analyse` starts new children
and raises, and the stage loop tries the batch again (nothing is committed before).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from core.watchlist import Watchlist
from enrich.enricher import Analysis, TextAnalyser
from enrich.settings import EnrichSettings

log = logging.getLogger(__name__)

_child: dict[str, TextAnalyser | str] = {}
"""In a child: ``analyser`` (the built `TextAnalyser`) or ``failure`` (why it is not)."""


def _exit_with(parent: int) -> None:
    """A child outlives a parent killed with SIGKILL (nothing tells it): it checks once a
    second that its parent is still the one that started it, and exits when not."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _start_child(watchlist: Watchlist, settings: EnrichSettings) -> None:
    """Runs once in each child: build the analyser, or keep why it could not be built."""
    from enrich.sentiment import load_scorer

    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    # Ctrl-C reaches the whole process group: the parent stops its children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    try:
        _child["analyser"] = TextAnalyser(watchlist, settings, load_scorer(settings))
    except Exception as exc:  # reported to the parent by _ready, with its reason
        _child["failure"] = f"{type(exc).__name__}: {exc}"


def _ready() -> str | None:
    failure = _child.get("failure")
    return failure if isinstance(failure, str) else None


def _analyse(texts: Sequence[str], tags: Sequence[str | None]) -> list[Analysis | None]:
    analyser = _child.get("analyser")
    if not isinstance(analyser, TextAnalyser):
        raise RuntimeError(f"the match process could not start: {_ready()}")
    return analyser.analyse(texts, tags)


class ProcessAnalyser:
    """An `enrich.enricher.Analyser` whose work runs in ``processes`` child processes; a
    batch is split into that many contiguous chunks and put back together in order."""

    def __init__(self, watchlist: Watchlist, settings: EnrichSettings, processes: int) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self._watchlist = watchlist
        self._settings = settings
        self.processes = processes
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(self._watchlist, self._settings),
        )
        # Start the children now (their models load there), so a child that cannot build
        # its analyser fails the stage's start with the reason, not its first batch.
        try:
            ready = [pool.submit(_ready) for _ in range(self.processes)]
            failures = [f for f in ready if f.result()]
        except BrokenProcessPool as exc:
            pool.shutdown(wait=False, cancel_futures=True)
            raise RuntimeError(f"enrich.processes: a match process died at start: {exc}") from exc
        if failures:
            pool.shutdown(wait=False, cancel_futures=True)
            reason = failures[0].result()
            raise RuntimeError(f"enrich.processes: a match process could not start: {reason}")
        log.info("enrich: match step in %d child process(es)", self.processes)
        return pool

    def analyse(self, texts: Sequence[str], tags: Sequence[str | None]) -> list[Analysis | None]:
        if not texts:
            return []
        size = math.ceil(len(texts) / min(self.processes, len(texts)))
        starts = range(0, len(texts), size)
        try:
            futures = [
                self._pool.submit(_analyse, texts[i : i + size], tags[i : i + size]) for i in starts
            ]
            return [a for future in futures for a in future.result()]
        except BrokenProcessPool as exc:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            raise RuntimeError("a match process died; the batch is tried again") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
