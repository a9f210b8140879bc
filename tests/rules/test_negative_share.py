"""The negative_share rule: share of negative mentions within the window, with a minimum
volume; the share can rise and fall as mentions leave the window."""

from __future__ import annotations

from collections.abc import Callable

from core.records import Sentiment
from rules.schema import RuleSet
from tests.rules.support import Driver, MakeMention, at

NEG = Sentiment.NEGATIVE
POS = Sentiment.POSITIVE


def share_rule(
    rules_from: Callable[[str], RuleSet],
    driver: Callable[[RuleSet], Driver],
    threshold: float = 0.5,
) -> Driver:
    return driver(
        rules_from(
            f"""
            rules:
              - name: acme-tone
                type: negative_share
                brands: [acme]
                window: 1h
                threshold: {threshold}
                min_volume: 4
                resolve_after: 10m
            """
        )
    )


def test_fires_at_the_share_with_enough_volume_and_samples_the_most_negative(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = share_rule(rules_from, driver)
    negatives = [mk(1, 0, sentiment=NEG, score=-0.2), mk(2, 1, sentiment=NEG, score=-0.9)]
    assert d.feed(*negatives, mk(3, 2, sentiment=NEG, score=-0.5)) == [], "3 < min_volume"
    assert d.feed(mk(4, 3, sentiment=POS, score=0.8)) == [("firing", "acme", at(3))]
    fired = d.alerts[0]
    assert fired.figures["share"] == 0.75 and fired.figures["negative"] == 3
    assert fired.figures["count"] == 4
    assert fired.summary == ("acme: 75% negative (3 of 4 mentions in 1h; threshold 50%, min 4)")
    assert [s.id for s in fired.samples] == [mk(n, 0).mention.id for n in (2, 3, 1)]
    assert all(s.sentiment is NEG for s in fired.samples)


def test_diluted_by_new_mentions_it_resolves_resolve_after_later(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = share_rule(rules_from, driver)
    assert d.feed(*(mk(n, n, sentiment=NEG) for n in range(4))) == [("firing", "acme", at(3))]
    assert d.feed(mk(10, 5), mk(11, 6), mk(12, 7)) == []
    assert d.feed(mk(13, 8)) == [], "4 of 8 is still 50%"
    assert d.feed(mk(14, 9)) == [], "4 of 9: false from minute 9"
    assert d.wait(15) == [("resolved", "acme", at(19))]


def test_the_share_can_rise_with_time_alone(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = share_rule(rules_from, driver, threshold=0.6)
    d.feed(*(mk(n, n) for n in range(4)))  # neutral, minutes 0-3
    assert d.feed(*(mk(10 + n, 30 + n, sentiment=NEG) for n in range(4))) == []  # 4 of 8
    assert d.engine.next_deadline() == at(60), "look again when the first neutral one leaves"
    # the neutral ones leave at 60, 61, ...: 4 of 7 (57%) at 60, 4 of 6 (67%) at 61
    assert d.wait(35) == [("firing", "acme", at(61))]
    # and it lasts until the negatives leave: from 90 on (no mentions), resolved at 100
    assert d.wait(40) == [("resolved", "acme", at(100))]
