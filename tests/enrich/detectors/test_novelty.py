from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from enrich.detectors.novelty import FREE_HISTORY, NoveltyDetector, NoveltyScore, NoveltySettings

T0 = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)


def run(series: list[float], settings: NoveltySettings | None = None) -> list[NoveltyScore]:
    detector = NoveltyDetector(settings)
    return [detector.update(v, T0 + i * STEP) for i, v in enumerate(series)]


def noisy(seed: int, n: int, level: float = 50.0, sd: float = 3.0) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0, sd) for _ in range(n)]


def test_no_look_ahead_changing_the_future_never_changes_the_past() -> None:
    base = noisy(1, 1500)
    other = base[:900] + [v * 7 + 3 for v in base[900:]]
    a, b = run(base), run(other)
    assert a[:900] == b[:900]
    assert a[900:] != b[900:]  # the test can fail: the futures do differ


def test_scoring_is_pure_and_matches_the_update() -> None:
    detector = NoveltyDetector()
    for i, v in enumerate(noisy(2, 600)):
        detector.update(v, T0 + i * STEP)
    when = T0 + 600 * STEP
    asked = detector.score(500.0, when)
    assert detector.score(500.0, when) == asked and detector.count == 600
    assert detector.update(500.0, when) == asked


@pytest.mark.parametrize("seed", range(3))
def test_scores_stay_in_the_unit_interval_on_awkward_series(seed: int) -> None:
    rng = random.Random(seed)
    series: list[float] = []
    for i in range(3000):
        kind = (i // 300) % 5
        if kind == 0:
            series.append(45.0)  # flat
        elif kind == 1:
            series.append(rng.expovariate(1e-6))  # huge, heavy tailed
        elif kind == 2:
            series.append(rng.choice([math.nan, -1e12, 0.0, 1e-300]))
        elif kind == 3:
            series.append(float(rng.randint(0, 3)))
        else:
            series.append(rng.gauss(-5, 0.001))
    for score in run(series):
        assert 0.0 <= score.score < 1.0 and math.isfinite(score.surprise)
        assert score.surprise >= 0 and all(p >= 0 for p in score.parts.values())


# "Elsewhere" starts once a few hundred points are known: before that every view's
# history is short and ordinary values still set records (docs/spikes.md).


@pytest.mark.parametrize("seed", range(3))
def test_a_level_shift_scores_high_at_the_change_and_low_elsewhere(seed: int) -> None:
    series = noisy(seed, 2000) + noisy(seed + 10, 1000, level=80.0)  # +10 sd
    scores = run(series)
    before = max(s.score for s in scores[500:2000])
    at_change = scores[2000].score  # flagged on the first shifted point
    after = max(s.score for s in scores[2150:])  # the gate's rest is over; new normal
    assert at_change > 0.6 and at_change > before + 0.1
    assert at_change > after + 0.2


@pytest.mark.parametrize("seed", range(3))
def test_a_spike_is_flagged_and_a_drop_too_unless_rises_only(seed: int) -> None:
    series = noisy(seed + 20, 1500)
    spiked = [*series[:1200], 120.0, *series[1201:]]
    dropped = [*series[:1200], 5.0, *series[1201:]]
    spike, drop = run(spiked), run(dropped)
    calm = max(s.score for s in spike[500:1200])
    assert spike[1200].score > calm + 0.25 and drop[1200].score > calm + 0.2
    rises = NoveltySettings(two_sided=False)
    assert run(spiked, rises)[1200].score > 0.5
    assert run(dropped, rises)[1200].surprise < 1.0


def test_a_long_episode_is_reported_once_then_only_if_worse() -> None:
    settings = NoveltySettings(rest=50, margin=0.4)
    series = noisy(6, 1000) + noisy(7, 40, level=90.0) + noisy(8, 200)
    scores = run(series, settings)
    episode = [s for s in scores[1000:1040] if s.reported]
    assert 1 <= len(episode) <= 3  # the first point, perhaps a clearly worse one
    assert scores[1000].reported
    surprises = [s.surprise for s in episode]
    assert all(b > a + 0.4 for a, b in itertools.pairwise(surprises))
    # unreported points score 0 though their views find them rare: the gate, not the data
    quiet = [s for s in scores[1001:1040] if not s.reported]
    assert quiet and all(s.score == 0.0 for s in quiet)
    assert max(max(s.parts.values()) for s in quiet) > 2


def test_a_daily_rhythm_is_learnt_and_an_off_hours_burst_stands_out() -> None:
    rng = random.Random(9)
    step = timedelta(minutes=30)
    series = [
        (100.0 if 8 <= (T0 + i * step).hour < 20 else 10.0) + rng.gauss(0, 2)
        for i in range(48 * 21)
    ]
    series[48 * 20 + 6] = 100.0  # 03:00 on day 21: a daytime volume at night
    detector = NoveltyDetector(NoveltySettings(views=("daily",)))
    scores = [detector.update(v, T0 + i * step) for i, v in enumerate(series)]
    burst = scores[48 * 20 + 6]
    assert burst.reported and burst.parts["daily"] > 2.5
    assert max(s.score for s in scores[48 * 14 : 48 * 20]) < burst.score - 0.2


@pytest.mark.parametrize("charge", [0.5, 1.0])
def test_the_history_charge_is_paid_past_its_free_start_and_capped_at_the_window(
    charge: float,
) -> None:
    series = noisy(11, 5000)
    early = FREE_HISTORY - 10
    for i in (early, 2000, 4500):  # spikes, so the charge meets large surprises too
        series[i] = 90.0
    free = run(series, NoveltySettings(window=3000, history_charge=0))
    paid = run(series, NoveltySettings(window=3000, history_charge=charge))
    for i, (f, p) in enumerate(zip(free, paid, strict=True)):
        watched = min(i, 3000)  # points learnt before this one, as far as the window goes
        owed = charge * math.log10(watched / FREE_HISTORY) if watched > FREE_HISTORY else 0.0
        assert p.surprise == pytest.approx(max(0.0, f.surprise - owed), abs=1e-12)
        assert p.parts == f.parts  # each view's own figure is not charged
    assert paid[early].surprise == free[early].surprise > 2
    capped = charge * math.log10(3000 / FREE_HISTORY)
    assert paid[4500].surprise == pytest.approx(free[4500].surprise - capped)


def test_warm_up_and_gaps() -> None:
    settings = NoveltySettings(warmup=100)
    detector = NoveltyDetector(settings)
    early = [detector.update(v, T0 + i * STEP) for i, v in enumerate(noisy(10, 100))]
    assert all(s.score == 0 and not s.parts and not s.warm for s in early)
    gap = detector.update(math.nan, T0 + 100 * STEP)
    assert gap.score == 0 and detector.count == 100
    assert detector.update(50.0, T0 + 101 * STEP).warm


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="views"):
        NoveltySettings(views=("value", "tides"))
    with pytest.raises(ValidationError, match="views"):
        NoveltySettings(views=())
    with pytest.raises(ValidationError, match="warmup"):
        NoveltySettings(window=200, warmup=300)
