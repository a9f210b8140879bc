"""The engine across restarts: `restore` continues firing episodes and cooldowns from
the alerts topic's history instead of opening new episodes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from core.records import Alert, AlertState, EnrichedMention
from rules.engine import RulesEngine
from rules.schema import RuleSet
from tests.rules.support import Driver, MakeMention, at

RULES = """
rules:
  - {name: acme-volume, type: volume, brands: [acme], window: 10m, threshold: 3, cooldown: 30m}
"""

STAR = """
rules:
  - {name: volume, type: volume, brands: "*", window: 10m, threshold: 3}
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


def test_a_backlog_is_judged_at_the_times_its_mentions_were_published(
    ruleset: RuleSet, mk: MakeMention
) -> None:
    """After a stall the clock is 40 minutes past a burst still waiting on the bus. Drained
    in its own time, the burst pages (late); once no newer mention has come for
    idle_after (30 s), the clock moves time on and resolves it."""
    d = Driver(ruleset)
    d.clock.set(at(40))
    assert _drain(d, mk(1, 0), mk(2, 1), mk(3, 2), mk(4, 3)) == [("firing", "acme", at(2))]
    assert d.engine.now() == at(3)
    d.clock.advance(29)
    assert d.engine.tick() == []
    d.clock.advance(1)
    # minute 1 left the window at 11, resolve_after (10m) ends at 21
    assert [(a.state, a.at) for a in d.engine.tick()] == [(AlertState.RESOLVED, at(21))]
    assert d.engine.now() == at(40), "the clock (40:30) less idle_after"


def test_with_the_clock_standing_in_at_once_a_backlogged_burst_is_lost(
    ruleset: RuleSet, mk: MakeMention
) -> None:
    """What ``idle_after`` guards against (the replay's settings, right only when the
    clock follows the mentions): every mention of the backlog is outside its window."""
    d = Driver(ruleset)
    d.engine = RulesEngine(ruleset, d.clock, max_lag=timedelta(0), idle_after=timedelta(0))
    d.clock.set(at(40))
    assert _drain(d, mk(1, 0), mk(2, 1), mk(3, 2), mk(4, 3)) == []


def _drain(d: Driver, *mentions: EnrichedMention) -> list[tuple[str, str, datetime]]:
    """Feed a backlog as the stage drains it, ticking after each mention (the clock stands
    still: draining takes less than idle_after)."""
    out: list[Alert] = []
    for m in mentions:
        out += d.engine.on_mention(m)
        out += d.engine.tick()
    return [(a.state.value, a.brand, a.at) for a in out]


def test_a_brand_read_behind_the_others_keeps_its_window(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    """A backlog read one partition's batch at a time: globex's batch runs 12 minutes
    ahead of acme's, yet acme's burst is judged in its own time."""
    d = Driver(rules_from(STAR))
    d.clock.set(at(60))
    assert _drain(d, mk(1, 20, brand="globex"), mk(2, 22, brand="globex")) == []
    fired = _drain(d, mk(3, 8), mk(4, 9), mk(5, 10))
    assert fired == [("firing", "acme", at(10))]


def test_a_brand_read_more_than_max_lag_behind_is_judged_at_that_lag(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    d = Driver(rules_from(STAR))
    d.clock.set(at(60))
    _drain(d, mk(1, 40, brand="globex"))
    # acme's time is at least 40 - 15 = 25: its burst at 0-2 is outside the window (15, 25]
    assert _drain(d, mk(3, 0), mk(4, 1), mk(5, 2)) == []
    assert _drain(d, mk(6, 20), mk(7, 21), mk(8, 22)) == [("firing", "acme", at(25))]


def test_a_quiet_brand_resolves_while_the_stream_never_pauses(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    """Newer mentions keep coming, so the clock never stands in: acme's episode resolves
    when the stream's newest mention is max_lag past its resolution (due at 20)."""
    d = Driver(rules_from(STAR))
    d.clock.set(at(0))
    assert _drain(d, mk(1, 0), mk(2, 1), mk(3, 2)) == [("firing", "acme", at(2))]
    busy = [mk(10 + n, n, brand="globex") for n in range(3, 36)]
    d.clock.set(at(35))
    assert [a for a in _drain(d, *busy[:-1]) if a[1] == "acme"] == []  # newest: 34
    assert [a for a in _drain(d, busy[-1]) if a[1] == "acme"] == [("resolved", "acme", at(20))]
    assert d.engine.now() == at(35)


def test_a_mention_dated_in_year_one_is_late_not_a_crash(ruleset: RuleSet, mk: MakeMention) -> None:
    # it passes validation; its date overflowed the engine's arithmetic, so the stage
    # retried that record for good (a poison record blocking the stream)
    d = Driver(ruleset)
    d.clock.set(at(5))
    ancient = mk(1, 0)
    body = ancient.model_dump()
    body["mention"]["published_at"] = datetime(1, 1, 1, tzinfo=UTC)
    body["mention"]["id"] = ""
    assert d.feed(EnrichedMention.model_validate(body)) == []
    assert d.feed(mk(2, 3), mk(3, 4), mk(4, 5)) == [("firing", "acme", at(5))]
