"""``negative_share``: the share of negative mentions of the brand within ``window`` reaches
``threshold``, over at least ``min_volume`` mentions."""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from core.records import EnrichedMention, Sentiment
from rules.types.base import (
    MAX_SAMPLES,
    Check,
    MentionWindow,
    PositiveDuration,
    Reading,
    Rule,
    RuleState,
    format_duration,
    sample,
)


class NegativeShareRule(Rule):
    """Fires when at least ``threshold`` of the brand's mentions within ``window`` are
    negative and there are at least ``min_volume`` of them in all."""

    type: Literal["negative_share"]
    window: PositiveDuration = timedelta(hours=1)
    """The sliding event-time window the share is computed over."""
    threshold: float = Field(default=0.5, gt=0, le=1)
    """Share of negative mentions, in (0, 1]: 0.4 is 40 %."""
    min_volume: int = Field(default=10, ge=1)
    """Mentions within the window at least, so two angry posts out of three are no crisis."""

    def met(self, negative: int, count: int) -> bool:
        return count >= self.min_volume and negative / count >= self.threshold

    def new_state(self, brand: str, max_mentions: int) -> RuleState:
        return NegativeShareState(self, brand, max_mentions)


class NegativeShareState(RuleState):
    """Two windows, all mentions and the negative ones, so a check is two binary searches.

    As mentions leave the window the share moves both ways: it can only fall when a
    negative mention leaves (or the volume drops below the minimum), and only rise when
    another one leaves; the check names those instants for the lifecycle to look again."""

    def __init__(self, rule: NegativeShareRule, brand: str, max_mentions: int) -> None:
        self._rule = rule
        self._brand = brand
        self._all = MentionWindow(rule.window, max_mentions)
        self._negative = MentionWindow(rule.window, max_mentions)

    def observe(self, mention: EnrichedMention, at: datetime, now: datetime) -> None:
        if self._all.add(mention, at, now) and mention.sentiment is Sentiment.NEGATIVE:
            self._negative.add(mention, at, now)
        # past the cap the oldest mentions leave _all: their negatives must leave too, or
        # the share would count them against fewer mentions
        self._negative.trim_to(self._all)

    def check(self, now: datetime) -> Check:
        rule = self._rule
        count, negative = self._all.count(now), self._negative.count(now)
        if not rule.met(negative, count):
            return Check(False)
        oldest = self._negative.oldest(now)
        volume = self._all.count_check(now, rule.min_volume)
        assert oldest is not None and volume.false_from is not None  # met: both exist
        return Check(True, recheck_at=min(oldest.at + rule.window, volume.false_from))

    def rises_at(self, now: datetime) -> datetime | None:
        lo, hi = self._all.bounds(now)
        if hi - lo - 1 < self._rule.min_volume:
            return None  # too few left once one more leaves: only a mention can help
        for entry in self._all.iter_entries(now):
            if entry.mention.sentiment is not Sentiment.NEGATIVE:
                return entry.at + self._rule.window
        return None

    def read(self, now: datetime) -> Reading:
        rule = self._rule
        count = self._all.count(now)
        negatives = self._negative.entries(now)
        share = len(negatives) / count if count else 0.0
        # the most negative first, the most recent among equals (nsmallest is stable)
        worst = heapq.nsmallest(
            MAX_SAMPLES, reversed(negatives), key=lambda e: e.mention.sentiment_score
        )
        return Reading(
            summary=(
                f"{self._brand}: {share:.0%} negative ({len(negatives)} of {count} mentions "
                f"in {format_duration(rule.window)}; threshold {rule.threshold:.0%}, "
                f"min {rule.min_volume})"
            ),
            figures={
                "count": count,
                "negative": len(negatives),
                "share": round(share, 4),
                "threshold": rule.threshold,
                "min_volume": rule.min_volume,
                "window_seconds": rule.window.total_seconds(),
            },
            samples=tuple(sample(e.mention) for e in worst),
        )

    def prune(self, now: datetime) -> None:
        self._all.prune(now)
        self._negative.prune(now)

    @property
    def empty(self) -> bool:
        return len(self._all) == 0
