"""Alert latency, mention on the bus -> notification at the receiver, under a steady load.

The same procedure on any bus, with the stages already running (threads or processes):
a background thread produces calm chatter at a steady rate; then probes are injected one
by one, each a post that fires the crisis-word rule for a brand of its own (so no alert is
deduplicated). A probe's clock starts when the bus has acknowledged it (`Producer.flush`
returned) and stops when the Slack stand-in receives the page naming its brand.

Per hop, the records' bus timestamps (the embedded bus stamps the append, Kafka the
producer's send) split the time: bus -> mentions.matched -> mentions.enriched -> alerts
-> received.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench._pipeline_measure import SlackReceiver
from bench._pipeline_stream import chatter, probe_mention
from core import topics
from core.bus.port import Bus, Producer
from core.records import Alert, AlertState, InvalidRecord, decode, encode

HOPS = ("bus -> matched", "matched -> enriched", "enriched -> alert", "alert -> received")


@dataclass
class LatencyResult:
    injected: int = 0
    latencies: dict[str, float] = field(default_factory=dict)
    """Probe brand -> seconds from the bus to the receiver."""
    hops: dict[str, list[float]] = field(default_factory=dict)
    background_sent: int = 0
    background_seconds: float = 0.0
    warmup_seconds: float = 0.0

    @property
    def background_rate(self) -> float:
        return self.background_sent / self.background_seconds if self.background_seconds else 0.0


class Background:
    """Calm chatter at ``rate`` mentions/s until stopped (sent in 20 ms ticks)."""

    def __init__(self, producer: Producer, rate: float, seed: int = 3) -> None:
        self._producer = producer
        self._rate = rate
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self.sent = 0
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="bench-background", daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.wait(0.02):
            due = int((time.monotonic() - t0) * self._rate) - self.sent
            now = datetime.now(UTC)
            for _ in range(max(0, due)):
                m = chatter(self._rng, self.sent, now)
                self._producer.send(topics.RAW, encode(m), m.id.encode())
                self.sent += 1
            if due > 0:
                self._producer.flush()
        self.seconds = time.monotonic() - t0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def inject(producer: Producer, name: str, serial: int) -> float:
    """Produce one probe and wait for the bus to have it; returns that instant."""
    m = probe_mention(name, serial, datetime.now(UTC))
    producer.send(topics.RAW, encode(m), m.id.encode())
    producer.flush()
    return time.time()


def measure(
    bus: Bus,
    receiver: SlackReceiver,
    probes: Sequence[tuple[str, str]],
    *,
    warmup: tuple[str, str],
    background_rate: float,
    probe_interval: float,
    warmup_timeout: float = 120.0,
    tail_timeout: float = 30.0,
    alive: Callable[[], bool] = lambda: True,
) -> LatencyResult:
    """Run the load, the warm-up probe (its page must arrive before measuring), then
    ``probes`` one every ``probe_interval`` seconds; gather latencies and hops. Probes
    are (brand id, brand name) pairs; results are keyed by brand id."""
    result = LatencyResult()
    receiver.reset()
    background = Background(bus.producer(), background_rate).start()
    probe_producer = bus.producer()
    sent_at: dict[str, float] = {}
    try:
        t0 = time.monotonic()
        inject(probe_producer, warmup[1], 0)
        while warmup[0] not in receiver.first:
            if time.monotonic() - t0 > warmup_timeout or not alive():
                raise RuntimeError(
                    f"the warm-up page did not arrive within {warmup_timeout:.0f}s"
                    if alive()
                    else "a stage process exited during the warm-up"
                )
            time.sleep(0.05)
        result.warmup_seconds = time.monotonic() - t0
        for serial, (pid, name) in enumerate(probes, start=1):
            sent_at[pid] = inject(probe_producer, name, serial)
            time.sleep(probe_interval)
        result.injected = len(probes)
        deadline = time.monotonic() + tail_timeout
        while not all(p in receiver.first for p in sent_at) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        background.stop()
        probe_producer.close()
    result.background_sent, result.background_seconds = background.sent, background.seconds
    result.latencies = {p: receiver.first[p] - t for p, t in sent_at.items() if p in receiver.first}
    result.hops = hop_times(bus, sent_at, receiver.first)
    return result


def hop_times(
    bus: Bus, sent_at: dict[str, float], received: dict[str, float]
) -> dict[str, list[float]]:
    """Seconds spent in each hop by each probe that made it, from the bus timestamps of
    its records on mentions.matched, mentions.enriched and alerts (brand-keyed topics:
    the key is the probe's brand id)."""
    stamps: dict[str, dict[str, float]] = {}
    for topic in (topics.MATCHED, topics.ENRICHED):
        for m in bus.read_topic(topic):
            brand = (m.key or b"").decode()
            if brand in sent_at:
                stamps.setdefault(topic, {}).setdefault(brand, m.timestamp_ms / 1000)
    for m in bus.read_topic(topics.ALERTS):
        try:
            alert = decode(m.value, Alert)
        except InvalidRecord:
            continue
        if alert.brand in sent_at and alert.state is AlertState.FIRING:
            stamps.setdefault(topics.ALERTS, {}).setdefault(alert.brand, m.timestamp_ms / 1000)
    out: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for brand, start in sent_at.items():
        points = [
            start,
            stamps.get(topics.MATCHED, {}).get(brand),
            stamps.get(topics.ENRICHED, {}).get(brand),
            stamps.get(topics.ALERTS, {}).get(brand),
            received.get(brand),
        ]
        if any(p is None for p in points):
            continue
        for hop, a, b in zip(HOPS, points, points[1:], strict=False):
            assert a is not None and b is not None
            out[hop].append(b - a)
    return out
