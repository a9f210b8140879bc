"""``volume``: at least ``threshold`` distinct mentions of the brand within ``window``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from core.records import EnrichedMention
from rules.types.base import (
    Check,
    MentionWindow,
    PositiveDuration,
    Reading,
    Rule,
    RuleState,
    format_duration,
    latest_samples,
)


class VolumeRule(Rule):
    """Fires when the brand is mentioned at least ``threshold`` times within ``window``."""

    type: Literal["volume"]
    window: PositiveDuration = timedelta(minutes=10)
    """The sliding event-time window mentions are counted in."""
    threshold: int = Field(ge=1)
    """Distinct mentions within the window that make the rule fire."""

    def new_state(self, brand: str, max_mentions: int) -> RuleState:
        return VolumeState(self, brand, max_mentions)


class VolumeState(RuleState):
    def __init__(self, rule: VolumeRule, brand: str, max_mentions: int) -> None:
        self._rule = rule
        self._brand = brand
        self._window = MentionWindow(rule.window, max_mentions)

    def observe(self, mention: EnrichedMention, at: datetime, now: datetime) -> None:
        self._window.add(mention, at, now)

    def check(self, now: datetime) -> Check:
        return self._window.count_check(now, self._rule.threshold)

    def read(self, now: datetime) -> Reading:
        rule = self._rule
        entries = self._window.entries(now)
        return Reading(
            summary=(
                f"{self._brand}: {len(entries)} mentions in {format_duration(rule.window)} "
                f"(threshold {rule.threshold})"
            ),
            figures={
                "count": len(entries),
                "threshold": rule.threshold,
                "window_seconds": rule.window.total_seconds(),
            },
            samples=latest_samples(entries),
        )

    def prune(self, now: datetime) -> None:
        self._window.prune(now)

    @property
    def empty(self) -> bool:
        return len(self._window) == 0
