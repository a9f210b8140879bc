"""Kafka + Elasticsearch runs: the stages as real ``stormwatch run STAGE`` processes.

Each run gets topics and indices of its own (a random prefix) and removes them after.
Progress is read from outside the processes, cheaply: end offsets of topics, committed
offsets of the stages' consumer groups, Elasticsearch's document count.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaTP
from kafka.errors import RetriableError

from bench._pipeline_config import Target
from bench._pipeline_measure import status_kb
from core import topics
from core.bus.kafka import KafkaBus
from core.records import Mention, encode
from core.settings import ElasticsearchSettings, KafkaSettings
from core.store import StoreError
from core.store.elastic import ElasticStore

REPO = Path(__file__).resolve().parents[1]
GROUP = "stormwatch"  # stormwatch.wiring.GROUP: the stages' consumer groups are GROUP.<loop>


def new_target(kafka: str, es: str | None, partitions: int) -> Target:
    return Target(kafka=kafka, es=es, prefix=f"bench-{uuid.uuid4().hex[:8]}", partitions=partitions)


def bus(target: Target) -> KafkaBus:
    assert target.kafka is not None
    return KafkaBus(
        KafkaSettings(
            bootstrap_servers=(target.kafka,),
            topic_prefix=target.prefix + ".",
            partitions=target.partitions,
        )
    )


def match_children(pid: int) -> list[int]:
    """The child processes of ``pid`` started by multiprocessing's spawn (not its resource
    tracker)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # the process has gone
        return out
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:  # a thread that ended meanwhile
            continue
        for child in children:
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    out.append(int(child))
            except OSError:  # a child that exited meanwhile
                continue
    return out


class Stages:
    """Stage processes with their logs; peak memory read before they stop."""

    def __init__(self, settings: Path, logs: Path) -> None:
        self.settings, self.logs = settings, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, stage: str) -> None:
        n = sum(name.startswith(stage) for name, _ in self.procs)
        name = f"{stage}#{n + 1}"
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "stormwatch",
                    "--settings",
                    str(self.settings),
                    "run",
                    stage,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.procs.append((name, proc))

    def alive(self) -> bool:
        return all(p.poll() is None for _, p in self.procs)

    def peak_kb(self) -> dict[str, int | None]:
        """Peak RSS of each stage process and of its match processes (enrich.processes)."""
        peaks: dict[str, int | None] = {}
        for name, p in self.procs:
            peaks[name] = status_kb(p.pid, "VmHWM")
            for i, child in enumerate(match_children(p.pid), 1):
                peaks[f"{name} match process {i}"] = status_kb(child, "VmHWM")
        return peaks

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs = []

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
            for p in sorted(self.logs.glob("*.log"))
        )


class Offsets:
    """End offsets of topics and committed offsets of groups, summed over partitions."""

    def __init__(self, target: Target) -> None:
        assert target.kafka is not None
        self._prefix = target.prefix + "."
        self._consumer = KafkaConsumer(bootstrap_servers=[target.kafka], group_id=None)
        self._admin = KafkaAdminClient(bootstrap_servers=[target.kafka])

    def _tps(self, topic: str) -> list[KafkaTP]:
        name = self._prefix + topic
        return [KafkaTP(name, p) for p in sorted(self._consumer.partitions_for_topic(name) or ())]

    def end(self, topic: str) -> int:
        tps = self._tps(topic)
        return sum(self._consumer.end_offsets(tps).values()) if tps else 0

    def committed(self, group: str, topic: str) -> int:
        """What ``group`` has committed on ``topic``; 0 while the broker cannot say yet (a
        broker that has just started is still creating its offsets topic, so its group
        coordinator is not available)."""
        try:
            offsets = self._admin.list_group_offsets({group: None}).get(group, {})
        except RetriableError:
            return 0
        name = self._prefix + topic
        return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == name)

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()


def preload(target: Target, mentions: Sequence[Mention]) -> float:
    """Create the topics and produce ``mentions`` to ``mentions.raw``; returns records/s."""
    with bus(target) as b:
        b.ensure_topics(topics.specs(target.partitions))
        with b.producer() as producer:
            t0 = time.perf_counter()
            for m in mentions:
                producer.send(topics.RAW, encode(m), m.id.encode())
            producer.flush()
            return len(mentions) / (time.perf_counter() - t0)


MIN_STEPS = 3
"""Times a count must grow after its first output for a sustained rate."""


@dataclass
class Progress:
    """(seconds since start, count) samples of a growing count."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    @property
    def seconds(self) -> float:
        return self.samples[-1][0] if self.samples else 0.0

    def sustained(self) -> float | None:
        """Records/s from the first sample that saw output to the last (start-up excluded);
        None where the count grew fewer than ``MIN_STEPS`` times after that (a run that
        short, or in batches that large, has no steady state to measure)."""
        seen = [(t, c) for t, c in self.samples if c > 0]
        steps = sum(b[1] > a[1] for a, b in itertools.pairwise(seen))
        if steps < MIN_STEPS:
            return None
        return (self.total - seen[0][1]) / (self.seconds - seen[0][0])


def watch(
    count: Callable[[], int],
    done: Callable[[int], bool],
    alive: Callable[[], bool],
    timeout: float,
    every: float = 0.25,
) -> Progress:
    """Sample ``count`` until ``done(count)``; raises if a process dies or time runs out."""
    progress = Progress()
    t0 = time.monotonic()
    while True:
        c = count()
        progress.samples.append((time.monotonic() - t0, c))
        if done(c):
            final = count()  # what was finished while ``done`` looked
            if final != c:
                progress.samples.append((time.monotonic() - t0, final))
            return progress
        if not alive():
            raise RuntimeError("a stage process exited")
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"only {c} after {timeout:.0f}s")
        time.sleep(every)


def enrich_done(offsets: Offsets, raw: int) -> Callable[[int], bool]:
    """Both enrich steps have committed everything: every raw record matched, every
    matched record given its velocity."""

    def done(_: int) -> bool:
        if offsets.committed(f"{GROUP}.enrich-match", topics.RAW) < raw:
            return False
        matched = offsets.end(topics.MATCHED)
        return offsets.committed(f"{GROUP}.enrich-velocity", topics.MATCHED) >= matched

    return done


def es_documents(target: Target) -> int:
    """Documents in the run's mentions index once everything written is searchable."""
    assert target.es is not None
    store = ElasticStore(ElasticsearchSettings(hosts=(target.es,), index_prefix=target.prefix))
    try:
        store.refresh()
        return int(store._es.count(index=store.alias("mentions"))["count"])
    finally:
        store.close()


def cleanup(target: Target) -> None:
    """Delete the run's topics and indices."""
    if target.kafka:
        admin = KafkaAdminClient(bootstrap_servers=[target.kafka])
        try:
            mine = [t for t in admin.list_topics() if t.startswith(target.prefix + ".")]
            if mine:
                admin.delete_topics(mine)
        except Exception as exc:  # best effort: a leftover topic harms nothing
            print(f"  (could not delete topics of {target.prefix}: {exc})", file=sys.stderr)
        finally:
            admin.close()
    if target.es:
        store = ElasticStore(ElasticsearchSettings(hosts=(target.es,), index_prefix=target.prefix))
        try:
            store.drop()
        except StoreError:
            # drop() refuses when a template is missing: the run never wrote to the store
            pass
        finally:
            store.close()
