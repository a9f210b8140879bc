"""The two handlers end to end on an EmbeddedBus: raw -> matched -> enriched, poison -> DLQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from core import topics
from core.bus import Message
from core.bus.deadletter import REASON, STAGE
from core.bus.embedded import EmbeddedBus
from core.clock import ManualClock
from core.records import Engagement, EnrichedMention, Mention, Sentiment, decode, encode
from core.stage import StageLoop
from core.watchlist import Watchlist
from enrich.enricher import reach
from enrich.sentiment import LexiconScorer
from enrich.settings import EnrichSettings, ReachSettings
from enrich.stage import enrich_mentions, match_handler, velocity_handler

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the mention factory's default time
MentionFactory = Callable[..., Mention]


def drain(bus: EmbeddedBus, topic: str) -> list[Message]:
    with bus.consumer(f"reader-{topic}", [topic]) as consumer:
        out: list[Message] = []
        while batch := consumer.poll(0.05):
            out.extend(batch)
        return out


def run(loop: StageLoop) -> None:
    while loop.run_once(0.05):
        pass


def test_raw_to_matched_to_enriched_with_poison_to_the_dlq(
    watchlist: Watchlist, lexicon: LexiconScorer, make_mention: MentionFactory
) -> None:
    bus = EmbeddedBus(default_partitions=2)
    bus.ensure_topics(topics.specs(2))
    clock = ManualClock(T0 + timedelta(minutes=2))
    settings = EnrichSettings()
    both = make_mention(
        "Der Kundenservice von Acme ist eine Katastrophe, Globex ist viel besser!",
        engagement=Engagement(likes=10, shares=2, author_followers=100),
    )
    acme = make_mention(
        "I love the new Acme app, great work", published_at=T0 + timedelta(minutes=1)
    )
    nobody = make_mention("Nothing to see here, just the weather report for today.")
    invalid = json.loads(encode(make_mention("x")))
    invalid["published_at"] = "yesterday"
    with bus.producer() as producer:
        for m in (both, acme, nobody):
            producer.send(topics.RAW, encode(m), m.id.encode())
        producer.send(topics.RAW, b"\xff not json", b"k1")
        producer.send(topics.RAW, json.dumps(invalid).encode(), b"k2")
        producer.send(topics.RAW, encode(acme), acme.id.encode())  # at-least-once: again
        producer.flush()

    step = match_handler(watchlist, settings, lexicon, clock)
    match_loop = StageLoop("enrich-match", bus, "enrich-match", [topics.RAW], step)
    run(match_loop)
    matched = drain(bus, topics.MATCHED)
    records = [decode(m.value, EnrichedMention) for m in matched]
    assert sorted((r.mention.id, r.brand) for r in records) == sorted(
        [(both.id, "acme"), (both.id, "globex"), (acme.id, "acme"), (acme.id, "acme")]
    )
    assert all(m.key == decode(m.value, EnrichedMention).brand.encode() for m in matched)
    assert all(r.velocity is None and r.enriched_at == clock.now() for r in records)
    first = next(r for r in records if r.mention.id == both.id and r.brand == "acme")
    assert first.language == "de" and first.matched == ("Acme",)
    assert first.entities == ("Acme", "Globex")
    assert first.reach == 100 + 10 + 2 * 20
    assert step.matched == 3 and step.unmatched == 1 and step.rejected == 2

    dead = drain(bus, topics.DLQ)
    reasons = [dict(m.headers)[REASON].decode() for m in dead]
    assert len(reasons) == 2
    assert any("not JSON" in r for r in reasons) and any("published_at" in r for r in reasons)
    assert {dict(m.headers)[STAGE] for m in dead} == {b"enrich-match"}

    velocity_step = velocity_handler(settings, clock)
    velocity_loop = StageLoop(
        "enrich-velocity", bus, "enrich-velocity", [topics.MATCHED], velocity_step
    )
    bus.producer().send(topics.MATCHED, b'{"v": 1, "kind": "mention"}', b"acme")
    run(velocity_loop)
    enriched = [decode(m.value, EnrichedMention) for m in drain(bus, topics.ENRICHED)]
    assert len(enriched) == 4 and all(e.velocity is not None for e in enriched)
    last_acme = [e for e in enriched if e.brand == "acme"][-1]
    assert last_acme.velocity is not None
    assert last_acme.velocity.window_count == 2, "the duplicate is counted once"
    assert last_acme.velocity.negative_share == 0.5
    assert velocity_step.rejected == 1 and len(drain(bus, topics.DLQ)) == 3
    assert {e.id for e in enriched} == {r.id for r in records}
    match_loop.close()
    velocity_loop.close()


def test_a_batch_handled_twice_counts_each_mention_once(
    watchlist: Watchlist, lexicon: LexiconScorer, make_mention: MentionFactory
) -> None:
    clock = ManualClock(T0)
    mentions = [make_mention(f"Acme post {i}") for i in range(3)]
    batch = [Message(topics.RAW, 0, i, m.id.encode(), encode(m)) for i, m in enumerate(mentions)]
    matched = match_handler(watchlist, EnrichSettings(), lexicon, clock)(batch)
    again = [
        Message(topics.MATCHED, 0, i, out.key, out.value)  # type: ignore[union-attr]
        for i, out in enumerate(matched)
    ]
    step = velocity_handler(EnrichSettings(), clock)
    step(again)
    second = step(again)
    last = decode(second[-1].value, EnrichedMention)  # type: ignore[union-attr]
    assert last.velocity is not None and last.velocity.window_count == 3


def test_enrich_mentions_without_a_bus(
    watchlist: Watchlist, lexicon: LexiconScorer, make_mention: MentionFactory
) -> None:
    mentions = [
        make_mention(f"#boycottacme number {i}", published_at=T0 + timedelta(seconds=30 * i))
        for i in range(10)
    ]
    mentions.append(make_mention("Globex is fine", published_at=T0 - timedelta(hours=1)))
    mentions.append(make_mention("unrelated text about the weather"))
    shuffled = mentions[::-1]
    out = enrich_mentions(shuffled, watchlist, EnrichSettings(), lexicon)
    assert [e.brand for e in out] == ["globex"] + ["acme"] * 10, "event-time order"
    counts = [e.velocity.window_count for e in out[1:] if e.velocity]
    assert counts == sorted(counts) and counts[-1] == 10, "each sees only the past"
    assert all(e.enriched_at == e.mention.published_at for e in out)
    assert out[1].matched == ("#boycottacme",)
    again = enrich_mentions(mentions, watchlist, EnrichSettings(), lexicon)
    assert [e.model_dump() for e in again] == [e.model_dump() for e in out], "deterministic"
    assert enrich_mentions([], watchlist, EnrichSettings(), lexicon) == []


def test_enrich_mentions_loads_the_scorer_and_uses_the_clock(
    watchlist: Watchlist, make_mention: MentionFactory
) -> None:
    clock = ManualClock(T0 + timedelta(hours=1))
    [out] = enrich_mentions(
        [make_mention("Acme is terrible")], watchlist, EnrichSettings(), clock=clock
    )
    assert out.enriched_at == clock.now() and out.sentiment is Sentiment.NEGATIVE
    # velocity runs on event time: the reading is as of the mention's own time even when
    # it is processed an hour later (so a backfill trains the baseline like live data)
    assert out.velocity is not None and out.velocity.window_count == 1


def test_source_language_is_used_when_detection_is_undetermined(
    watchlist: Watchlist, lexicon: LexiconScorer, make_mention: MentionFactory
) -> None:
    short = make_mention("Acme!", language="de-AT")
    long = make_mention("Acme has the best support team in the world", language="de")
    media = make_mention("Acme 📷", language="qme")  # X's "media only": no language
    out = enrich_mentions([short, long, media], watchlist, EnrichSettings(), lexicon)
    assert [e.language for e in out] == ["de", "en", "und"]


@pytest.mark.parametrize(
    ("engagement", "expected"),
    [
        (Engagement(), 0.0),
        (Engagement(likes=0, shares=0), 0.0),
        (Engagement(author_followers=1000), 1000.0),
        (Engagement(likes=5, replies=2, shares=3, author_followers=10), 5 + 2 + 60 + 10),
    ],
)
def test_reach(engagement: Engagement, expected: float) -> None:
    assert reach(engagement, ReachSettings()) == expected
    assert reach(engagement, ReachSettings(followers=0, likes=0, replies=0, shares=0)) == 0
