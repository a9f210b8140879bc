"""The volume rule, and through it the lifecycle every rule type shares: fire once per
episode, resolve after resolve_after, cooldown, distinct ids, late mentions, brands."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.records import AlertState, Severity
from rules.schema import RuleSet
from tests.rules.support import Driver, MakeMention, at

RULES = """
rules:
  - name: acme-volume
    type: volume
    brands: [acme]
    severity: critical
    window: 10m
    threshold: 3
    cooldown: 30m
    receivers: [comms-slack]
    labels: {team: comms}
"""


@pytest.fixture
def d(rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver]) -> Driver:
    return driver(rules_from(RULES))


def test_fires_exactly_at_the_threshold_once_per_episode(d: Driver, mk: MakeMention) -> None:
    assert d.feed(mk(1, 0), mk(2, 1)) == []
    assert d.feed(mk(3, 2)) == [("firing", "acme", at(2))]
    assert d.feed(mk(4, 3), mk(5, 4), mk(6, 5)) == [], "one firing alert per episode"
    fired = d.alerts[0]
    assert (fired.rule, fired.rule_type) == ("acme-volume", "volume")
    assert fired.severity is Severity.CRITICAL
    assert fired.started_at == fired.at == at(2)
    assert fired.summary == "acme: 3 mentions in 10m (threshold 3)"
    assert fired.figures == {"count": 3, "threshold": 3, "window_seconds": 600}
    assert [s.id for s in fired.samples] == [mk(n, 0).mention.id for n in (3, 2, 1)]
    assert fired.receivers == ("comms-slack",) and fired.labels == {"team": "comms"}


def test_resolves_once_when_false_for_resolve_after(d: Driver, mk: MakeMention) -> None:
    d.feed(mk(1, 0), mk(2, 1), mk(3, 2), mk(4, 3), mk(5, 4))
    # 5 mentions, 3 needed: the condition stops when the third oldest (minute 2) leaves the
    # window at minute 12; resolve_after defaults to the window, so it resolves at 22
    assert d.wait(9.5) == []
    assert d.wait(20) == [("resolved", "acme", at(22))]
    fired, resolved = d.alerts
    assert resolved.state is AlertState.RESOLVED
    assert (resolved.fingerprint, resolved.started_at) == (fired.fingerprint, fired.started_at)
    assert resolved.episode == fired.episode and resolved.id != fired.id
    assert resolved.figures["count"] == 0
    assert d.wait(60) == [], "resolved once"


def test_a_condition_that_comes_back_before_resolve_after_continues_the_episode(
    d: Driver, mk: MakeMention
) -> None:
    d.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    assert d.wait(15) == [], "false since minute 10, not yet for 10 minutes"
    assert d.feed(mk(4, 16), mk(5, 17), mk(6, 18)) == []
    assert d.wait(40) == [("resolved", "acme", at(36))]


def test_no_new_episode_within_the_cooldown(d: Driver, mk: MakeMention) -> None:
    d.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    assert d.wait(25) == [("resolved", "acme", at(20))]
    # cooldown runs until minute 50: met again at minute 32, but no alert
    assert d.feed(mk(10, 30), mk(11, 31), mk(12, 32)) == []
    assert d.wait(25) == []
    assert d.feed(mk(20, 60), mk(21, 61)) == []
    assert d.feed(mk(22, 62)) == [("firing", "acme", at(62))]
    assert len({a.episode for a in d.alerts}) == 2


def test_a_condition_still_met_when_the_cooldown_ends_fires_then(
    d: Driver, mk: MakeMention
) -> None:
    d.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    d.wait(25)
    assert d.feed(mk(10, 46), mk(11, 47), mk(12, 48)) == []
    assert d.wait(5) == [("firing", "acme", at(50))]


def test_duplicates_count_once(d: Driver, mk: MakeMention) -> None:
    assert d.feed(mk(1, 0), mk(1, 0), mk(2, 1), mk(2, 1), mk(1, 0)) == []
    assert d.feed(mk(3, 2)) == [("firing", "acme", at(2))]


def test_late_mentions_count_inside_the_window_only(d: Driver, mk: MakeMention) -> None:
    d.feed(mk(1, 10))
    assert d.feed(mk(2, -1)) == [], "published before the window (0, 10]: ignored"
    assert d.feed(mk(3, 5)) == []
    assert d.feed(mk(4, 1)) == [("firing", "acme", at(10))], "late but inside the window"


def test_brands_list_and_star(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = driver(
        rules_from(
            """
            rules:
              - {name: listed, type: volume, brands: [acme], threshold: 2}
              - {name: every, type: volume, brands: "*", threshold: 2}
            """
        )
    )
    assert d.feed(mk(1, 0, brand="globex"), mk(2, 1, brand="acme")) == [], "counted per brand"
    fired = d.feed(mk(3, 2, brand="globex"))
    assert fired == [("firing", "globex", at(2))]
    assert d.alerts[-1].rule == "every", "only the * rule covers globex"
    d.feed(mk(4, 3, brand="acme"))
    assert sorted(a.rule for a in d.alerts if a.brand == "acme") == ["every", "listed"]
    assert len({a.fingerprint for a in d.alerts}) == 3


def test_a_mention_far_in_the_future_cannot_fast_forward_the_windows(
    d: Driver, mk: MakeMention
) -> None:
    d.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    # a source with a broken date: the wall clock stays at minute 2
    assert d.engine.on_mention(mk(4, 24 * 60)) == []
    assert d.engine.now() == at(7), "counted at clock + 5m, not tomorrow"
    assert d.engine.tick() == [], "so the episode is not resolved by it"


def test_idle_keys_are_forgotten(d: Driver, mk: MakeMention) -> None:
    d.feed(mk(1, 0))
    assert d.engine.next_deadline() is None
    d.wait(11)
    assert d.engine._keys == {}
