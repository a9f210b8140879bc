"""The engine across restarts: `restore` continues firing episodes and cooldowns from
the alerts topic's history instead of opening new episodes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.records import Alert, AlertState
from rules.schema import RuleSet
from tests.rules.support import Driver, MakeMention, at

RULES = """
rules:
  - {name: acme-volume, type: volume, brands: [acme], window: 10m, threshold: 3, cooldown: 30m}
"""


@pytest.fixture
def ruleset(rules_from: Callable[[str], RuleSet]) -> RuleSet:
    return rules_from(RULES)


def restarted(ruleset: RuleSet, history: list[Alert], minutes: float) -> Driver:
    d = Driver(ruleset)
    d.clock.set(at(minutes))
    d.engine.restore(history)
    return d


def test_a_firing_episode_continues_after_a_restart(ruleset: RuleSet, mk: MakeMention) -> None:
    before = Driver(ruleset)
    before.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    (fired,) = before.alerts
    after = restarted(ruleset, before.alerts, 4)
    assert after.engine.firing == [fired]
    assert after.feed(mk(4, 5), mk(5, 6), mk(6, 7)) == [], "not fired again"
    # the new process counts minutes 5, 6, 7: false from 15 when minute 5 leaves
    assert after.wait(30) == [("resolved", "acme", at(25))]
    resolved = after.alerts[0]
    assert resolved.episode == fired.episode and resolved.fingerprint == fired.fingerprint
    assert resolved.started_at == at(2)


def test_a_restored_episode_nobody_confirms_resolves_resolve_after_the_restart(
    ruleset: RuleSet, mk: MakeMention
) -> None:
    before = Driver(ruleset)
    before.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    after = restarted(ruleset, before.alerts, 45)
    assert after.wait(20) == [("resolved", "acme", at(55))]


def test_a_cooldown_survives_a_restart(ruleset: RuleSet, mk: MakeMention) -> None:
    before = Driver(ruleset)
    before.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    before.wait(25)
    assert [a.state for a in before.alerts] == [AlertState.FIRING, AlertState.RESOLVED]
    after = restarted(ruleset, before.alerts, 30)  # resolved at 20: cooling down until 50
    assert after.feed(mk(4, 31), mk(5, 32), mk(6, 33)) == []
    assert after.feed(mk(7, 51), mk(8, 52), mk(9, 53)) == [("firing", "acme", at(53))]


def test_restore_keeps_the_latest_state_and_ignores_rules_no_longer_configured(
    ruleset: RuleSet, rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    before = Driver(ruleset)
    before.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    before.wait(25)
    fired, resolved = before.alerts
    other = Driver(rules_from(RULES.replace("acme-volume", "old-rule")))
    other.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    after = restarted(ruleset, [resolved, fired, *other.alerts], 21)
    assert after.engine.firing == [], "the older firing state does not override the resolution"
    assert after.feed(mk(4, 22), mk(5, 23), mk(6, 24)) == [], "still cooling down"


def test_restore_emits_nothing_and_a_later_episode_is_a_new_one(
    ruleset: RuleSet, mk: MakeMention
) -> None:
    before = Driver(ruleset)
    before.feed(mk(1, 0), mk(2, 1), mk(3, 2))
    before.wait(60)
    after = restarted(ruleset, before.alerts, 100)
    assert after.engine.tick() == [] and after.engine.next_deadline() is None
    assert after.feed(mk(10, 101), mk(11, 102), mk(12, 103)) == [("firing", "acme", at(103))]
    assert after.alerts[0].episode != before.alerts[0].episode
    assert after.alerts[0].fingerprint == before.alerts[0].fingerprint
