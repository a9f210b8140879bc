"""The enrich stage's two handlers for `core.stage.StageLoop`, and a bus-free replay.

Wiring (the shell)::

    StageLoop("enrich-match", bus, "enrich-match", [topics.RAW],
              match_handler(watchlist, settings.enrich, None, clock))
    StageLoop("enrich-velocity", bus, "enrich-velocity", [topics.MATCHED],
              velocity_handler(settings.enrich, clock))

* match step: ``mentions.raw`` (`Mention`, keyed by mention id) -> ``mentions.matched``,
  one `EnrichedMention` (velocity None) per matched brand, keyed by brand id. A record
  that is not a valid `Mention` is rejected (dead-letter topic) with the reason; a mention
  matching no brand is dropped and counted.
* velocity step: ``mentions.matched`` -> ``mentions.enriched``, the same record with
  `Velocity` set, keyed by brand id. Its state (recent buckets and ids per brand) lives
  in memory: after a restart or a rebalance each brand warms up again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from core import topics
from core.bus.port import Message
from core.clock import Clock
from core.records import EnrichedMention, InvalidRecord, Mention, Sentiment, decode, encode
from core.stage import Out, Reject
from core.watchlist import Watchlist
from enrich.enricher import Enricher
from enrich.sentiment import SentimentScorer, load_scorer
from enrich.settings import EnrichSettings
from enrich.velocity import VelocityTracker


class MatchStep:
    """The match step as a `core.stage.Handler`; counters for the shell's metrics."""

    def __init__(self, enricher: Enricher, clock: Clock) -> None:
        self.enricher = enricher
        self._clock = clock
        self.rejected = 0

    @property
    def matched(self) -> int:
        return self.enricher.matched

    @property
    def unmatched(self) -> int:
        return self.enricher.unmatched

    def close(self) -> None:
        close = getattr(self.enricher.analyser, "close", None)
        if close is not None:
            close()

    def __call__(self, messages: Sequence[Message]) -> list[Out | Reject]:
        out: list[Out | Reject] = []
        mentions: list[Mention] = []
        for message in messages:
            try:
                mentions.append(decode(message.value, Mention))
            except InvalidRecord as exc:
                out.append(Reject(message, str(exc)))
                self.rejected += 1
        for record in self.enricher.enrich(mentions, self._clock.now()):
            out.append(Out(topics.MATCHED, encode(record), record.brand.encode("utf-8")))
        return out


def match_handler(
    watchlist: Watchlist,
    settings: EnrichSettings,
    scorer: SentimentScorer | None,
    clock: Clock,
) -> MatchStep:
    """The handler for ``mentions.raw`` (builds the matcher and language model once; in
    ``settings.processes`` child processes when set, else here with ``scorer``, None:
    `load_scorer`). `MatchStep.close` stops the children."""
    if settings.processes:
        from enrich.processes import ProcessAnalyser

        analyser = ProcessAnalyser(watchlist, settings, settings.processes)
        return MatchStep(Enricher(watchlist, settings, analyser=analyser), clock)
    return MatchStep(Enricher(watchlist, settings, scorer or load_scorer(settings)), clock)


class VelocityStep:
    """The velocity step as a `core.stage.Handler`."""

    def __init__(self, settings: EnrichSettings, clock: Clock) -> None:
        self.tracker = VelocityTracker(settings.velocity)
        self._clock = clock
        self.rejected = 0

    def apply(self, record: EnrichedMention) -> EnrichedMention:
        return with_velocity(self.tracker, record, self._clock.now())

    def __call__(self, messages: Sequence[Message]) -> list[Out | Reject]:
        out: list[Out | Reject] = []
        for message in messages:
            try:
                record = decode(message.value, EnrichedMention)
            except InvalidRecord as exc:
                out.append(Reject(message, str(exc)))
                self.rejected += 1
                continue
            enriched = self.apply(record)
            out.append(Out(topics.ENRICHED, encode(enriched), enriched.brand.encode("utf-8")))
        return out


def velocity_handler(settings: EnrichSettings, clock: Clock) -> VelocityStep:
    """The handler for ``mentions.matched``."""
    return VelocityStep(settings, clock)


def with_velocity(
    tracker: VelocityTracker, record: EnrichedMention, wall: datetime | None
) -> EnrichedMention:
    """``record`` with its brand's velocity after counting it (``wall``: the clock's now,
    None in a replay driven by event time alone)."""
    velocity = tracker.observe(
        record.brand,
        record.mention.id,
        record.mention.published_at,
        record.sentiment is Sentiment.NEGATIVE,
        wall,
    )
    return record.model_copy(update={"velocity": velocity})


def enrich_mentions(
    mentions: Iterable[Mention],
    watchlist: Watchlist,
    settings: EnrichSettings,
    scorer: SentimentScorer | None = None,
    clock: Clock | None = None,
) -> list[EnrichedMention]:
    """Both steps on a list of mentions, without a bus (``rules test --replay``, benches).

    Mentions are processed in event-time order (``published_at``, stable), so each
    record's velocity counts only the mentions published before it. ``scorer`` None:
    `load_scorer(settings)`. ``clock`` None: time is event time only (deterministic);
    ``enriched_at`` is then each mention's ``published_at``.
    """
    ordered = sorted(mentions, key=lambda m: m.published_at)
    enricher = Enricher(watchlist, settings, scorer or load_scorer(settings))
    tracker = VelocityTracker(settings.velocity)
    wall = clock.now() if clock is not None else None
    return [with_velocity(tracker, r, wall) for r in enricher.enrich(ordered, wall)]
