"""The surge bench: its Poisson arrivals, its checks, and a whole (small) run."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.surge import Check, arrivals, main, run  # noqa: E402
from core.records import Velocity  # noqa: E402


def test_arrivals_follow_the_rate_they_are_given() -> None:
    # 2 per second for 5,000 s, then 0.5: counts within 5 Poisson deviations of 10,000
    # and 2,500, in order, and nothing at or past the end
    times = list(arrivals(random.Random(1), lambda t: 2.0 if t < 5000 else 0.5, 2.0, 10_000))
    first = sum(1 for t in times if t < 5000)
    assert abs(first - 10_000) < 5 * 10_000**0.5
    assert abs(len(times) - first - 2_500) < 5 * 2_500**0.5
    assert times == sorted(times) and times[-1] < 10_000


def test_a_check_reads_its_field() -> None:
    v = Velocity(window_count=9, baseline=3.0, zscore=3.5, surprise=2.0, novelty=3.1)
    assert Check("novelty", "novelty", 3.1).reached(v)
    assert not Check("Poisson surprise", "surprise", 6).reached(v)
    assert Check("z-score", "zscore", 3).name == "z-score >= 3"


def test_a_doubling_is_flagged_and_a_calm_day_mostly_is_not() -> None:
    outcome = run(5.0, seed=0, tests=[Check("novelty", "novelty", 1.7)])
    after = outcome.flagged_after["novelty >= 1.7"]
    assert after is not None and 0 < after < 60
    assert outcome.calm_hours["novelty >= 1.7"] <= 6


def test_the_command_prints_every_check_for_every_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rates", "2", "--seeds", "1", "--novelty", "3"]) == 0
    out = capsys.readouterr().out
    for label in ("novelty >= 3", "z-score >= 3", "Poisson surprise >= 6", "machine: "):
        assert label in out


def test_bad_options_are_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--rates", "0"])
