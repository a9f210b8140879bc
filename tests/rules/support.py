"""Helpers for the rules tests: synthetic mentions on a timeline, rule sets from YAML, and
an engine driven like the live stage."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from core.clock import ManualClock
from core.records import Alert, EnrichedMention, Mention, Sentiment, Velocity
from rules.engine import RulesEngine
from rules.schema import RuleSet, load_rules

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """The instant ``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


class MakeMention(Protocol):
    def __call__(
        self,
        n: int,
        minutes: float,
        *,
        brand: str = "acme",
        sentiment: Sentiment = Sentiment.NEUTRAL,
        score: float = 0.0,
        title: str = "",
        text: str = "Acme news",
        velocity: Velocity | None = None,
    ) -> EnrichedMention: ...


def make_mention(
    n: int,
    minutes: float,
    *,
    brand: str = "acme",
    sentiment: Sentiment = Sentiment.NEUTRAL,
    score: float = 0.0,
    title: str = "",
    text: str = "Acme news",
    velocity: Velocity | None = None,
) -> EnrichedMention:
    """Mention number ``n`` (its id), published ``minutes`` after T0."""
    published = at(minutes)
    mention = Mention(
        source="rss",
        source_name="news",
        url=f"https://news.example.com/{n}",
        title=title or f"post {n}",
        text=text,
        published_at=published,
        fetched_at=published,
    )
    return EnrichedMention(
        mention=mention,
        brand=brand,
        sentiment=sentiment,
        sentiment_score=score,
        velocity=velocity,
        enriched_at=published,
    )


def rules_loader(tmp_path: Path) -> Callable[[str], RuleSet]:
    """Load a rule set from YAML text (dedented), each into a new file under tmp_path."""
    count = 0

    def load(text: str) -> RuleSet:
        nonlocal count
        count += 1
        path = tmp_path / f"rules{count}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_rules([path])

    return load


class Driver:
    """An engine on a ManualClock, fed like the live stage: the clock moves to each
    mention's time (never back), then the mention, then a tick."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.clock = ManualClock(T0)
        self.engine = RulesEngine(ruleset, self.clock)
        self.alerts: list[Alert] = []

    def feed(self, *mentions: EnrichedMention) -> list[tuple[str, str, datetime]]:
        out = []
        for em in mentions:
            if em.mention.published_at > self.clock.now():
                self.clock.set(em.mention.published_at)
            out += self.engine.on_mention(em)
            out += self.engine.tick()
        self.alerts += out
        return [(a.state.value, a.brand, a.at) for a in out]

    def wait(self, minutes: float) -> list[tuple[str, str, datetime]]:
        """Let time pass, ticking every 10 seconds as the live loop would."""
        out = []
        end = self.clock.now() + timedelta(minutes=minutes)
        while self.clock.now() < end:
            self.clock.advance(10)
            out += self.engine.tick()
        self.alerts += out
        return [(a.state.value, a.brand, a.at) for a in out]
