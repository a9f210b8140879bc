from __future__ import annotations

import math
import random

import pytest

from enrich.detectors.rank import TrailingRank, hill_index


def brute_upper(past: list[float], x: float) -> float:
    return math.log10((sum(1 for v in past if v >= x) + 1) / (len(past) + 1))


def brute_both(past: list[float], x: float) -> float:
    above = sum(1 for v in past if v >= x)
    below = sum(1 for v in past if v <= x)
    return min(0.0, math.log10(2 * (min(above, below) + 1) / (len(past) + 1)))


@pytest.mark.parametrize("seed", range(3))
def test_inside_the_range_it_is_the_empirical_tail_of_the_last_window(seed: int) -> None:
    rng = random.Random(seed)
    upper = TrailingRank(200, two_sided=False, min_count=10)
    both = TrailingRank(200, two_sided=True, min_count=10)
    past: list[float] = []
    for _ in range(700):  # well past the window, so forgetting is exercised
        x = round(rng.expovariate(1.0), 2)  # ties included
        if len(past) >= 10 and min(past[-200:]) <= x <= max(past[-200:]):
            assert upper.log10_sf(x) == pytest.approx(brute_upper(past[-200:], x))
            assert both.log10_sf(x) == pytest.approx(brute_both(past[-200:], x))
        upper.add(x)
        both.add(x)
        past.append(x)
    assert len(upper) == len(both) == 200


def test_beyond_the_record_rarer_the_further_out_and_always_finite() -> None:
    rng = random.Random(5)
    rank = TrailingRank(1000, two_sided=True)
    for _ in range(1000):
        rank.add(rng.gauss(10.0, 1.0))
    top, bottom = rank.quantile(1.0), rank.quantile(0.0)
    n = len(rank)
    inside_top = rank.log10_sf(top)
    ups = [rank.log10_sf(top + d) for d in (0.01, 1.0, 10.0, 1e6)]
    downs = [rank.log10_sf(bottom - d) for d in (0.01, 1.0, 10.0, 1e6)]
    for tail in (ups, downs):
        assert all(math.isfinite(v) for v in tail)
        assert tail == sorted(tail, reverse=True) and tail[0] > tail[-1] + 3
        # past the record is rarer than anything seen: below the empirical 2/(n+1)
        assert tail[0] <= math.log10(2 / (n + 1)) + 1e-12
    assert inside_top > ups[0]


def test_asking_does_not_learn_and_nothing_is_claimed_before_min_count() -> None:
    rank = TrailingRank(100, two_sided=False, min_count=20)
    for i in range(19):
        rank.add(float(i))
    assert not rank.ready and rank.log10_sf(1e9) == 0.0
    rank.add(19.0)
    probe = rank.log10_sf(50.0)
    assert rank.log10_sf(50.0) == probe and len(rank) == 20
    assert probe < math.log10(1 / 21) and rank.log10_sf(-5.0) == 0.0


def test_a_constant_window_still_orders_departures() -> None:
    rank = TrailingRank(100, two_sided=True, min_count=10)
    for _ in range(100):
        rank.add(45.0)
    assert rank.log10_sf(45.0) == 0.0
    up, down = rank.log10_sf(45.5), rank.log10_sf(40.0)
    assert math.isfinite(up) and math.isfinite(down) and up < -1.5 and down < -1.5


def test_never_positive() -> None:
    rng = random.Random(9)
    rank = TrailingRank(300, two_sided=True, min_count=5)
    for _ in range(400):
        x = rng.choice([0.0, 1.0, rng.gauss(0, 5), rng.expovariate(0.1)])
        assert rank.log10_sf(x) <= 0.0
        rank.add(x)


def test_hill_index_recovers_a_pareto_tail() -> None:
    rng = random.Random(1)
    alpha = 2.5
    sample = sorted(rng.paretovariate(alpha) for _ in range(20_000))
    assert hill_index(sample[-1000:]) == pytest.approx(alpha, rel=0.15)
    assert hill_index([1.0, -2.0]) == 5.0  # too little to estimate: the fallback


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="window"):
        TrailingRank(5, two_sided=True)
    with pytest.raises(ValueError, match="tail_fraction"):
        TrailingRank(100, two_sided=True, tail_fraction=0.7)
    with pytest.raises(ValueError, match="no values"):
        TrailingRank(100, two_sided=True).quantile(0.5)
