"""The pure helpers of bench/pipeline.py: the synthetic stream, percentiles, /proc parsing,
the receiver's brand spotting, event-time pacing and the progress arithmetic."""

from __future__ import annotations

import json
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._pipeline_config import Target, write_config  # noqa: E402
from bench._pipeline_kafka import Offsets, Progress, watch  # noqa: E402
from bench._pipeline_measure import SlackReceiver, parse_status_kb, percentile  # noqa: E402
from bench._pipeline_replay import STAGE_ORDER, PacedClock, event_time  # noqa: E402
from bench._pipeline_stream import (  # noqa: E402
    CRISIS_WORDS,
    START,
    WATCHED,
    Burst,
    chatter,
    probe_brands,
    probe_mention,
    synthetic_stream,
)
from bench.pipeline import latency_verdict  # noqa: E402
from core.bus.port import Message  # noqa: E402
from core.records import encode  # noqa: E402
from stormwatch.config import load_app  # noqa: E402


def has_crisis_word(text: str) -> bool:
    low = text.lower()
    return any(w.lower() in low for w in CRISIS_WORDS) or "boykott" in low


def test_stream_is_deterministic_ordered_and_distinct() -> None:
    a = synthetic_stream(3000, seed=3)
    b = synthetic_stream(3000, seed=3)
    c = synthetic_stream(3000, seed=4)
    assert [m.id for m in a] == [m.id for m in b]
    assert [m.text for m in a] == [m.text for m in b]
    assert [m.text for m in a] != [m.text for m in c]
    assert len({m.id for m in a}) == 3000
    times = [m.published_at for m in a]
    assert times == sorted(times) and times[0] >= START


def test_posts_are_as_long_as_tweets() -> None:
    words = [len(m.text.split()) for m in synthetic_stream(3000, seed=3)]
    assert 17 <= sum(words) / len(words) <= 23  # TweetEval's English tweets: 19.4
    assert min(words) < 10 and max(words) > 30  # and they vary, as posts do


def test_standin_tokenizer_splits_words_as_a_multilingual_one_does(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from bench._pipeline_model import build_standin

    texts = [m.text for m in synthetic_stream(3000, seed=3)]
    tokenizer = AutoTokenizer.from_pretrained(str(build_standin(tmp_path / "m", texts)))
    held_out = [m.text for m in synthetic_stream(500, seed=4)]
    tokens = sum(len(ids) - 2 for ids in tokenizer(held_out)["input_ids"])  # no <s>, </s>
    assert 1.3 <= tokens / sum(len(t.split()) for t in held_out) <= 1.8


def test_bursts_raise_the_rate_and_are_mostly_angry() -> None:
    burst = Burst("hooli", start=600, duration=600, rate=4.0, negative=1.0)
    stream = synthetic_stream(6000, seed=1, rate=2.0, bursts=[burst])
    inside = [m for m in stream if burst.active((m.published_at - START).total_seconds())]
    before = [m for m in stream if (m.published_at - START).total_seconds() < 600]
    # about 6/s inside the burst against 2/s before it
    assert len(inside) / 600 > 2 * len(before) / 600
    angry_inside = sum(has_crisis_word(m.text) or "hooli" in m.text.lower() for m in inside)
    assert angry_inside > len(inside) / 2
    calm = [m for m in stream if not burst.active((m.published_at - START).total_seconds())]
    assert not any(has_crisis_word(m.text) for m in calm)


def test_stream_speaks_english_and_german_about_every_brand() -> None:
    texts = [m.text for m in synthetic_stream(4000, seed=2)]
    for brand in WATCHED:
        assert any(brand.name in t for t in texts), brand.id
    assert any(" das " in t or " der " in t.lower() for t in texts)
    assert any(" the " in t for t in texts)


def test_probes_and_chatter() -> None:
    probes = probe_brands(150)
    assert len({p for p, _ in probes}) == 150
    assert probes == probe_brands(150)
    assert all(name.lower() == pid for pid, name in probes)
    assert not {p for p, _ in probes} & {b.id for b in WATCHED}
    when = datetime(2026, 3, 1, tzinfo=UTC)
    assert "boycott" in probe_mention("Bakodix", 1, when).text
    rng = random.Random(0)
    assert not any(has_crisis_word(chatter(rng, i, when).text) for i in range(500))


def test_written_config_loads_and_names_the_receiver(tmp_path: Path) -> None:
    probes = probe_brands(5)
    settings = write_config(tmp_path, Target(), "http://127.0.0.1:9/x", probes)
    app = load_app(settings)
    assert {b.id for b in app.watchlist.brands} >= {p for p, _ in probes} | {"acme", "contoso"}
    assert {r.name for r in app.rules.rules} >= {"bench-crisis-words", "bench-volume"}
    assert app.settings.bus.adapter == "embedded"
    kafka = write_config(
        tmp_path / "k", Target(kafka="h:1", es="http://e:2", prefix="p"), "http://x/y", probes
    )
    loaded = load_app(kafka).settings
    assert loaded.bus.kafka.topic_prefix == "p." and loaded.store.elasticsearch.index_prefix == "p"


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert percentile(list(map(float, range(101))), 99) == pytest.approx(99.0)
    assert math.isnan(percentile([], 50))


def test_parse_status_kb() -> None:
    text = "Name:\tpython\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  1000 kB\n"
    assert parse_status_kb(text, "VmHWM") == 123456
    assert parse_status_kb(text, "VmRSS") == 1000
    assert parse_status_kb(text, "VmSwap") is None


def test_receiver_spots_brand_ids_in_a_slack_payload() -> None:
    payload = {"blocks": [{"text": {"text": ":rotating_light: Critical: bakodix — boycott"}}]}
    words = SlackReceiver.words(json.dumps(payload).encode())
    assert "bakodix" in words and "boycott" in words
    assert "bakodi" not in words


def test_paced_clock_follows_the_newest_record_of_each_partition() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    stream = synthetic_stream(10, seed=1, start=t0)
    msgs = [Message("mentions.raw", i % 2, i, None, encode(m)) for i, m in enumerate(stream)]
    assert event_time(msgs[3].value) == stream[3].published_at
    assert event_time(b'{"kind":"alert"}') is None
    clock = PacedClock(t0)
    clock.see(msgs[:4])
    assert clock.now() == stream[3].published_at
    clock.see(msgs[:2])  # never backwards
    assert clock.now() == stream[3].published_at
    clock.see(msgs)
    assert clock.now() == stream[-1].published_at
    assert clock.now() - t0 < timedelta(hours=1)


def test_progress_sustained_rate_leaves_out_the_start_up() -> None:
    p = Progress([(0.0, 0), (5.0, 0), (6.0, 100), (7.0, 200), (7.5, 200), (8.0, 300), (9.0, 500)])
    assert p.total == 500 and p.seconds == 9.0
    assert p.sustained() == pytest.approx(400 / 3)


def test_progress_has_no_sustained_rate_without_a_steady_state() -> None:
    assert Progress([(0.0, 0), (1.0, 0)]).sustained() is None
    # output in two large batches: one step after the first output is no steady state
    assert Progress([(0.0, 0), (0.25, 0), (0.5, 500), (1.5, 500), (2.0, 1000)]).sustained() is None


def test_watch_reads_the_count_again_once_done() -> None:
    counts = iter([0, 400, 500])  # the last batch landed while `done` was looking
    progress = watch(lambda: next(counts), lambda c: c >= 400, lambda: True, 5.0, every=0.0)
    assert progress.total == 500 and len(progress.samples) == 3


def test_latency_verdict_is_on_the_printed_p99_and_counts_lost_alerts() -> None:
    fast = [0.5] * 118
    assert latency_verdict([*fast, 2.0, 2.0], 120).startswith("MISSED")  # p99 = 2.0 s
    assert latency_verdict([0.5] * 120, 120) == "met"
    lost = latency_verdict([0.5] * 119, 120)
    assert lost.startswith("MISSED") and "1 of 120" in lost
    assert latency_verdict([], 0).startswith("MISSED")


def test_end_to_end_finishes_on_what_the_stages_produced_not_on_a_count_given() -> None:
    from bench._pipeline_replay import Finish
    from core import topics
    from core.bus.embedded import EmbeddedBus

    class Loop:
        def __init__(self) -> None:
            self.processed = self.rejected = 0

    bus = EmbeddedBus(default_partitions=2)
    loops = {name: Loop() for name in STAGE_ORDER}
    finished = Finish(bus, loops, raw=3)
    with bus.producer() as producer:
        for topic, n in ((topics.MATCHED, 4), (topics.ALERTS, 2)):
            for i in range(n):
                producer.send(topic, b"{}", str(i).encode())
        producer.flush()
    assert not finished()
    loops["enrich-match"].processed = 3
    loops["enrich-velocity"].processed, loops["enrich-velocity"].rejected = 4, 1
    loops["rules"].processed = 3  # one record was dead-lettered before it
    loops["alerting"].processed = 2
    loops["index"].processed = 4
    assert not finished()  # 3 enriched + 2 alerts to index
    loops["index"].processed = 5
    assert finished() and finished.alerts == 2


def test_committed_offsets_read_as_none_yet_while_the_coordinator_is_starting() -> None:
    from kafka import TopicPartition
    from kafka.errors import CoordinatorNotAvailableError, GroupAuthorizationFailedError
    from kafka.structs import OffsetAndMetadata

    class Admin:
        def __init__(self) -> None:
            self.answers: list[object] = [CoordinatorNotAvailableError("loading")]

        def list_group_offsets(self, groups: dict[str, None]) -> dict[str, object]:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return {next(iter(groups)): answer}

    offsets = object.__new__(Offsets)  # no broker: only the admin answers matter here
    admin = Admin()
    offsets._admin = admin  # type: ignore[assignment]
    offsets._prefix = "t."
    assert offsets.committed("g", "mentions.raw") == 0  # not ready: nothing committed yet
    meta = OffsetAndMetadata(5, "", -1)
    admin.answers.append({TopicPartition("t.mentions.raw", 0): meta, TopicPartition("x", 0): meta})
    assert offsets.committed("g", "mentions.raw") == 5
    admin.answers.append(GroupAuthorizationFailedError("not retriable"))
    with pytest.raises(GroupAuthorizationFailedError):
        offsets.committed("g", "mentions.raw")


def test_with_one_partition_all_stages_at_once_fire_what_event_order_fires(
    tmp_path: Path,
) -> None:
    """One partition per topic hands every stage the stream in event order, so the
    threaded replay must fire exactly the alerts of the reference count."""
    from bench._pipeline_replay import end_to_end, in_event_order

    app = load_app(write_config(tmp_path / "cfg", Target(partitions=1), "http://127.0.0.1:9/", []))
    mentions = synthetic_stream(4000, seed=3)
    reference = in_event_order(app, mentions)
    assert reference >= 2, "the stream's bursts fire something"
    assert end_to_end(app, tmp_path, mentions).alerts == reference
