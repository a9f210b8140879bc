"""The spike rule: judged on the latest velocity reading the enrich stage computed."""

from __future__ import annotations

from collections.abc import Callable

from core.records import Velocity
from rules.schema import RuleSet
from tests.rules.support import Driver, MakeMention, at


def v(count: int, z: float, surprise: float = 0.0) -> Velocity:
    return Velocity(window_count=count, baseline=4.0, zscore=z, surprise=surprise)


def spike_rule(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], extra: str = ""
) -> Driver:
    return driver(
        rules_from(
            f"""
            rules:
              - name: acme-spike
                type: spike
                brands: [acme]
                window: 15m
                min_zscore: 3
                min_count: 5
                cooldown: 0s
                {extra}
            """
        )
    )


def test_fires_on_a_spiking_reading_once_and_resolves_after_the_reading_that_ends_it(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = spike_rule(rules_from, driver)
    assert d.feed(mk(1, 0, velocity=v(4, 0.1)), mk(2, 1, velocity=v(5, 2.9))) == []
    assert d.feed(mk(3, 2, velocity=v(12, 4.2, 7.5))) == [("firing", "acme", at(2))]
    assert d.feed(mk(4, 3, velocity=v(20, 6.0))) == []
    fired = d.alerts[0]
    assert fired.figures["zscore"] == 4.2 and fired.figures["window_count"] == 12
    assert fired.figures["min_zscore"] == 3 and "min_surprise" not in fired.figures
    assert fired.summary == (
        "acme: 12 mentions in the velocity window against 4.0 expected"
        " (z-score 4.2, surprise 7.5, novelty 0.0)"
    )
    # the reading at minute 10 says the spike is over (5 mentions: under half the 12 it
    # began at); resolved 15m (the window) later
    assert d.feed(mk(5, 10, velocity=v(5, 0.5))) == []
    assert d.wait(30) == [("resolved", "acme", at(25))]


def test_a_surge_that_goes_on_holds_its_episode_though_it_stops_being_unusual(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    # the detectors learn every window: an ongoing surge soon reads ordinary to them. It
    # "resolved" while mentions stayed high, then paged again for the same surge
    d = spike_rule(rules_from, driver)
    assert d.feed(mk(1, 0, velocity=v(12, 4.2))) == [("firing", "acme", at(0))]
    readings = [mk(n, n, velocity=v(30, 0.5)) for n in range(2, 90, 2)]  # 30, no longer rare
    assert d.feed(*readings) == []
    assert d.feed(mk(100, 90, velocity=v(4, 0.0))) == []  # back to normal
    assert d.wait(40) == [("resolved", "acme", at(105))]


def test_a_reading_goes_stale_when_mentions_stop(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = spike_rule(rules_from, driver)
    assert d.feed(mk(1, 0, velocity=v(30, 8.0))) == [("firing", "acme", at(0))]
    # current until minute 15, then false for resolve_after (the window): resolved at 30
    assert d.wait(40) == [("resolved", "acme", at(30))]


def test_min_count_keeps_a_quiet_brand_from_spiking(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = spike_rule(rules_from, driver)
    assert d.feed(mk(1, 0, velocity=v(4, 12.0))) == []
    assert d.feed(mk(2, 1, velocity=v(5, 12.0))) == [("firing", "acme", at(1))]


def test_match_any_or_all_of_zscore_and_surprise(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    any_ = spike_rule(rules_from, driver, "min_surprise: 6")
    assert any_.feed(mk(1, 0, velocity=v(10, 1.0, 6.5))) == [("firing", "acme", at(0))]
    all_ = spike_rule(rules_from, driver, "min_surprise: 6\n                match: all")
    assert all_.feed(mk(1, 0, velocity=v(10, 1.0, 6.5))) == []
    assert all_.feed(mk(2, 1, velocity=v(10, 3.5, 5.0))) == []
    assert all_.feed(mk(3, 2, velocity=v(10, 3.5, 6.0))) == [("firing", "acme", at(2))]


def test_min_novelty_judges_the_reading_against_the_brands_own_history(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = spike_rule(rules_from, driver, "min_novelty: 3\n                match: all")
    high_z_but_usual = Velocity(window_count=10, baseline=4.0, zscore=5.0, novelty=1.2)
    assert d.feed(mk(1, 0, velocity=high_z_but_usual)) == []
    novel = Velocity(window_count=10, baseline=4.0, zscore=5.0, novelty=3.4)
    assert d.feed(mk(2, 1, velocity=novel)) == [("firing", "acme", at(1))]
    assert d.alerts[0].figures["novelty"] == 3.4 and d.alerts[0].figures["min_novelty"] == 3


def test_the_latest_reading_by_event_time_counts_not_the_latest_to_arrive(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = spike_rule(rules_from, driver)
    d.feed(mk(1, 5, velocity=v(3, 0.0)))
    assert d.feed(mk(2, 4, velocity=v(30, 9.0))) == [], "a late spiking reading is older"
    assert d.feed(mk(3, 6, velocity=v(30, 9.0))) == [("firing", "acme", at(6))]


def test_mentions_without_velocity_and_duplicates_are_ignored(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = spike_rule(rules_from, driver)
    assert d.feed(mk(1, 0, velocity=v(30, 9.0))) == [("firing", "acme", at(0))]
    # neither a mention without a reading nor the spiking one again keeps it current
    assert d.feed(mk(2, 20), mk(1, 0, velocity=v(30, 9.0))) == []
    assert d.wait(15) == [("resolved", "acme", at(30))]
