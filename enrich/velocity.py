"""Spike velocity: is a brand being talked about much more than usual, right now?

Two layers, both pure and clock-free (time is passed in):

* `SpikeDetector` scores a regular series (one value per step) against what it learnt
  from the values before: EWMA baseline and deviation, z-score, Poisson surprise and a
  score in [0, 1]. It never looks ahead: a value is scored before it is learnt.
* `BrandVelocity` turns one brand's mentions (event time = ``published_at``) into
  `core.records.Velocity`: it counts distinct mention ids per time bucket, feeds the
  detector the window count at every closed bucket, and scores the current window.
  `VelocityTracker` keeps one per brand and the stage's event-time watermark.

Beside the EWMA figures that `Velocity` carries (baseline, z-score, Poisson surprise: the
``spike`` rule's inputs), each brand also runs the rises-only variant of stormwatch's
calibrated detector (`enrich.detectors.NoveltyDetector`) on the same window counts:
`BrandVelocity.novelty` is its reading of the current window. On NAB's tweet volumes its
surprise ranks bursts far better than the Poisson one, which over-dispersed social
streams make over-confident (docs/spikes.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.records import Velocity
from enrich.detectors.novelty import NoveltyDetector, NoveltyScore, NoveltySettings
from enrich.settings import VelocitySettings
from enrich.stats import normal_log10_sf, poisson_log10_sf

_NOVELTY_HISTORY = timedelta(days=7)
"""What the novelty detector ranks a window count against: a week holds every hour of
every weekday once (capped at 10,000 buckets to bound memory: about 0.5 MB per brand)."""
_NOVELTY_REST = timedelta(minutes=50 * 5)
"""One novelty report per episode within this time (NAB's 50 steps of 5 minutes)."""


@dataclass(frozen=True, slots=True)
class SpikeScore:
    value: float
    baseline: float
    """The expected value before this point (EWMA of the earlier values)."""
    std: float
    """The deviation the z-score divides by (at least sqrt(baseline) for counts)."""
    zscore: float
    surprise: float
    """-log10 of the tail probability of a value this high: the Poisson tail under the
    baseline for count series, the normal tail of the z-score otherwise."""
    score: float
    """In [0, 1): 0 at or below the expectation (and while warming up), rising with the
    evidence e = -log10(2p) of the tail probability p as ``1 - 10**(-e / score_scale)``
    (0.9 at e = score_scale), so even huge spikes stay ordered instead of all reading 1."""
    warm: bool


class SpikeDetector:
    """Online spike scoring of a regular series, one `update` per step.

    Count series (``poisson=True``, the default): the deviation is at least the Poisson
    one, sqrt(baseline), and a point must be unlikely both under the normal and the
    Poisson model to score high, so neither a tiny baseline nor an over-dispersed one
    raises false alarms. For real-valued series (e.g. NAB) use ``poisson=False``, and
    ``two_sided=True`` to score drops as well as rises.

    Early on the averages are plain means (weight ``1/n``) until ``alpha`` takes over;
    nothing is scored for the first ``warmup`` steps. The defaults suit a count series at
    a 5-minute step (on NAB's realTweets, alpha 0.005 beat 0.01 and 0.05, and clipping
    cost more than it saved); ``clip`` limits how far one point moves the baseline.
    """

    def __init__(
        self,
        alpha: float = 0.005,
        *,
        warmup: int = 0,
        poisson: bool = True,
        min_baseline: float = 0.0,
        min_std: float = 1e-6,
        clip: float | None = None,
        two_sided: bool = False,
        score_scale: float = 10.0,
    ) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        if score_scale <= 0 or warmup < 0:
            raise ValueError("score_scale must be positive and warmup not negative")
        self.alpha = alpha
        self.warmup = warmup
        self.poisson = poisson
        self.min_baseline = min_baseline
        self.min_std = min_std
        self.clip = clip
        self.two_sided = two_sided
        self.score_scale = score_scale
        self.count = 0
        self._mean = 0.0
        self._var = 0.0

    @property
    def baseline(self) -> float:
        return max(self._mean, self.min_baseline)

    @property
    def warm(self) -> bool:
        return self.count >= max(self.warmup, 1)

    def score(self, value: float) -> SpikeScore:
        """Score ``value`` as the next point, without learning it (a value that is not a
        finite number scores 0)."""
        baseline = self.baseline
        variance = max(self._var, baseline) if self.poisson else self._var
        std = max(math.sqrt(variance), self.min_std)
        if not self.warm or not math.isfinite(value):
            return SpikeScore(value, baseline, std, 0.0, 0.0, 0.0, self.warm)
        z = (value - baseline) / std
        log_p = normal_log10_sf(abs(z) if self.two_sided else z)
        if self.two_sided:
            log_p = min(0.0, log_p + math.log10(2.0))
        if self.poisson and value > baseline:
            poisson = poisson_log10_sf(math.ceil(value), max(baseline, 1e-12))
            surprise = -poisson
            log_p = max(log_p, poisson)  # the less surprised model decides the score
        elif self.poisson:
            surprise = 0.0
        else:
            surprise = -log_p
        # evidence: orders of magnitude below an even chance (0 at the expectation)
        evidence = max(0.0, -log_p - (0.0 if self.two_sided else math.log10(2.0)))
        score = 1.0 - 10.0 ** (-evidence / self.score_scale)
        return SpikeScore(value, baseline, std, z, max(surprise, 0.0), score, True)

    def update(self, value: float) -> SpikeScore:
        """Score ``value``, then learn it (clipped to ``clip`` deviations once warm; a gap,
        NaN or infinity, is scored 0 and not learnt)."""
        result = self.score(value)
        if not math.isfinite(value):
            return result
        learn = value
        if result.warm and self.clip is not None:
            bound = self.clip * result.std
            learn = min(learn, self._mean + bound)
            if self.two_sided:
                learn = max(learn, self._mean - bound)
        # West's incremental EWMA of mean and variance; 1/(n+1) makes the first values a
        # plain average instead of trusting the very first point
        a = max(self.alpha, 1.0 / (self.count + 1))
        diff = learn - self._mean
        self._mean += a * diff
        self._var = (1.0 - a) * (self._var + a * diff * diff)
        self.count += 1
        return result


def count_novelty_settings(settings: VelocitySettings) -> NoveltySettings:
    """The novelty detector for a brand's window counts: the NAB configuration, rises
    only, with its spans set in time: a week of history (1,000 to 10,000 buckets, and
    past the warm-up), 4 hours 10 minutes of rest (NAB's 50 five-minute steps)."""
    week = round(_NOVELTY_HISTORY / settings.bucket)
    warmup = settings.warmup_steps
    window = max(min(10_000, max(1_000, week)), warmup + 100)
    rest = min(round(_NOVELTY_REST / settings.bucket), window // 2)
    return NoveltySettings(window=window, warmup=warmup, rest=rest, two_sided=False)


@dataclass(slots=True)
class _Bucket:
    ids: set[str] = field(default_factory=set)
    negative: int = 0


class BrandVelocity:
    """One brand's velocity over event time. Not thread-safe; one per brand.

    * Counts distinct mention ids: a duplicate (same id, within ``retention``) is ignored.
    * A late mention counts in its own bucket, so windows that include it see it; the
      detector does not relearn steps it already took. A mention older than ``retention``
      before now is not counted (`too_late` says how many).
    * The current window is the last ``window`` of buckets, the current (partly elapsed)
      bucket included; ``acceleration`` is its count minus the count of the window before.
    * Memory is bounded by ``retention``: older buckets and their ids are dropped.
    """

    def __init__(self, settings: VelocitySettings) -> None:
        self._bucket_s = settings.bucket.total_seconds()
        self._k = settings.buckets_per_window
        self._settle = math.ceil(settings.settle / settings.bucket)
        self._keep = max(
            math.ceil(settings.retention / settings.bucket), 2 * self._k + self._settle
        )
        self._detector = SpikeDetector(
            settings.alpha,
            warmup=settings.warmup_steps,
            min_baseline=settings.min_baseline,
            clip=settings.clip,
        )
        self._novelty = NoveltyDetector(count_novelty_settings(settings))
        self._novelty_now: NoveltyScore | None = None
        # past ~20 half-lives the baseline has forgotten a silence's start; skip that far
        self._max_catchup = settings.warmup_steps + self._k + math.ceil(20 / settings.alpha)
        self._buckets: dict[int, _Bucket] = {}
        self._ids: dict[str, int] = {}
        self._fed: int | None = None
        """The last bucket whose window count the novelty detector learnt."""
        self._settled: int | None = None
        """The last bucket whose window count the EWMA baseline learnt (``settle`` behind)."""
        self._last = -(2**62)
        self._horizon = -(2**62)
        """Buckets at or below this index are evicted."""
        self.too_late = 0
        self.duplicates = 0

    def _index(self, when: datetime) -> int:
        return math.floor(when.timestamp() / self._bucket_s)

    def _start(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self._bucket_s, UTC)

    def observe(
        self, mention_id: str, published_at: datetime, negative: bool, now: datetime
    ) -> Velocity:
        """Count one mention (once per id) and return the figures at ``now``. A mention
        dated after ``now`` (a source ahead of the clock, within the tracker's
        ``max_future``) counts in the current bucket: letting it move the brand's time
        ahead would leave its real current mentions outside the window."""
        now_i = max(self._index(now), self._last)
        at = min(self._index(published_at), now_i)
        self._last = now_i
        if self._fed is None:  # the brand's series starts with its first countable bucket
            self._fed = self._settled = max(at, now_i - self._keep + 1) - 1
        if at <= now_i - self._keep:
            self.too_late += 1
        elif mention_id in self._ids:
            self.duplicates += 1
        else:
            bucket = self._buckets.setdefault(at, _Bucket())
            bucket.ids.add(mention_id)
            bucket.negative += negative
            self._ids[mention_id] = at
        self._advance(now_i)
        return self._figures(now_i)

    def figures(self, now: datetime) -> Velocity:
        """The figures at ``now`` without counting anything (time still moves on)."""
        now_i = max(self._index(now), self._last)
        self._last = now_i
        if self._fed is not None:
            self._advance(now_i)
        return self._figures(now_i)

    def _count(self, first: int, last: int) -> tuple[int, int]:
        total = negative = 0
        for i in range(first, last + 1):
            b = self._buckets.get(i)
            if b is not None:
                total += len(b.ids)
                negative += b.negative
        return total, negative

    def _advance(self, now_i: int) -> None:
        """Teach the novelty detector the window count at every bucket closed since its
        last step, and the EWMA baseline every one that has settled (closed ``settle``
        ago) since its last."""
        assert self._fed is not None and self._settled is not None
        last_closed = now_i - 1
        self._fed = self._learn(
            self._fed, last_closed, lambda i, count: self._novelty.update(count, self._start(i))
        )
        self._settled = self._learn(
            self._settled, last_closed - self._settle, lambda _, count: self._detector.update(count)
        )
        self._evict(now_i)

    def _learn(self, done: int, until: int, update: Callable[[int, int], object]) -> int:
        """``update(bucket, window count)`` for every window ending after ``done`` up to
        ``until`` (after a long silence, only the last ``_max_catchup``); the new last."""
        if until <= done:
            return done
        first = max(done + 1, until - self._max_catchup + 1)
        for index, count in enumerate(self._window_counts(first, until), start=first):
            update(index, count)
        return until

    def _window_counts(self, first: int, last: int) -> Iterator[int]:
        count = self._count(first - self._k + 1, first)[0]
        yield count
        for end in range(first + 1, last + 1):  # slide: add the new bucket, drop the oldest
            new = self._buckets.get(end)
            old = self._buckets.get(end - self._k)
            count += (len(new.ids) if new else 0) - (len(old.ids) if old else 0)
            yield count

    def _evict(self, now_i: int) -> None:
        horizon = now_i - self._keep
        if horizon <= self._horizon:
            return
        # nothing can land at or below the horizon (too late), so only look past the old one
        if horizon - self._horizon < len(self._buckets):
            old = [i for i in range(self._horizon + 1, horizon + 1) if i in self._buckets]
        else:
            old = [i for i in self._buckets if i <= horizon]
        self._horizon = horizon
        for i in old:
            for mention_id in self._buckets.pop(i).ids:
                self._ids.pop(mention_id, None)

    def _figures(self, now_i: int) -> Velocity:
        count, negative = self._count(now_i - self._k + 1, now_i)
        previous, _ = self._count(now_i - 2 * self._k + 1, now_i - self._k)
        spike = self._detector.score(count)
        self._novelty_now = self._novelty.score(count, self._start(now_i))
        return Velocity(
            window_count=count,
            baseline=spike.baseline,
            zscore=spike.zscore,
            surprise=spike.surprise,
            acceleration=float(count - previous),
            negative_share=negative / count if count else 0.0,
            novelty=self._novelty_now.surprise,
        )

    @property
    def detector(self) -> SpikeDetector:
        return self._detector

    @property
    def novelty(self) -> NoveltyScore | None:
        """The novelty detector's reading of the current window at the last `observe` or
        `figures` (None before the first): ``surprise`` is -log10 of the chance of a
        window count this high given the brand's own last week (calibrated, unlike the
        Poisson ``Velocity.surprise``), ``reported`` whether it opens or worsens an
        episode."""
        return self._novelty_now

    @property
    def novelty_detector(self) -> NoveltyDetector:
        return self._novelty

    @property
    def tracked_ids(self) -> int:
        return len(self._ids)


class VelocityTracker:
    """Velocity of every brand, with the stage's notion of now.

    "Now" is the latest event time seen (the watermark), so a backfill at start-up and a
    replay of old data train the baseline exactly as live traffic would; the wall clock
    only bounds the future: a mention dated more than ``max_future`` after it is taken as
    published at that bound, and no mention moves the watermark past the clock.
    """

    def __init__(self, settings: VelocitySettings) -> None:
        self._settings = settings
        self._brands: dict[str, BrandVelocity] = {}
        self._watermark: datetime | None = None

    def observe(
        self,
        brand: str,
        mention_id: str,
        published_at: datetime,
        negative: bool,
        wall: datetime | None = None,
    ) -> Velocity:
        event = mark = published_at
        if wall is not None:
            event = min(event, wall + self._settings.max_future)
            # the watermark is every brand's now: a source dated ahead of the clock (a
            # feed writing local time without an offset) must not move it past the clock,
            # or the other brands' current mentions would fall behind their windows
            mark = min(event, wall)
        if self._watermark is None or mark > self._watermark:
            self._watermark = mark
        # Event time only: a backfill replayed at start-up must train the baseline as if
        # it were live, which wall-clock "now" would prevent (every bucket already closed).
        now = self._watermark
        state = self._brands.get(brand)
        if state is None:
            state = self._brands[brand] = BrandVelocity(self._settings)
        return state.observe(mention_id, event, negative, now)

    def brand(self, brand: str) -> BrandVelocity | None:
        return self._brands.get(brand)

    @property
    def now(self) -> datetime | None:
        """The latest event time seen."""
        return self._watermark
