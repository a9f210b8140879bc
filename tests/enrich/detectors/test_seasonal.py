from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from enrich.detectors.seasonal import DailyProfile

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def daily_value(when: datetime) -> float:
    """Busy by day, quiet by night."""
    return 100.0 if 8 <= when.hour < 20 else 10.0


def test_learns_the_time_of_day_and_flags_what_is_off_pattern() -> None:
    rng = random.Random(4)
    profile = DailyProfile()
    step = timedelta(minutes=30)
    for i in range(48 * 10):  # ten days
        when = T0 + i * step
        profile.learn(daily_value(when) + rng.gauss(0, 2), when)
    noon, three_am = T0 + timedelta(days=11, hours=12), T0 + timedelta(days=11, hours=3)
    ordinary = [profile.residual(daily_value(t), t) for t in (noon, three_am)]
    assert all(r is not None and abs(r) < 2 for r in ordinary)
    # noon's volume at 3 a.m. is far off the profile, though ordinary for the series
    burst = profile.residual(100.0, three_am)
    drop = profile.residual(10.0, noon)
    assert burst is not None and burst > 5
    assert drop is not None and drop < -5


def test_nothing_is_claimed_before_the_slot_is_known_and_residual_is_pure() -> None:
    profile = DailyProfile()
    assert profile.residual(5.0, T0) is None
    profile.learn(5.0, T0)
    profile.learn(6.0, T0 + timedelta(minutes=5))  # fixes the step at 5 minutes
    assert profile.residual(5.0, T0 + timedelta(hours=1)) is None  # an unseen slot
    for day in range(1, 4):
        profile.learn(5.0 + day, T0 + timedelta(days=day))
    first = profile.residual(30.0, T0 + timedelta(days=4))
    assert first is not None and math.isfinite(first)
    assert profile.residual(30.0, T0 + timedelta(days=4)) == first


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        DailyProfile(slot_alpha=0)
