from __future__ import annotations

import math
import random

import pytest

from enrich.detectors.transitions import TransitionNovelty


def test_levels_are_geometric_around_the_median() -> None:
    t = TransitionNovelty(width=0.5, base=2.0)
    # unit = 0.5 * iqr = 1
    assert t.level(10.4, 10.0, 2.0) == 0 and t.level(9.2, 10.0, 2.0) == 0
    assert [t.level(10.0 + d, 10.0, 2.0) for d in (1.5, 3.0, 5.0, 9.0, 17.0)] == [1, 2, 3, 4, 5]
    assert t.level(10.0 - 3.0, 10.0, 2.0) == -2
    # a constant series (IQR 0) still gives finite levels, and absurd values are clamped
    assert t.level(10.0 + 1e-3, 10.0, 0.0) > 10 and t.level(1e300, 0.0, 1e-300) == 1001


def test_a_learnt_rhythm_is_unsurprising_and_a_broken_one_is() -> None:
    t = TransitionNovelty()
    for _ in range(200):  # low, high, low, high, ...
        t.learn(0)
        t.learn(3)
    usual = t.surprise(0)  # high -> low: what always happens
    stay_high = t.surprise(3)  # high -> high: a common level, a move never seen
    new_level = t.surprise(2)  # a level never seen at all
    assert usual < stay_high < new_level
    assert new_level > 2.5 and usual < 0.5
    assert all(math.isfinite(x) and x > 0 for x in (usual, stay_high, new_level))


def test_surprise_is_pure() -> None:
    t = TransitionNovelty()
    for level in [0, 1, 0, 1, 0]:
        t.learn(level)
    first = t.surprise(4)
    assert t.surprise(4) == first


def test_old_habits_fade_and_memory_stays_bounded() -> None:
    rng = random.Random(2)
    t = TransitionNovelty(memory=100)
    for _ in range(300):
        t.learn(0)
    # then the series moves to a new regime for a long time
    for i in range(2000):
        t.learn(5 + (i % 2))
    # the old level is nearly forgotten (halved many times, then dropped)
    assert t.surprise(0) > t.surprise(6) + 1.5
    # a drifting series visits ~3,000 distinct transitions; only the recent ones are kept
    for i in range(20_000):
        t.learn(i // 100 + rng.randint(0, 3))
    levels, transitions = t.size
    assert levels <= 20 and transitions <= 100


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        TransitionNovelty(width=0)
    with pytest.raises(ValueError):
        TransitionNovelty(base=1.0)
