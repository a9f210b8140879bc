"""``spike``: the brand's mention velocity jumps against its baseline.

The enrich stage puts `core.records.Velocity` on every mention (window count, EWMA
baseline, z-score, Poisson surprise, ...). This rule judges the brand by its most recent
reading (by event time): a reading is current for ``window``, so when mentions stop the
spike ends with them.

Once a reading showed a spike, the condition holds while the window keeps at least
`HOLD_SHARE` of the count it began at and stays clearly above the baseline (two Poisson
standard deviations): the detectors learn from every window, so a
surge that goes on soon stops being unusual to them, and judged by the latest reading
alone it "resolved" within 20 minutes while mentions stayed at ten times the normal,
then paged again for the same surge.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import Field, model_validator

from core.records import EnrichedMention, Velocity
from rules.types.base import (
    Check,
    MentionWindow,
    PositiveDuration,
    Reading,
    Rule,
    RuleState,
    error,
    latest_samples,
)

MINIMUMS = ("min_zscore", "min_surprise", "min_novelty")
HOLD_SHARE = 0.5
"""A spike holds while the window count stays at this share of the count it began at (and
clearly above the baseline)."""
DEFAULT_MIN_NOVELTY = 1.7
"""The minimum of a spike rule that sets none: the novelty detector's best threshold on
NAB's realTweets (docs/spikes.md). On the real mention volumes of bench/pages.py it pages
about 2.5 times a week per brand outside the labelled incidents, ``min_zscore: 3`` 20."""


class SpikeRule(Rule):
    """Fires when the latest velocity reading shows a spike: ``window_count >= min_count``
    and any (or all: ``match``) of the minimums set are reached. The minimums a rule sets
    are the ones checked; a rule that sets none checks ``min_novelty: 1.7``."""

    type: Literal["spike"]
    window: PositiveDuration = timedelta(minutes=15)
    """How long a velocity reading stays current (and the span samples are taken from)."""
    min_zscore: float | None = Field(default=None, gt=0)
    """Standard deviations above the EWMA baseline (None: not checked). Fires often on
    real, bursty volumes: see `DEFAULT_MIN_NOVELTY`."""
    min_surprise: float | None = Field(default=None, gt=0)
    """-log10 of the chance of the window count under the baseline as a Poisson mean, e.g. 6
    is one in a million (None: not checked). Real mention counts vary far more than a
    Poisson count: on real volumes it pages often (`DEFAULT_MIN_NOVELTY`)."""
    min_novelty: float | None = Field(default=None, gt=0)
    """-log10 of how unusual the window count is against the brand's own week of history
    (time of day included; the detector scored on NAB), e.g. 1.7 (None: not checked; 1.7
    when a rule sets none of min_zscore, min_surprise and min_novelty)."""
    match: Literal["any", "all"] = "any"
    """Whether any or all of the set minimums (min_zscore, min_surprise, min_novelty) must
    be reached."""
    min_count: int = Field(default=5, ge=1)
    """Mentions in the velocity window at least, so a quiet brand's 1 -> 3 is no spike."""

    @model_validator(mode="before")
    @classmethod
    def _default_minimum(cls, data: object) -> object:
        if isinstance(data, dict) and not any(k in data for k in MINIMUMS):
            return {**data, "min_novelty": DEFAULT_MIN_NOVELTY}
        return data

    @model_validator(mode="after")
    def _needs_a_minimum(self) -> Self:
        if self.min_zscore is None and self.min_surprise is None and self.min_novelty is None:
            raise error("a spike rule needs min_zscore, min_surprise or min_novelty")
        return self

    def is_spike(self, v: Velocity) -> bool:
        checks = []
        if self.min_zscore is not None:
            checks.append(v.zscore >= self.min_zscore)
        if self.min_surprise is not None:
            checks.append(v.surprise >= self.min_surprise)
        if self.min_novelty is not None:
            checks.append(v.novelty >= self.min_novelty)
        reached = any(checks) if self.match == "any" else all(checks)
        return reached and v.window_count >= self.min_count

    def new_state(self, brand: str, max_mentions: int) -> RuleState:
        return SpikeState(self, brand, max_mentions)


class SpikeState(RuleState):
    def __init__(self, rule: SpikeRule, brand: str, max_mentions: int) -> None:
        self._rule = rule
        self._brand = brand
        self._window = MentionWindow(rule.window, max_mentions)
        self._spike_count: int | None = None
        """The window count of the reading that began the spike, while it holds."""

    def observe(self, mention: EnrichedMention, at: datetime, now: datetime) -> None:
        if mention.velocity is not None:  # no reading, nothing to judge
            self._window.add(mention, at, now)

    def check(self, now: datetime) -> Check:
        latest = self._window.latest(now)
        if latest is None or latest.mention.velocity is None:
            self._spike_count = None
            return Check(False)
        v = latest.mention.velocity
        if self._rule.is_spike(v):
            if self._spike_count is None:  # the count the spike began at
                self._spike_count = v.window_count
        elif self._spike_count is None or v.window_count < max(
            self._rule.min_count,
            HOLD_SHARE * self._spike_count,
            v.baseline + 2 * math.sqrt(v.baseline),  # normal traffic holds nothing
        ):
            self._spike_count = None
            return Check(False)
        return Check(True, latest.at + self._rule.window)

    def read(self, now: datetime) -> Reading:
        rule = self._rule
        entries = self._window.entries(now)
        v = entries[-1].mention.velocity if entries else None
        if v is None:
            return Reading(f"{self._brand}: no current velocity reading", {})
        figures = {
            "window_count": v.window_count,
            "baseline": v.baseline,
            "zscore": v.zscore,
            "surprise": v.surprise,
            "novelty": v.novelty,
            "acceleration": v.acceleration,
            "negative_share": v.negative_share,
            "min_count": rule.min_count,
        }
        if rule.min_zscore is not None:
            figures["min_zscore"] = rule.min_zscore
        if rule.min_surprise is not None:
            figures["min_surprise"] = rule.min_surprise
        if rule.min_novelty is not None:
            figures["min_novelty"] = rule.min_novelty
        return Reading(
            summary=(
                f"{self._brand}: {v.window_count} mentions in the velocity window against "
                f"{v.baseline:.1f} expected (z-score {v.zscore:.1f}, surprise {v.surprise:.1f}, "
                f"novelty {v.novelty:.1f})"
            ),
            figures=figures,
            samples=latest_samples(entries),
        )

    def prune(self, now: datetime) -> None:
        self._window.prune(now)

    @property
    def empty(self) -> bool:
        return len(self._window) == 0
