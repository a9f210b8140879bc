"""Dry runs: what a rule set would have done with a sample of mentions, and one readable
line per alert (``stormwatch rules test FILE --replay SAMPLE``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from core.clock import ManualClock
from core.records import Alert, AlertState, EnrichedMention
from rules.engine import RulesEngine
from rules.schema import RuleSet

_MAX_TICKS_PER_GAP = 100_000
"""A guard: ticks between two mentions (each tick resolves or wakes at least one key)."""


def replay(
    ruleset: RuleSet, mentions: Iterable[EnrichedMention], *, drain: bool = True
) -> list[Alert]:
    """Every alert the rule set emits on ``mentions``, in the order it emits them.

    Mentions are replayed in event-time order (stable for equal times) with a
    `ManualClock` that follows them; between two mentions the engine is ticked at every
    deadline it names, so resolutions and ends of cooldowns appear at their own time.
    With ``drain`` the replay goes on after the last mention until nothing is pending,
    so every episode the sample opens is resolved."""
    ordered = sorted(mentions, key=lambda em: em.mention.published_at)
    return list(replay_ordered(ruleset, ordered, drain=drain))


def replay_ordered(
    ruleset: RuleSet, mentions: Iterable[EnrichedMention], *, drain: bool = True
) -> Iterator[Alert]:
    """`replay` of mentions already in event-time order, read and answered lazily (a
    stream too long to hold in memory). A mention older than the one before it counts
    where its windows reach, as a late one does in the rules stage."""
    engine: RulesEngine | None = None
    clock = ManualClock(datetime.fromtimestamp(0, UTC))
    for mention in mentions:
        at = mention.mention.published_at
        if engine is None:
            clock.set(at.astimezone(UTC))
            # the sample is complete and ordered: no lag to allow for, no idle wait
            engine = RulesEngine(ruleset, clock, max_lag=timedelta(0), idle_after=timedelta(0))
        yield from _tick_until(engine, clock, at)
        clock.set(max(clock.now(), at))
        yield from engine.on_mention(mention)
    if drain and engine is not None:
        yield from _tick_until(engine, clock, None)


def _tick_until(engine: RulesEngine, clock: ManualClock, until: datetime | None) -> list[Alert]:
    out: list[Alert] = []
    for _ in range(_MAX_TICKS_PER_GAP):
        deadline = engine.next_deadline()
        if deadline is None or (until is not None and deadline > until):
            break
        clock.set(max(clock.now(), deadline))
        out.extend(engine.tick())
    return out


def format_alert(alert: Alert) -> str:
    """Two lines for a terminal: when, state, severity, rule and brand; then the summary
    and the receivers it would reach."""
    at = alert.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    state = alert.state.value.upper()
    head = f"{at}  {state:<8}  {alert.severity.value:<8}  {alert.rule} ({alert.rule_type})"
    head += f"  brand={alert.brand}"
    if alert.state is AlertState.RESOLVED:
        head += f"  (firing since {alert.started_at.astimezone(UTC):%H:%M:%S})"
    receivers = ", ".join(alert.receivers) or "(default route)"
    return f"{head}\n    {alert.summary}  -> {receivers}"
