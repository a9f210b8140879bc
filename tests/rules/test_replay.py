"""Dry runs: `replay` of a sample through a rule set, and `format_alert` for the CLI."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from core.records import AlertState, EnrichedMention, Sentiment, Velocity
from rules import EXAMPLES_DIR
from rules.replay import format_alert, replay, replay_ordered
from rules.schema import RuleSet, load_rules
from tests.rules.support import MakeMention, at


def two_bursts(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> tuple[RuleSet, list[EnrichedMention]]:
    """A volume rule (3 in 10 minutes) and two bursts of three mentions, 40 minutes apart."""
    ruleset = rules_from(
        """
        rules:
          - {name: v, type: volume, brands: [acme], window: 10m, threshold: 3, cooldown: 0s}
        """
    )
    return ruleset, [mk(n, m) for n, m in enumerate([0, 1, 2, 40, 41, 42])]


def test_replay_orders_by_event_time_and_ticks_resolutions_in_between(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    ruleset, sample = two_bursts(rules_from, mk)
    random.Random(7).shuffle(sample)
    alerts = replay(ruleset, sample)
    assert [(a.state, a.at) for a in alerts] == [
        (AlertState.FIRING, at(2)),
        (AlertState.RESOLVED, at(20)),  # false from 10 (minute 0 leaves), +10m
        (AlertState.FIRING, at(42)),
        (AlertState.RESOLVED, at(60)),
    ]
    assert replay(ruleset, sample, drain=False)[-1].state is AlertState.FIRING
    assert replay(ruleset, []) == []


def test_replay_ordered_answers_each_mention_before_reading_the_next(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    ruleset, sample = two_bursts(rules_from, mk)
    read: list[int] = []

    def stream() -> Iterator[EnrichedMention]:
        for n, mention in enumerate(sample):
            read.append(n)
            yield mention

    alerts = replay_ordered(ruleset, stream(), drain=False)
    first = next(alerts)
    assert (first.state, first.at, read) == (AlertState.FIRING, at(2), [0, 1, 2])
    assert [(a.state, a.at) for a in alerts] == [
        (AlertState.RESOLVED, at(20)),
        (AlertState.FIRING, at(42)),
    ]
    assert list(replay_ordered(ruleset, [])) == []


def crisis_sample(mk: MakeMention) -> list[EnrichedMention]:
    """Two normal hours of acme (30 an hour, a tenth negative), then a quarter hour of
    outrage: 60 mentions, 70 % negative, some calling for a boycott, velocity spiking."""
    out = []
    for i in range(60):
        sentiment = Sentiment.NEGATIVE if i % 10 == 0 else Sentiment.NEUTRAL
        velocity = Velocity(
            window_count=7 + i % 3, baseline=7.5, zscore=0.4, surprise=0.3, novelty=0.2 * (i % 4)
        )
        out.append(mk(i, 2 * i, sentiment=sentiment, velocity=velocity))
    for j in range(60):
        negative = j % 10 < 7
        velocity = Velocity(
            window_count=8 + j, baseline=7.5, zscore=(j + 0.5) / 2.7, surprise=j / 3, novelty=j / 4
        )
        out.append(
            mk(
                100 + j,
                120 + j / 4,
                sentiment=Sentiment.NEGATIVE if negative else Sentiment.NEUTRAL,
                score=-0.8 if negative else 0.0,
                text="Acme, never again. #BoycottAcme" if j % 5 == 0 else "Acme toaster on fire",
                velocity=velocity,
            )
        )
    return out


def test_the_example_rules_stay_quiet_on_normal_traffic_and_catch_the_outrage(
    mk: MakeMention,
) -> None:
    ruleset = load_rules([EXAMPLES_DIR / "crisis.yaml"])
    alerts = replay(ruleset, crisis_sample(mk))
    assert all(a.started_at >= at(120) for a in alerts), "nothing in the normal hours"
    fired = {a.rule: a for a in alerts if a.state is AlertState.FIRING}
    assert set(fired) == {r.name for r in ruleset}, "every rule catches the outrage"
    assert all(a.at <= at(135) for a in fired.values()), "within the quarter hour"
    resolved = [a for a in alerts if a.state is AlertState.RESOLVED]
    assert sorted(a.episode for a in resolved) == sorted(a.episode for a in fired.values())
    assert [a.at for a in alerts] == sorted(a.at for a in alerts)
    assert fired["acme-crisis-words"].receivers == ("comms-oncall-email",)
    assert len(fired["acme-volume"].samples) == 5, "at most five samples"
    assert len(fired["acme-crisis-words"].samples) == 3, "only the matching mentions"


def test_format_alert_is_two_readable_lines(
    rules_from: Callable[[str], RuleSet], mk: MakeMention
) -> None:
    ruleset = rules_from(
        """
        rules:
          - name: acme-volume
            type: volume
            brands: [acme]
            severity: critical
            window: 10m
            threshold: 2
            receivers: [comms-slack, comms-email]
          - {name: quiet, type: volume, brands: [acme], threshold: 2}
        """
    )
    alerts = replay(ruleset, [mk(1, 0), mk(2, 5)])
    firing, resolved = [a for a in alerts if a.rule == "acme-volume"]
    assert format_alert(firing) == (
        "2026-03-02 09:05:00 UTC  FIRING    critical  acme-volume (volume)  brand=acme\n"
        "    acme: 2 mentions in 10m (threshold 2)  -> comms-slack, comms-email"
    )
    assert format_alert(resolved) == (
        "2026-03-02 09:20:00 UTC  RESOLVED  critical  acme-volume (volume)  brand=acme"
        "  (firing since 09:05:00)\n"
        "    acme: 0 mentions in 10m (threshold 2)  -> comms-slack, comms-email"
    )
    quiet = next(a for a in alerts if a.rule == "quiet")
    assert format_alert(quiet).endswith("-> (default route)")
