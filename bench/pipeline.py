"""Pipeline throughput, alert latency and memory, embedded and on Kafka + Elasticsearch.

    python bench/pipeline.py [--kafka 127.0.0.1:19092] [--es http://127.0.0.1:19200]
                             [--mentions N] [--model PATH | --standin-model]
                             [--only embedded|kafka|transformer] [--profile]

Embedded (one process, `stormwatch demo`'s wiring): a synthetic stream (bench/_pipeline_stream:
five brands and a competitor, EN/DE, baseline plus angry bursts) pre-loaded on
mentions.raw and drained stage by stage, then through all stages at once (twice: the match
step in the stage's thread, then in a child process, ``enrich.processes: 1``); ingest from a
large local RSS feed; alert latency under a steady background load (probe mentions for
brands of their own, each paging a local Slack stand-in); peak memory.

Kafka (each stage a ``stormwatch run STAGE`` process): raw -> enriched throughput with one
and two enrich processes, index throughput into Elasticsearch, alert latency with the
stages as processes, and each process's peak memory (VmHWM); with a model, also raw ->
enriched through one enrich process with the transformer sentiment (int8).

Transformer sentiment: ``--model DIR`` (a local model) or ``--standin-model`` (random
weights of XLM-R base's shape, built locally: speed only), through the embedded match step
(with and without int8 quantisation, and the bench process's peak memory) and on Kafka.
Without either it is not measured. Server addresses default to STORMWATCH_TEST_KAFKA /
STORMWATCH_TEST_ES; without them the Kafka part is skipped and says so. A benchmark, not a
test.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _pipeline_kafka as kafka_run
from bench import _pipeline_replay as replay
from bench._pipeline_config import Target, write_config
from bench._pipeline_latency import HOPS, LatencyResult, measure
from bench._pipeline_measure import (
    SlackReceiver,
    mib,
    peak_rss,
    percentile,
    reset_peak,
    status_kb,
    summary_ms,
)
from bench._pipeline_stream import probe_brands, synthetic_stream
from bench.cli import add_server_options, ints, machine
from core import topics
from core.bus.embedded import EmbeddedBus
from core.clock import SystemClock
from core.records import Mention
from core.store.sqlite import SqliteStore
from stormwatch.config import App, load_app
from stormwatch.wiring import Runtime, run_workers

EMBEDDED_BAR = 5_000
KAFKA_ENRICH_BAR = 10_000
LATENCY_BAR = 1.0
TRANSFORMER_BAR = 200
KAFKA_TRANSFORMER_RUNS = 3
"""The Kafka transformer run takes this many times ``--transformer-mentions`` posts."""
LIVE_STAGES = ("enrich", "rules", "alerting", "index")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rate_text(rate: float | None) -> str:
    return "n/a (too few steps)" if rate is None else f"{rate:,.0f}"


def latency_verdict(latencies: Sequence[float], injected: int) -> str:
    """The bar's verdict on the p99 printed beside it; an alert that never arrived misses
    it, however fast the others were."""
    lost = injected - len(latencies)
    if lost > 0 or not latencies:
        return f"MISSED ({max(lost, 0)} of {injected} alerts never arrived)"
    return verdict(percentile(latencies, 99) < LATENCY_BAR)


def print_latency(result: LatencyResult, peak_note: str) -> None:
    lat = list(result.latencies.values())
    print(
        f"  background {result.background_rate:,.0f} mentions/s; {len(lat)} of {result.injected}"
        f" alerts measured (warm-up page after {result.warmup_seconds:.1f}s)"
    )
    print(f"  mention on the bus -> page received: {summary_ms(lat)}")
    if len(lat) < 100:
        print("  (fewer than 100 alerts: the p99 is not worth much)")
    print(f"  bar p99 < {LATENCY_BAR:.0f} s: {latency_verdict(lat, result.injected)}")
    print("  per hop (bus timestamps of the probe's records, 1 ms resolution):")
    for hop in HOPS:
        print(f"    {hop:<22} {summary_ms(result.hops.get(hop, []))}")
    print(f"  {peak_note}")


# -- embedded --------------------------------------------------------------------------
def embedded(
    app: App,
    parallel_app: App,
    folder: Path,
    mentions: Sequence[Mention],
    args: argparse.Namespace,
) -> None:
    span = (mentions[-1].published_at - mentions[0].published_at).total_seconds() / 3600
    print(
        f"\n== embedded adapters: {len(mentions):,} mentions pre-loaded on mentions.raw "
        f"({span:.1f} h of event time), {app.settings.bus.embedded.partitions} partitions, "
        "lexicon sentiment"
    )
    rates, counts, produce = replay.per_stage(app, folder, mentions)
    print(f"  pre-load (produce to mentions.raw)      {produce:>9,.0f} records/s")
    print("  each stage alone, draining its input:")
    for r in rates:
        print(
            f"    {r.name:<18} {r.records:>7,} records in {r.seconds:6.2f}s  {r.rate:>9,.0f}/s"
            f"  ({1e6 / r.rate if r.rate else 0:5.0f} us/record)"
        )
    print(
        f"  ({counts.matched:,} brand mentions from {counts.raw:,} posts; {counts.alerts} alerts "
        "fired by the bursts and paged in this stage-by-stage drain; "
        f"{replay.in_event_order(app, mentions)} taken one mention at a time in event order)"
    )
    serial = len(mentions) / sum(r.seconds for r in rates)
    print(
        f"  one after another: {serial:,.0f} mentions/s (each stage draining a backlog of its"
        " own; in one thread at a time, as Python runs them)"
    )
    best = 0.0
    # in memory (the demo's bus), then in a SQLite file (`stormwatch run`'s default)
    for run_app, file_bus in (
        (app, False),
        (parallel_app, False),
        (app, True),
        (parallel_app, True),
    ):
        processes = run_app.settings.enrich.processes
        fresh = reset_peak()
        e2e = replay.end_to_end(run_app, folder, mentions, file_bus)
        best = max(best, e2e.rate.rate)
        where = "a SQLite file" if file_bus else "memory"
        print(
            f"  end to end, all stages in threads, enrich.processes {processes}, bus in {where}: "
            f"{e2e.rate.records:,} mentions in {e2e.rate.seconds:.2f}s = {e2e.rate.rate:,.0f}"
            f" mentions/s   bar >= {EMBEDDED_BAR:,}/s: {verdict(e2e.rate.rate >= EMBEDDED_BAR)}"
        )
        print(f"    {e2e.alerts} alerts fired and paged")
        children = "".join(f" + match process {mib(kb)}" for kb in e2e.children_kb)
        print(f"    peak RSS: the process {peak_rss(fresh)}{children}")
    if best < EMBEDDED_BAR or args.profile:
        from bench._pipeline_profile import profile

        sample = mentions[: min(len(mentions), 5000)]
        print(f"  where the time goes (cProfile, first {len(sample):,} mentions, per record):")
        for line in profile(app, folder, sample, top_n=8 if args.profile else 0):
            print(line)

    from bench._pipeline_ingest import measure as ingest_measure

    ing = ingest_measure(args.feed_items)
    print(
        f"  ingest: one RSS feed of {ing.items:,} items ({ing.megabytes:.1f} MB) from 127.0.0.1:"
        f" poll+parse+normalise+dedup+produce {ing.produced / ing.poll_seconds:,.0f} items/s;"
        f" feedparser+normalise alone {ing.items / ing.parse_seconds:,.0f} items/s"
    )


def embedded_latency(
    app: App, folder: Path, receiver: SlackReceiver, args: argparse.Namespace
) -> None:
    probes = probe_brands(args.probes + 1)
    print(
        f"\n== alert latency, embedded (all stages in one process, SQLite store, "
        f"Slack stand-in over HTTP): {args.probes} probes, one every {args.probe_interval}s"
    )
    bus = EmbeddedBus(default_partitions=app.settings.bus.embedded.partitions)
    runtime = Runtime(app, SystemClock(), bus=bus, store=SqliteStore(folder / "live.db"))
    runtime.prepare(LIVE_STAGES)
    stop = threading.Event()
    fresh = reset_peak()
    threads = run_workers([w for s in LIVE_STAGES for w in runtime.workers(s)], stop)
    try:
        result = measure(
            bus,
            receiver,
            probes[1:],
            warmup=probes[0],
            background_rate=args.background,
            probe_interval=args.probe_interval,
        )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        runtime.close()
    print_latency(result, f"peak RSS of the process during the run: {peak_rss(fresh)}")


# -- Kafka -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EnrichRun:
    """One raw -> enriched run on Kafka: where it went and what it measured."""

    target: Target
    settings: Path
    progress: kafka_run.Progress
    peaks: dict[str, int | None]
    preload_rate: float


def kafka_enrich(
    mentions: Sequence[Mention],
    folder: Path,
    receiver: SlackReceiver,
    probes: list[tuple[str, str]],
    args: argparse.Namespace,
    *,
    target: Target,
    procs: int,
    model: str | None = None,
) -> EnrichRun:
    """Pre-load ``mentions`` on mentions.raw, start ``procs`` enrich processes and wait
    until both enrich steps have committed everything. On failure the run's topics are
    removed; on success the caller removes them (or indexes them first)."""
    run_dir = folder / target.prefix
    settings = write_config(run_dir, target, receiver.url, probes, model)
    stages = kafka_run.Stages(settings, run_dir / "logs")
    offsets: kafka_run.Offsets | None = None
    try:
        produce = kafka_run.preload(target, mentions)
        offsets = kafka_run.Offsets(target)
        for _ in range(procs):
            stages.start("enrich")
        progress = kafka_run.watch(
            functools.partial(offsets.end, topics.ENRICHED),
            kafka_run.enrich_done(offsets, len(mentions)),
            stages.alive,
            timeout=args.timeout,
        )
        peaks = stages.peak_kb()
    except BaseException:
        print(stages.tail(), file=sys.stderr)
        stages.stop()
        kafka_run.cleanup(target)
        raise
    finally:
        if offsets is not None:
            offsets.close()
    stages.stop()
    return EnrichRun(target, settings, progress, peaks, produce)


def print_enrich(label: str, run: EnrichRun, posts: int, bar: int) -> None:
    progress = run.progress
    overall = posts / progress.seconds
    per_record = progress.sustained()
    if per_record is None:  # too short for a steady state: judge the rate with start-up
        rate, judged = "sustained n/a (too few steps)", overall
    else:
        judged = per_record * posts / max(progress.total, 1)
        rate = f"sustained {judged:,.0f} posts/s"
    print(
        f"  raw -> enriched, {label}: {posts:,} posts ({progress.total:,} enriched records) in "
        f"{progress.seconds:.1f}s incl. start-up = {overall:,.0f} posts/s; "
        f"{rate}   bar >= {bar:,}/s: {verdict(judged >= bar)}"
    )
    print(
        f"    (pre-load {run.preload_rate:,.0f} records/s; peak RSS "
        + ", ".join(f"{n} {mib(kb)}" for n, kb in run.peaks.items())
        + ")"
    )


def kafka(
    mentions: Sequence[Mention], folder: Path, receiver: SlackReceiver, args: argparse.Namespace
) -> None:
    probes = probe_brands(args.probes + 1)
    print(
        f"\n== Kafka {args.kafka} + Elasticsearch {args.es or '(none: index skipped)'}: "
        f"stages as `stormwatch run STAGE` processes, {args.partitions} partitions, "
        "lexicon sentiment unless said"
    )
    index_run: EnrichRun | None = None
    for procs, children in itertools.product(args.enrich_procs, args.match_processes):
        target = dataclasses.replace(
            kafka_run.new_target(args.kafka, args.es, args.partitions), enrich_processes=children
        )
        run = kafka_enrich(mentions, folder, receiver, probes, args, target=target, procs=procs)
        label = f"{procs} enrich process(es) with enrich.processes {children}"
        print_enrich(label, run, len(mentions), KAFKA_ENRICH_BAR)
        if index_run is None and args.es:
            index_run = run
        else:
            kafka_run.cleanup(target)
    if args.model_path:
        sample = mentions[: KAFKA_TRANSFORMER_RUNS * args.transformer_mentions]
        target = dataclasses.replace(
            kafka_run.new_target(args.kafka, args.es, args.partitions), quantize=True
        )
        run = kafka_enrich(
            sample, folder, receiver, probes, args, target=target, procs=1, model=args.model_path
        )
        kafka_run.cleanup(target)
        label = "1 enrich process, transformer sentiment (enrich.quantize: true)"
        print_enrich(label, run, len(sample), TRANSFORMER_BAR)
    if index_run is not None:
        kafka_index(index_run.target, index_run.settings, folder, args)
    kafka_latency(folder, receiver, probes, args)


def kafka_index(target: Target, settings: Path, folder: Path, args: argparse.Namespace) -> None:
    """Index the enriched records an enrich run left on the bus, until the index stage has
    committed all of them."""
    stages = kafka_run.Stages(settings, folder / target.prefix / "logs")
    offsets = kafka_run.Offsets(target)
    try:
        records = offsets.end(topics.ENRICHED)
        stages.start("index")
        # progress: what the index stage has committed, which it does only once
        # Elasticsearch has taken the batch (finer-grained than searchable documents,
        # which appear at each refresh, once a second)
        progress = kafka_run.watch(
            functools.partial(offsets.committed, f"{kafka_run.GROUP}.index", topics.ENRICHED),
            lambda c: c >= records,
            stages.alive,
            args.timeout,
        )
        peaks = stages.peak_kb()
        documents = kafka_run.es_documents(target)
    except Exception:
        print(stages.tail(), file=sys.stderr)
        raise
    finally:
        offsets.close()
        stages.stop()
        kafka_run.cleanup(target)
    print(
        f"  mentions.enriched -> Elasticsearch, 1 index process: {records:,} records in "
        f"{progress.seconds:.1f}s incl. start-up; sustained {rate_text(progress.sustained())}"
        f" records/s; {documents:,} documents (duplicates are stored once; peak RSS "
        f"{mib(peaks.get('index#1'))})"
    )


def kafka_latency(
    folder: Path, receiver: SlackReceiver, probes: list[tuple[str, str]], args: argparse.Namespace
) -> None:
    target = kafka_run.new_target(args.kafka, args.es, args.partitions)
    settings = write_config(folder / target.prefix, target, receiver.url, probes)
    with kafka_run.bus(target) as bus:
        bus.ensure_topics(topics.specs(target.partitions))
        stages = kafka_run.Stages(settings, folder / target.prefix / "logs")
        print(
            f"\n== alert latency, Kafka ({', '.join(LIVE_STAGES)} as processes"
            f"{'' if args.es else '; no index: no --es'}): {args.probes} probes, "
            f"one every {args.probe_interval}s"
        )
        try:
            for stage in LIVE_STAGES:
                if stage != "index" or args.es:
                    stages.start(stage)
            result = measure(
                bus,
                receiver,
                probes[1:],
                warmup=probes[0],
                background_rate=args.background,
                probe_interval=args.probe_interval,
                alive=stages.alive,
            )
            peaks = stages.peak_kb()
        except Exception:
            print(stages.tail(), file=sys.stderr)
            raise
        finally:
            stages.stop()
            kafka_run.cleanup(target)
    print_latency(
        result,
        "peak RSS per stage process: " + ", ".join(f"{n} {mib(kb)}" for n, kb in peaks.items()),
    )


# -- transformer -----------------------------------------------------------------------
def text_lengths(model: str, texts: Sequence[str]) -> str:
    """Mean words and model tokens per text: what a transformer's speed depends on."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    tokens = sum(len(ids) for ids in tokenizer(list(texts))["input_ids"])
    words = sum(len(t.split()) for t in texts)
    n = max(len(texts), 1)
    return f"{words / n:.1f} words, {tokens / n:.1f} tokens each on average"


def transformer(
    folder: Path, receiver: SlackReceiver, mentions: Sequence[Mention], args: argparse.Namespace
) -> None:
    print("\n== transformer sentiment (enrich match step, embedded)")
    if not args.model_path:
        print(
            "  not measured: no --model DIR (a local sequence-classification model) and no "
            "--standin-model; nothing is ever downloaded"
        )
        return
    from enrich.sentiment import TransformerScorer, load_scorer

    print(
        f"  model {args.model_path}"
        + (" (stand-in: random weights, XLM-R base shape; speed only)" * args.standin_model)
    )
    sample = list(mentions[: args.transformer_mentions])
    print(f"  {len(sample):,} posts of {text_lengths(args.model_path, [m.text for m in sample])}")
    for quantize in (False, True):
        before = status_kb("self", "VmRSS")
        fresh = reset_peak()
        app = load_app(
            write_config(
                folder / f"model-{quantize}",
                Target(quantize=quantize),
                receiver.url,
                [],
                args.model_path,
            )
        )
        if not isinstance(load_scorer(app.settings.enrich), TransformerScorer):
            print(f"  not measured: {args.model_path} does not load (see the warning above)")
            return
        match = replay.match_only(app, folder, sample)
        print(
            f"  enrich.quantize {str(quantize).lower():<5}: {len(sample):,} posts through the match"
            f" step in {match.seconds:.1f}s = {match.rate:,.0f} posts/s   bar >= "
            f"{TRANSFORMER_BAR}/s on CPU: {verdict(match.rate >= TRANSFORMER_BAR)}"
        )
        print(
            f"    peak RSS of the bench process while it loaded the model and ran: "
            f"{peak_rss(fresh)} (it held {mib(before)} before)"
        )
    texts = [m.text for m in sample]
    for label, kwargs in (
        ("scorer alone", {}),
        ("scorer alone, int8 dynamic quantisation", {"quantize": True}),
    ):
        scorer = TransformerScorer(args.model_path, **kwargs)  # type: ignore[arg-type]
        scorer.score(texts[:32])
        t0 = time.perf_counter()
        scorer.score(texts)
        print(f"  {label:<40} {len(texts) / (time.perf_counter() - t0):8,.0f} texts/s")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_server_options(ap)
    ap.add_argument(
        "--mentions", type=int, default=30_000, help="posts in the throughput stream (30000)"
    )
    ap.add_argument("--seed", type=int, default=7, help="seed of the synthetic stream (7)")
    ap.add_argument("--model", help="local sentiment model directory for the transformer run")
    ap.add_argument(
        "--standin-model",
        action="store_true",
        help="build a random-weight XLM-R-base-shaped model (speed only)",
    )
    ap.add_argument(
        "--transformer-mentions",
        type=int,
        default=1000,
        help="posts through the match step with the transformer (1000; three times as many"
        " through the Kafka enrich process, whose polls of 500 need that many for a sustained"
        " rate)",
    )
    ap.add_argument(
        "--only", choices=("embedded", "kafka", "transformer"), help="run one part only"
    )
    ap.add_argument("--probes", type=int, default=120, help="alerts measured per latency run")
    ap.add_argument("--probe-interval", type=float, default=0.2, help="seconds between probes")
    ap.add_argument(
        "--background", type=float, default=300, help="calm mentions/s during latency runs"
    )
    ap.add_argument(
        "--feed-items", type=int, default=10_000, help="items of the RSS ingest feed (10000)"
    )
    ap.add_argument("--partitions", type=int, default=6, help="partitions of the Kafka topics")
    ap.add_argument("--enrich-procs", type=ints, default=[1, 2], help="enrich processes, e.g. 1,2")
    ap.add_argument(
        "--match-processes",
        type=ints,
        default=[0, 1],
        help="enrich.processes of each Kafka enrich process, e.g. 0,1",
    )
    ap.add_argument("--timeout", type=float, default=600, help="longest wait for one Kafka run")
    ap.add_argument("--profile", action="store_true", help="always print the per-stage profile")
    args = ap.parse_args()

    print(f"machine: {machine()}")
    t_start = time.monotonic()
    mentions = synthetic_stream(args.mentions, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        folder = Path(tmp)
        args.model_path = args.model
        if args.standin_model and not args.model:
            from bench._pipeline_model import build_standin

            args.model_path = str(
                build_standin(folder / "standin", [m.text for m in mentions[:5000]])
            )
        receiver = SlackReceiver(pid for pid, _ in probe_brands(args.probes + 1))
        try:
            if args.only in (None, "embedded"):
                app, parallel_app = (
                    load_app(
                        write_config(
                            folder / f"embedded-{processes}",
                            Target(partitions=4, enrich_processes=processes),
                            receiver.url,
                            probe_brands(args.probes + 1),
                        )
                    )
                    for processes in (0, 1)
                )
                embedded(app, parallel_app, folder, mentions, args)
                embedded_latency(app, folder, receiver, args)
            if args.only in (None, "kafka"):
                if not args.kafka:
                    print("\n== Kafka: skipped: no --kafka / STORMWATCH_TEST_KAFKA")
                else:
                    kafka(mentions, folder, receiver, args)
            if args.only in (None, "transformer"):
                transformer(folder, receiver, mentions, args)
        finally:
            receiver.stop()
    print(f"\n(total run time {time.monotonic() - t_start:.0f}s)")


if __name__ == "__main__":
    main()
