from __future__ import annotations

import pytest

from enrich.detectors.gate import EpisodeGate


def test_one_report_per_episode_unless_it_gets_clearly_worse() -> None:
    gate = EpisodeGate(rest=5, margin=1.0)
    assert gate.admits(3.0)
    assert gate.step(3.0)  # the episode starts: reported
    assert not gate.step(3.5)  # not clearly worse
    assert not gate.step(2.0)
    assert gate.step(4.5)  # clearly worse: reported, and now the bar is 4.5 + 1
    assert [gate.step(5.0) for _ in range(5)] == [False] * 5
    assert gate.step(0.1)  # the rest is over: a new episode may start


def test_admits_is_pure_and_gaps_count_as_time() -> None:
    gate = EpisodeGate(rest=3, margin=0.0)
    gate.step(2.0)
    assert gate.admits(1.0) is False and gate.admits(1.0) is False
    gate.skip()
    gate.skip()
    assert not gate.admits(1.0)
    gate.skip()
    assert gate.admits(1.0)


def test_without_rest_everything_is_reported() -> None:
    gate = EpisodeGate(rest=0, margin=5.0)
    assert all(gate.step(s) for s in (1.0, 0.5, 0.1))


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        EpisodeGate(rest=-1)
