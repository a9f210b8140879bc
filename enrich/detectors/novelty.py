"""The stormwatch anomaly detector: calibrated novelty of a streaming series.

Three views of each new value, each turned into a per-series calibrated probability by
ranking it against that view's own recent history (`TrailingRank`), so one threshold
means the same rarity on every series, whatever its scale, tail or noise:

* **value**: how extreme is the value itself among the last ``window`` values (new highs
  and lows, level shifts out of the usual range);
* **transitions**: how unexpected is its coarse level after the previous one
  (`TransitionNovelty`: new levels, new moves between levels, a broken rhythm);
* **daily**: how far is it from what this time of day usually brings (`DailyProfile`).

The surprise is ``-log10(k * min p)`` over the k views (Bonferroni: a point must be rare
in at least one view, and the test for "any of k" is paid for), less a charge for the
history watched (``history_charge * log10(n / 100)`` after n > 100 points, n capped
at ``window``: the longer a series is watched, the more chances chance had, so the rarer
a reading must be to count), and `EpisodeGate` keeps only the loudest point of each
episode. The score ``1 - 10**(-surprise / score_scale)`` lies in [0, 1): 0 for
unreported points, rising with the surprise.

Streaming and honest: every figure for a point is computed from the points before it,
then the point is learnt; nothing looks ahead, nothing knows the series' length, range
or name. Hyper-parameters and how they were chosen: docs/spikes.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from enrich.detectors.gate import EpisodeGate
from enrich.detectors.rank import TrailingRank
from enrich.detectors.seasonal import DailyProfile
from enrich.detectors.transitions import TransitionNovelty

VIEWS = ("value", "transitions", "daily")
FREE_HISTORY = 100
"""Points watched before the history charge starts."""


class NoveltySettings(BaseModel):
    """Settings of `NoveltyDetector`; the defaults are the configuration benchmarked on
    NAB (docs/spikes.md). Steps are points of the series (NAB: mostly 5 minutes; the
    enrich stage: one velocity bucket)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(default=10_000, ge=100, le=1_000_000)
    """Points each view ranks against (and the transition memory's horizon)."""
    warmup: int = Field(default=50, ge=0)
    """Points learnt before anything is scored."""
    rest: int = Field(default=50, ge=0)
    """Steps after a report during which only a clearly worse reading is reported."""
    margin: float = Field(default=0.4, ge=0)
    """How much rarer (orders of magnitude) a reading must be to be reported during
    ``rest``."""
    two_sided: bool = True
    """Score drops as well as rises (False: rises only, e.g. mention counts)."""
    views: tuple[str, ...] = VIEWS
    """Which views vote (any non-empty subset of value, transitions, daily)."""
    level_width: float = Field(default=0.5, gt=0)
    """Width of the central transition level, in inter-quartile ranges."""
    slot_alpha: float = Field(default=0.1, gt=0, le=1)
    """Weight of today's value in its time-of-day slot."""
    history_charge: float = Field(default=0.75, ge=0, le=2)
    """Orders of magnitude the surprise is charged per tenfold history past
    `FREE_HISTORY` points (up to ``window``); 0: no charge, 1: a reading's surprise
    depends on how many earlier readings were as unusual, not on how often."""
    score_scale: float = Field(default=10.0, gt=0)
    """Surprise at which the score reads 0.9."""

    @model_validator(mode="after")
    def _views(self) -> Self:
        if (
            not self.views
            or set(self.views) - set(VIEWS)
            or len(set(self.views)) != len(self.views)
        ):
            raise ValueError(f"views must be distinct names among {', '.join(VIEWS)}")
        if self.window <= self.warmup:
            raise ValueError("window must exceed warmup")
        return self


@dataclass(frozen=True, slots=True)
class NoveltyScore:
    value: float
    surprise: float
    """-log10 of the (Bonferroni-adjusted) chance of a reading this unusual in its most
    telling view, from the series' own history, less the history charge: 2 is one in a
    hundred (before the charge). 0 while warming up, for gaps, and for ordinary readings."""
    score: float
    """In [0, 1): 0 unless ``reported``, else ``1 - 10**(-surprise / score_scale)``."""
    reported: bool
    """Whether the episode gate let this reading through (a new or worse episode)."""
    parts: dict[str, float] = field(default_factory=dict)
    """Each view's own surprise (-log10 p), for explanations."""
    warm: bool = False


@dataclass(slots=True)
class _Pending:
    """What one point teaches the views once it has been scored."""

    level: int | None = None
    level_surprise: float = 0.0
    daily: float | None = None


class NoveltyDetector:
    """Online novelty scoring of one regular series, one `update` per step. Not
    thread-safe; one per series."""

    def __init__(self, settings: NoveltySettings | None = None) -> None:
        self.settings = s = settings or NoveltySettings()
        self.count = 0
        two = s.two_sided
        self._values = TrailingRank(s.window, two_sided=two, from_median=True)
        self._levels = TransitionNovelty(s.level_width, memory=s.window)
        self._level_rank = TrailingRank(s.window, two_sided=False)
        self._daily = DailyProfile(s.slot_alpha)
        self._daily_rank = TrailingRank(s.window, two_sided=False)
        self._gate = EpisodeGate(s.rest, s.margin)
        self._bonferroni = math.log10(len(s.views))

    @property
    def warm(self) -> bool:
        return self.count >= self.settings.warmup

    def _observe(self, x: float, when: datetime | None) -> tuple[dict[str, float], _Pending]:
        """Each view's log10 p for ``x`` (pure), with what to learn afterwards."""
        views = self.settings.views
        two = self.settings.two_sided
        scored = self.warm
        logp: dict[str, float] = {}
        if "value" in views and scored and self._values.ready:
            logp["value"] = self._values.log10_sf(x)
        pending = _Pending()
        if "transitions" in views and len(self._values) >= 20:
            median = self._values.quantile(0.5)
            iqr = self._values.quantile(0.75) - self._values.quantile(0.25)
            if iqr <= 0:  # mostly one value: fall back on the range
                iqr = (self._values.quantile(1.0) - self._values.quantile(0.0)) / 2
            level = self._levels.level(x, median, iqr)
            surprise = self._levels.surprise(level)
            pending.level, pending.level_surprise = level, surprise
            # rises-only series: a move down (or back to normal) is not evidence
            if scored and self._level_rank.ready and (two or level > 0):
                logp["transitions"] = self._level_rank.log10_sf(surprise)
        if "daily" in views and when is not None:
            residual = self._daily.residual(x, when)
            if residual is not None:
                pending.daily = daily = abs(residual) if two else max(residual, 0.0)
                if scored and self._daily_rank.ready:
                    logp["daily"] = self._daily_rank.log10_sf(daily)
        return logp, pending

    def _surprise(self, logp: dict[str, float]) -> float:
        if not logp:
            return 0.0
        return max(0.0, -(min(logp.values()) + self._bonferroni) - self.history_charge)

    @property
    def history_charge(self) -> float:
        """What the surprise of the next point is charged for the history watched."""
        seen = min(self.count, self.settings.window)
        if seen <= FREE_HISTORY:
            return 0.0
        return self.settings.history_charge * math.log10(seen / FREE_HISTORY)

    def _result(
        self, x: float, logp: dict[str, float], surprise: float, reported: bool
    ) -> NoveltyScore:
        score = 1.0 - 10.0 ** (-surprise / self.settings.score_scale) if reported else 0.0
        parts = {k: max(0.0, -v) for k, v in logp.items()}
        return NoveltyScore(x, surprise, score, reported, parts, self.warm)

    def score(self, value: float, when: datetime | None = None) -> NoveltyScore:
        """Score ``value`` as the next point, without learning it or moving the gate
        (``reported`` says whether the gate would let it through)."""
        if not math.isfinite(value):
            return NoveltyScore(value, 0.0, 0.0, False, {}, self.warm)
        logp, _ = self._observe(value, when)
        surprise = self._surprise(logp)
        return self._result(value, logp, surprise, bool(logp) and self._gate.admits(surprise))

    def update(self, value: float, when: datetime | None = None) -> NoveltyScore:
        """Score ``value``, pass it through the episode gate, then learn it. A gap (NaN,
        infinity) scores 0, is not learnt, and counts as a quiet step for the gate."""
        if not math.isfinite(value):
            self._gate.skip()
            return NoveltyScore(value, 0.0, 0.0, False, {}, self.warm)
        logp, pending = self._observe(value, when)
        surprise = self._surprise(logp)
        if logp:
            reported = self._gate.step(surprise)
        else:
            self._gate.skip()
            reported = False
        result = self._result(value, logp, surprise, reported)
        self._learn(value, when, pending)
        return result

    def _learn(self, x: float, when: datetime | None, pending: _Pending) -> None:
        if pending.level is not None:
            self._level_rank.add(pending.level_surprise)
            self._levels.learn(pending.level)
        if pending.daily is not None:
            self._daily_rank.add(pending.daily)
        if when is not None:
            self._daily.learn(x, when)
        self._values.add(x)
        self.count += 1
