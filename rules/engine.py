"""The rules engine: routes each enriched mention to the (rule, brand) keys it concerns and
collects the alerts their lifecycles emit.

Pure (STYLE 4): no I/O and no wall clock of its own. Time is event time, kept per (rule,
brand) key: a key's "now" is the newest ``published_at`` of its own mentions, but no less
than the stream's newest minus ``max_lag``; once no newer mention has come for
``idle_after`` on the clock, every key moves on with the clock (less ``idle_after``), so
quiet periods resolve episodes. So a backlog (a stall, a restart, a replay) is judged at
the times its mentions were published: a burst in it pages, late, instead of falling
outside every window because the wall clock has moved on; and a brand whose partition is
read up to ``max_lag`` behind another's loses none of its window. Mentions count by
distinct mention id (the bus is at-least-once). Memory is bounded: each key holds at most
its window's mentions (and at most ``max_mentions_per_key``), and idle keys with empty
windows are dropped on `tick`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from core.clock import Clock
from core.records import Alert, EnrichedMention
from rules.lifecycle import KeyState
from rules.schema import RuleSet
from rules.types import Rule

Key = tuple[str, str]
"""(rule name, brand id)."""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""Mentions dated earlier count as of then (they are late for every window anyway)."""


class RulesEngine:
    """Evaluate a `RuleSet` against a stream of `EnrichedMention`s.

    * `on_mention` and `tick` return the alerts that became due, in event-time order;
      each firing alert once per episode, each resolution once.
    * A mention published more than ``max_future`` after the clock (a source's bad
      timestamp) counts as published at ``clock.now() + max_future``, so one bad date
      cannot fast-forward every window.
    * ``max_lag``: how far a key's time may trail the stream's newest mention. Larger, a
      brand read further behind the others (one partition's batch of a backlog ahead of
      another's) still has its whole window; smaller, a quiet brand's episode resolves
      sooner while newer mentions never stop coming.
    * ``idle_after``: how long without a newer mention before the clock stands in for
      event time. Longer, a backlog whose stages hand on batches more slowly than this
      is still judged in event time; shorter, a quiet period's resolutions come sooner.
      A mention older than the clock then is late: it counts where its windows reach.
    * Both 0: "now" is the newest mention or the clock, whichever is later (replays of a
      complete, ordered sample).
    """

    def __init__(
        self,
        ruleset: RuleSet,
        clock: Clock,
        *,
        max_future: timedelta = timedelta(minutes=5),
        max_lag: timedelta = timedelta(minutes=15),
        idle_after: timedelta = timedelta(seconds=30),
        max_mentions_per_key: int = 100_000,
    ) -> None:
        self.ruleset = ruleset
        self._clock = clock
        self._max_future = max_future
        self._max_lag = max_lag
        self._idle_after = idle_after
        self._max_mentions = max_mentions_per_key
        self._newest: datetime | None = None
        """The newest event time seen (after the ``max_future`` bound)."""
        self._newest_since: datetime | None = None
        """The clock when ``_newest`` last rose."""
        self._keys: dict[Key, KeyState] = {}
        self._by_brand: dict[str, tuple[Rule, ...]] = {}

    def now(self) -> datetime:
        """The stream's time: its newest mention, or the clock less ``idle_after`` once
        no newer one has come for that long. A key's own time may trail it by up to
        ``max_lag``."""
        idle = self._idle_time(self._clock.now())
        # never empty: before the first mention, the idle time is known
        return max(t for t in (self._newest, idle) if t is not None)

    def on_mention(self, mention: EnrichedMention) -> list[Alert]:
        """Count one mention in every rule that applies to its brand; the alerts it causes
        (and resolutions of its keys that were due before it)."""
        clock = self._clock.now()
        # bounded both ways: a date in year 1 passes validation but would overflow the
        # engine's time arithmetic and block the stage on that record for good
        at = max(min(mention.mention.published_at, clock + self._max_future), _EARLIEST)
        if self._newest is None or at > self._newest:
            self._newest, self._newest_since = at, clock
        floor = self._floor(clock)
        out: list[Alert] = []
        for rule in self._rules_for(mention.brand):
            key = self._key(rule, mention.brand)
            now = key.move_to(max(at, floor))
            out.extend(key.advance(now))
            out.extend(key.observe(mention, at, now))
        return out

    def tick(self) -> list[Alert]:
        """Time-driven work: resolutions, ends of cooldowns; forgets idle keys."""
        floor = self._floor(self._clock.now())
        out: list[Alert] = []
        for name, key in list(self._keys.items()):
            out.extend(key.advance(key.move_to(floor)))
            if key.idle:
                del self._keys[name]
        out.sort(key=lambda a: a.at)
        return out

    def next_deadline(self) -> datetime | None:
        """The earliest instant a `tick` could emit something (None: not before the next
        mention). Replays tick exactly there."""
        deadlines = [d for k in self._keys.values() if (d := k.deadline()) is not None]
        return min(deadlines, default=None)

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Rebuild the episodes from the ``alerts`` topic's history (oldest first), so a
        restarted process continues firing episodes instead of opening new ones, and keeps
        cooldowns. Emits nothing. Alerts of rules no longer configured are ignored.
        Episodes are restored as of the clock (a firing one is taken to hold until then);
        the engine's own time still comes from the mentions that follow."""
        now = self._clock.now()
        for alert in alerts:
            rule = self.ruleset.get(alert.rule)
            if rule is None or not rule.applies_to(alert.brand):
                continue
            self._key(rule, alert.brand).restore(alert, now)

    def _idle_time(self, clock: datetime) -> datetime | None:
        """The clock less ``idle_after``; None while the newest mention rose less than
        ``idle_after`` ago."""
        since = self._newest_since
        if since is not None and clock - since < self._idle_after:
            return None
        return clock - self._idle_after

    def _floor(self, clock: datetime) -> datetime:
        """The earliest time any key may be at: the newest mention less ``max_lag``, or
        the idle time, whichever is later."""
        lagging = self._newest - self._max_lag if self._newest is not None else None
        # never empty: before the first mention, the idle time is known
        return max(t for t in (lagging, self._idle_time(clock)) if t is not None)

    @property
    def firing(self) -> list[Alert]:
        """The firing alert of every open episode."""
        return [k.firing for k in self._keys.values() if k.firing is not None]

    def _key(self, rule: Rule, brand: str) -> KeyState:
        key = self._keys.get((rule.name, brand))
        if key is None:
            key = self._keys[(rule.name, brand)] = KeyState(rule, brand, self._max_mentions)
        return key

    def _rules_for(self, brand: str) -> tuple[Rule, ...]:
        rules = self._by_brand.get(brand)
        if rules is None:
            rules = self._by_brand[brand] = self.ruleset.for_brand(brand)
        return rules
