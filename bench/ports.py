"""Throughput of the bus and store adapters, on this machine.

    python bench/ports.py [--kafka 127.0.0.1:19092] [--es http://127.0.0.1:19200]

Bus: produce and consume throughput of 1 KB JSON records (one producer, one consumer
group member, 6 partitions). Store: bulk-index throughput of enriched mentions and the
latency of a typical search (query string + brand filter + histogram + facets).
Adapters without a server address (flag or STORMWATCH_TEST_KAFKA / STORMWATCH_TEST_ES)
are left out and say so. A benchmark, not a test: compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repo root importable so `bench` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import add_server_options, machine
from core.bus import Bus, TopicSpec
from core.bus.embedded import EmbeddedBus
from core.records import EnrichedMention, Mention, Sentiment
from core.settings import ElasticsearchSettings, KafkaSettings
from core.store import SearchQuery, Store
from core.store.sqlite import SqliteStore

WORDS = [
    "acme",
    "globex",
    "service",
    "refund",
    "boycott",
    "recall",
    "lawsuit",
    "great",
    "love",
    "terrible",
    "phone",
    "app",
    "update",
    "outage",
    "support",
    "customer",
    "price",
    "delivery",
    "quality",
    "Kunden",
    "Rückruf",
    "Service",
    "toll",
    "schlecht",
    "Preis",
    "Lieferung",
]


def record_1kb(i: int) -> bytes:
    body = {"i": i, "brand": f"brand-{i % 20}", "text": " ".join(random.choices(WORDS, k=140))}
    raw = json.dumps(body).encode()
    return (raw + b" " * 1024)[:1024] if len(raw) < 1024 else raw[:1024]


def bench_bus(bus: Bus, n: int) -> tuple[float, float]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    bus.ensure_topics([TopicSpec(topic, 6)])
    payloads = [record_1kb(i) for i in range(2000)]
    with bus.producer() as producer:
        start = time.perf_counter()
        for i in range(n):
            producer.send(topic, payloads[i % len(payloads)], key=f"brand-{i % 20}".encode())
        producer.flush()
        produce = n / (time.perf_counter() - start)
    with bus.consumer(f"bench-{uuid.uuid4().hex}", [topic]) as consumer:
        got = 0
        start = time.perf_counter()
        deadline = start + 300
        while got < n and time.perf_counter() < deadline:
            got += len(consumer.poll(timeout=1.0, max_records=2000))
        consume = got / (time.perf_counter() - start)
        if got < n:
            print(f"  warning: consumed only {got} of {n}", file=sys.stderr)
    return produce, consume


def mentions(n: int) -> list[EnrichedMention]:
    rng = random.Random(7)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        when = t0 + timedelta(seconds=rng.randrange(7 * 86400))
        m = Mention(
            source=rng.choice(["rss", "mastodon", "bluesky", "reddit"]),
            source_name="bench",
            url=f"https://bench.example/{i}",
            title=" ".join(rng.choices(WORDS, k=8)),
            text=" ".join(rng.choices(WORDS, k=60)),
            published_at=when,
            fetched_at=when,
        )
        out.append(
            EnrichedMention(
                mention=m,
                brand=rng.choice(["acme", "globex", "initech"]),
                language=rng.choice(["en", "de"]),
                sentiment=rng.choice(list(Sentiment)),
                enriched_at=when,
            )
        )
    return out


def bench_store(
    store: Store, docs: list[EnrichedMention], searches: int
) -> tuple[float, list[float]]:
    store.ensure_schema()
    start = time.perf_counter()
    for i in range(0, len(docs), 1000):
        store.index_mentions(docs[i : i + 1000])
    store.refresh()
    rate = len(docs) / (time.perf_counter() - start)
    queries = ["boycott", "refund OR recall", '"customer support"', "service -great", "rück*"]
    latencies = []
    for i in range(searches):
        q = SearchQuery(
            text=queries[i % len(queries)],
            filters={"brand": ("acme",)},
            histogram=timedelta(hours=1),
            facets=("sentiment", "source"),
            size=20,
        )
        start = time.perf_counter()
        store.search("mentions", q)
        latencies.append((time.perf_counter() - start) * 1000)
    return rate, latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_server_options(ap)
    ap.add_argument("--records", type=int, default=50_000, help="bus records per adapter")
    ap.add_argument("--docs", type=int, default=20_000, help="store documents per adapter")
    ap.add_argument("--searches", type=int, default=200, help="searches timed per store")
    args = ap.parse_args()

    print(f"machine: {machine()}")
    print(f"bus: {args.records} records of 1 KB, 6 partitions, keyed by 20 brands")
    with tempfile.TemporaryDirectory() as tmp:
        buses: list[tuple[str, Bus | None]] = [
            ("embedded (memory)", EmbeddedBus()),
            ("embedded (SQLite)", EmbeddedBus(Path(tmp) / "bus.db")),
        ]
        if args.kafka:
            from core.bus.kafka import KafkaBus

            buses.append(
                (f"kafka {args.kafka}", KafkaBus(KafkaSettings(bootstrap_servers=(args.kafka,))))
            )
        else:
            buses.append(("kafka", None))
        for name, bus in buses:
            if bus is None:
                print(f"  {name:<28} skipped: no --kafka / STORMWATCH_TEST_KAFKA")
                continue
            produce, consume = bench_bus(bus, args.records)
            bus.close()
            print(f"  {name:<28} produce {produce:>10,.0f} rec/s   consume {consume:>10,.0f} rec/s")

        docs = mentions(args.docs)
        print(
            f"store: bulk index {args.docs} enriched mentions (batches of 1000), "
            f"then {args.searches} searches"
        )
        stores: list[tuple[str, Store | None]] = [
            ("embedded (SQLite FTS5)", SqliteStore(Path(tmp) / "store.db"))
        ]
        if args.es:
            from core.store.elastic import ElasticStore

            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            stores.append(
                (
                    f"elasticsearch {args.es}",
                    ElasticStore(ElasticsearchSettings(hosts=(args.es,), index_prefix=prefix)),
                )
            )
        else:
            stores.append(("elasticsearch", None))
        for name, store in stores:
            if store is None:
                print(f"  {name:<28} skipped: no --es / STORMWATCH_TEST_ES")
                continue
            rate, lat = bench_store(store, docs, args.searches)
            store.drop()
            store.close()
            print(
                f"  {name:<28} index {rate:>9,.0f} docs/s   search p50 "
                f"{statistics.median(lat):6.1f} ms  p95 {pct(lat, 95):6.1f} ms  "
                f"p99 {pct(lat, 99):6.1f} ms"
            )


if __name__ == "__main__":
    main()
