from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from enrich.settings import VelocitySettings
from enrich.stats import normal_log10_sf, poisson_log10_sf
from enrich.velocity import (
    BrandVelocity,
    SpikeDetector,
    VelocityTracker,
    count_novelty_settings,
)

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates used here
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# -- tail probabilities ------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.05, 0.5, 1.0, 3.7, 12.0, 40.0, 150.0])
@pytest.mark.parametrize("k", [1, 2, 5, 10, 20, 45, 80, 200, 400])
def test_poisson_tail_matches_the_direct_sum(k: int, lam: float) -> None:
    terms = [j * math.log(lam) - lam - math.lgamma(j + 1) for j in range(k, k + 2000)]
    top = max(terms)
    direct = (top + math.log(math.fsum(math.exp(t - top) for t in terms))) / math.log(10)
    assert poisson_log10_sf(k, lam) == pytest.approx(direct, rel=1e-9, abs=1e-12)


def test_poisson_tail_edges() -> None:
    assert poisson_log10_sf(0, 3.0) == 0.0 and poisson_log10_sf(-2, 3.0) == 0.0
    assert poisson_log10_sf(1, 0.0) == -math.inf
    assert math.isfinite(poisson_log10_sf(5000, 1e-9))
    assert -0.5 < poisson_log10_sf(1_000_000, 1_000_000.0) < 0


def test_normal_tail() -> None:
    assert normal_log10_sf(0.0) == pytest.approx(math.log10(0.5))
    assert normal_log10_sf(3.0) == pytest.approx(math.log10(0.0013498980316301))
    far = [normal_log10_sf(z) for z in (30, 37, 39, 60, 1e3)]
    assert all(math.isfinite(v) for v in far) and far == sorted(far, reverse=True)


# -- the detector --------------------------------------------------------------------------


def flat_then_burst(seed: int, n: int = 300, lam: float = 4.0, burst: int = 30) -> list[int]:
    rng = random.Random(seed)
    return [poisson(rng, lam) for _ in range(n)] + [burst]


@pytest.mark.parametrize("seed", range(5))
def test_a_burst_scores_high_and_nothing_before_it_does(seed: int) -> None:
    series = flat_then_burst(seed)
    detector = SpikeDetector(0.02, warmup=20)
    scores = [detector.update(v) for v in series]
    before, burst = scores[20:-1], scores[-1]
    assert max(s.zscore for s in before) < 4.5
    assert max(s.surprise for s in before) < 4.5
    assert burst.zscore > 8 and burst.surprise > 10
    assert burst.score > max(s.score for s in before) and 0 < burst.score < 1
    assert burst.baseline == pytest.approx(4.0, rel=0.3)


def test_no_look_ahead() -> None:
    series = flat_then_burst(1)
    other = [*series[:150], *([50] * 150)]
    a, b = SpikeDetector(0.05, warmup=5), SpikeDetector(0.05, warmup=5)
    assert [a.update(v) for v in series[:150]] == [b.update(v) for v in other[:150]]
    # scoring is pure: asking does not learn
    probe = a.score(99)
    assert a.score(99) == probe and a.count == 150


def test_warm_up_scores_nothing() -> None:
    detector = SpikeDetector(0.1, warmup=10)
    early = [detector.update(v) for v in [1, 1, 1, 1, 50, 1, 1, 1, 1, 1]]
    assert all(not s.warm and s.score == 0 and s.zscore == 0 for s in early)
    assert detector.update(50).warm and detector.score(50).score > 0


def test_a_value_at_or_below_the_baseline_scores_zero() -> None:
    detector = SpikeDetector(0.1)
    for v in [5, 6, 4, 5, 5, 6, 4]:
        detector.update(v)
    assert detector.score(3).score == 0 and detector.score(3).surprise == 0
    assert detector.score(3).zscore < 0


def test_counts_near_zero_are_not_spikes() -> None:
    detector = SpikeDetector(0.05, warmup=5, min_baseline=0.5)
    for _ in range(100):
        detector.update(0)
    one = detector.score(1)
    assert one.baseline == 0.5 and one.std >= math.sqrt(0.5)
    assert one.zscore < 1 and one.surprise < 0.5
    assert detector.score(8).surprise > 5


def test_real_valued_and_two_sided_series() -> None:
    rng = random.Random(3)
    values = [100 + rng.gauss(0, 2) for _ in range(200)]
    up = SpikeDetector(0.05, poisson=False)
    both = SpikeDetector(0.05, poisson=False, two_sided=True)
    for v in values:
        up.update(v)
        both.update(v)
    assert up.score(80).score == 0 and both.score(80).score > 0.9
    assert up.score(120).score > 0.9 and both.score(120).score > 0.9
    assert up.score(120).surprise == pytest.approx(-normal_log10_sf(up.score(120).zscore))


def test_clip_limits_what_one_point_teaches() -> None:
    clipped, free = SpikeDetector(0.1, clip=3.0), SpikeDetector(0.1)
    for d in (clipped, free):
        for v in [10, 11, 9, 10, 10, 11, 9, 10]:
            d.update(v)
        d.update(1000)
    assert clipped.baseline < 15 < free.baseline


def test_gaps_are_not_learnt() -> None:
    detector = SpikeDetector(0.1, poisson=False)
    for v in [1.0, 2.0, 1.5]:
        detector.update(v)
    before = detector.baseline
    for gap in (math.nan, math.inf):
        assert detector.update(gap).score == 0
    assert detector.baseline == before and detector.count == 3


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="alpha"):
        SpikeDetector(0.0)
    with pytest.raises(ValueError, match="score_scale"):
        SpikeDetector(score_scale=0)


# -- one brand over event time ---------------------------------------------------------


SETTINGS = VelocitySettings(
    bucket=timedelta(minutes=1),
    window=timedelta(minutes=5),
    half_life=timedelta(hours=1),
    warmup=timedelta(minutes=30),
    retention=timedelta(minutes=30),
)


AT_ONCE = SETTINGS.model_copy(update={"settle": timedelta(0)})
"""The baseline learns each window as it closes."""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_brand_velocity_counts_distinct_ids_in_the_window() -> None:
    velocity = BrandVelocity(SETTINGS)
    velocity.observe("a", at(0), False, at(0))
    velocity.observe("b", at(1), True, at(1))
    again = velocity.observe("a", at(0), False, at(2))  # a replayed duplicate
    assert again.window_count == 2 and velocity.duplicates == 1
    assert again.negative_share == 0.5
    later = velocity.observe("c", at(5.5), True, at(5.5))
    # window = buckets 1..5: "a" (minute 0) has left it
    assert later.window_count == 2 and later.negative_share == 1.0
    assert later.acceleration == 2 - 1


def test_late_events_count_in_their_bucket_without_corrupting_state() -> None:
    def run(late: bool) -> BrandVelocity:
        v = BrandVelocity(AT_ONCE)
        for minute in range(41):
            v.observe(f"m{minute}", at(minute), False, at(minute))
        if late:
            v.observe("late-in-window", at(37), True, at(40))
            v.observe("late-old", at(20), False, at(40))  # older than the window
            v.observe("too-late", at(5), False, at(40))  # older than the retention
        return v

    plain, with_late = run(False), run(True)
    assert with_late.too_late == 1 and with_late.tracked_ids == plain.tracked_ids + 2
    # steps already learnt are not relearnt
    assert with_late.detector.count == plain.detector.count
    assert with_late.detector.baseline == plain.detector.baseline
    now_plain, now_late = plain.figures(at(40.5)), with_late.figures(at(40.5))
    assert now_late.window_count == now_plain.window_count + 1
    assert now_late.negative_share == pytest.approx(1 / now_late.window_count)
    # the next step learns the window that holds the late mention
    plain.figures(at(41)), with_late.figures(at(41))
    assert with_late.detector.baseline > plain.detector.baseline
    # a "now" behind the latest event (clock skew) neither crashes nor moves time back
    skewed = with_late.observe("future", at(50), False, at(45))
    assert skewed.window_count == 1 and with_late.figures(at(44)).window_count == 1


def test_a_late_event_older_than_the_window_leaves_the_detector_alone() -> None:
    def run(late: bool) -> BrandVelocity:
        v = BrandVelocity(AT_ONCE)
        for minute in range(0, 60):
            v.observe(f"m{minute}", at(minute), False, at(minute))
            if late and minute == 50:
                v.observe("late-old", at(30), True, at(50))
        return v

    plain, with_late = run(False), run(True)
    assert with_late.detector.baseline == plain.detector.baseline
    assert with_late.tracked_ids == plain.tracked_ids + 1
    assert with_late.figures(at(60)) == plain.figures(at(60))
    assert with_late.tracked_ids == plain.tracked_ids  # evicted with its bucket


def test_a_backlog_read_in_passes_teaches_the_baseline_what_in_order_would() -> None:
    """A backlog is read one partition's batch at a time: here two partitions, each
    bringing its half of ten minutes of mentions in turn. A window settles 15 minutes
    after it closes, by when both halves are in: the baseline learns the full counts, as
    in order; learnt as they close, it learns half counts, and the full ones then read
    as a spike."""
    mentions = [(f"{m}-{j}", at(m + j / 4)) for m in range(120) for j in range(4)]
    in_passes = [
        x
        for block in range(0, 120, 10)
        for half in ((0, 1), (2, 3))
        for x in mentions
        if block <= x[1].hour * 60 + x[1].minute < block + 10 and int(x[0][-1]) in half
    ]
    assert sorted(in_passes) == sorted(mentions)

    def run(settings: VelocitySettings, order: list[tuple[str, datetime]]) -> BrandVelocity:
        v, newest = BrandVelocity(settings), at(0)
        for mention_id, when in order:
            newest = max(newest, when)
            v.observe(mention_id, when, False, newest)
        v.figures(at(150))
        return v

    ordered = run(SETTINGS, mentions).detector
    settled = run(SETTINGS, in_passes).detector
    assert settled.count == ordered.count and settled.baseline == pytest.approx(ordered.baseline)
    hasty = run(AT_ONCE, in_passes).detector
    assert hasty.baseline < 0.9 * ordered.baseline


def test_memory_is_bounded() -> None:
    velocity = BrandVelocity(SETTINGS)
    for minute in range(5000):
        for j in range(3):
            velocity.observe(f"{minute}-{j}", at(minute), False, at(minute))
    assert velocity.tracked_ids <= 3 * 31


def test_a_long_silence_is_caught_up_quickly_and_forgets_the_old_rate() -> None:
    velocity = BrandVelocity(SETTINGS)
    for minute in range(120):
        for j in range(10):
            velocity.observe(f"{minute}-{j}", at(minute), False, at(minute))
    assert velocity.detector.baseline > 40
    after = velocity.observe("x", at(60 * 24 * 365), False, at(60 * 24 * 365))
    assert after.window_count == 1 and after.baseline == 0.5


def test_brand_velocity_sees_a_burst_when_it_starts() -> None:
    rng = random.Random(11)
    velocity = BrandVelocity(SETTINGS)
    figures = []
    n = 0
    for minute in range(240):
        rate = 1.0 if minute < 200 else 15.0
        for _ in range(poisson(rng, rate)):
            second = rng.uniform(0, 59)
            when = at(minute + second / 60)
            figures.append((minute, velocity.observe(f"id{n}", when, minute >= 200, when)))
            n += 1
    calm = [f for m, f in figures if 40 <= m < 200]
    storm = [f for m, f in figures if 201 <= m < 205]
    assert max(f.zscore for f in calm) < 5 and max(f.surprise for f in calm) < 5
    assert min(f.zscore for f in storm) > 5 and min(f.surprise for f in storm) > 5
    assert max(f.surprise for f in storm) > 20
    assert all(f.negative_share > 0.5 for f in storm) and storm[-1].acceleration > 0


def test_tracker_keeps_brands_apart_and_clamps_the_future() -> None:
    tracker = VelocityTracker(SETTINGS)
    tracker.observe("acme", "1", at(0), False, wall=at(0))
    tracker.observe("acme", "2", at(0.5), False, wall=at(1))
    other = tracker.observe("globex", "1", at(1), True, wall=at(1))
    assert other.window_count == 1 and other.negative_share == 1
    # a wrong time zone at the source: two hours ahead of the clock. Counted (at the
    # bound), but it moves nobody's now past the clock: globex's mentions of the next
    # minutes still count in its window
    tracker.observe("acme", "3", at(120), False, wall=at(2))
    assert tracker.now == at(2)
    brand = tracker.brand("acme")
    assert brand is not None and brand.tracked_ids == 3
    assert tracker.brand("initech") is None
    later = tracker.observe("globex", "2", at(3), False, wall=at(3))
    assert later.window_count == 2


def test_tracker_without_a_clock_runs_on_event_time() -> None:
    tracker = VelocityTracker(SETTINGS)
    tracker.observe("acme", "1", at(0), False)
    tracker.observe("acme", "2", at(100), False)
    assert tracker.now == at(100)
    # the first mention is long out of the window now
    assert tracker.observe("acme", "3", at(100), False).window_count == 2


# -- the calibrated novelty reading beside the EWMA figures ------------------------------


def test_count_novelty_settings_follow_the_bucket() -> None:
    minute = count_novelty_settings(SETTINGS)
    assert minute.window == 10_000 and minute.warmup == 30 and minute.rest == 250
    assert not minute.two_sided  # mention counts: rises only
    hourly = count_novelty_settings(
        VelocitySettings(
            bucket=timedelta(hours=1),
            window=timedelta(hours=3),
            retention=timedelta(hours=3),
            warmup=timedelta(days=60),
        )
    )
    # a week is 168 buckets: the floor of 1,000 applies, then room beyond the warm-up
    assert hourly.window == 60 * 24 + 100 and hourly.rest == 4


def test_brand_velocity_novelty_sees_a_burst_after_a_calm_history() -> None:
    rng = random.Random(1)
    velocity = BrandVelocity(SETTINGS)
    assert velocity.novelty is None
    calm, storm = [], []
    n = 0
    for minute in range(2 * 1440 + 3):  # two calm days at 1/min, then 15/min
        rate = 1.0 if minute < 2 * 1440 else 15.0
        for _ in range(poisson(rng, rate)):
            when = at(minute + rng.uniform(0, 59) / 60)
            figures = velocity.observe(f"id{n}", when, False, when)
            n += 1
            reading = velocity.novelty
            assert reading is not None and 0 <= reading.score < 1
            assert figures.novelty == reading.surprise, "the reading travels on the bus"
            if 1440 <= minute < 2 * 1440:
                calm.append(reading)
            elif minute >= 2 * 1440:
                storm.append(reading)
    assert max(r.surprise for r in storm) > max(r.surprise for r in calm) + 0.7
    assert any(r.reported and r.score > 0 for r in storm)
    # time passing without mentions also refreshes the reading
    later = velocity.figures(at(2 * 1440 + 60))
    assert velocity.novelty is not None and velocity.novelty.value == later.window_count == 0


def test_a_mention_dated_ahead_counts_now_and_keeps_the_brand_in_the_present() -> None:
    # it pulled the brand's window minutes ahead, leaving its real current mentions out
    tracker = VelocityTracker(SETTINGS)
    tracker.observe("acme", "1", at(0), False, wall=at(0))
    tracker.observe("acme", "2", at(5), False, wall=at(1))  # four minutes ahead of the clock
    assert tracker.observe("acme", "3", at(1.5), False, wall=at(1.5)).window_count == 3
