"""``keyword``: at least ``min_count`` mentions of the brand within ``window`` contain one
of ``phrases`` in their title or text (matching: `rules.text`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator

from core.records import EnrichedMention
from rules.text import PhraseMatcher, fold
from rules.types.base import (
    Check,
    MentionWindow,
    PositiveDuration,
    Reading,
    Rule,
    RuleState,
    error,
    format_duration,
    latest_samples,
)


class KeywordRule(Rule):
    """Fires when at least ``min_count`` mentions within ``window`` contain any of
    ``phrases`` (case-insensitive, umlaut-tolerant, hashtags allowed)."""

    type: Literal["keyword"]
    window: PositiveDuration = timedelta(hours=1)
    """The sliding event-time window matching mentions are counted in."""
    phrases: tuple[str, ...]
    """Words, phrases or hashtags, e.g. boycott, lawsuit, Rückruf, #boycottacme."""
    min_count: int = Field(default=1, ge=1)
    """Matching mentions within the window that make the rule fire."""

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise error("name at least one phrase")
        # a YAML block scalar ends in a line break: that would reach every page's summary
        value = tuple(" ".join(p.split()) for p in value)
        folded = [fold(p).split() for p in value]
        if not all(folded):
            raise error("a phrase cannot be empty")
        if len({tuple(f) for f in folded}) != len(folded):
            raise error("a phrase is listed twice (case and umlauts are ignored)")
        return value

    @cached_property
    def matcher(self) -> PhraseMatcher:
        return PhraseMatcher(self.phrases)

    def new_state(self, brand: str, max_mentions: int) -> RuleState:
        return KeywordState(self, brand, max_mentions)


class KeywordState(RuleState):
    def __init__(self, rule: KeywordRule, brand: str, max_mentions: int) -> None:
        self._rule = rule
        self._brand = brand
        self._window = MentionWindow(rule.window, max_mentions)
        self._found: dict[str, tuple[str, ...]] = {}
        """Mention id -> the phrases it contains, for the mentions in the window."""

    def observe(self, mention: EnrichedMention, at: datetime, now: datetime) -> None:
        m = mention.mention
        found = self._rule.matcher.find(m.title, m.text)
        if found and self._window.add(mention, at, now):
            self._found[m.id] = found

    def check(self, now: datetime) -> Check:
        return self._window.count_check(now, self._rule.min_count)

    def read(self, now: datetime) -> Reading:
        rule = self._rule
        entries = self._window.entries(now)
        seen = {p for e in entries for p in self._found.get(e.mention.mention.id, ())}
        phrases = ", ".join(p for p in rule.phrases if p in seen) or "none of the phrases"
        return Reading(
            summary=(
                f"{self._brand}: {len(entries)} mentions in {format_duration(rule.window)} "
                f"with {phrases} (min {rule.min_count})"
            ),
            figures={
                "count": len(entries),
                "min_count": rule.min_count,
                "window_seconds": rule.window.total_seconds(),
            },
            samples=latest_samples(entries),
        )

    def prune(self, now: datetime) -> None:
        self._window.prune(now)
        # rebuilt only when mostly stale, so the cost per mention stays constant
        if len(self._found) > 2 * len(self._window) + 64:
            self._found = {k: v for k, v in self._found.items() if k in self._window}

    @property
    def empty(self) -> bool:
        return len(self._window) == 0
