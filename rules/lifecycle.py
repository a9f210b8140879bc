"""The episode lifecycle of one (rule, brand) key, shared by every rule type.

A pure state machine: mentions and "now" (event time) in, alerts out::

    idle --condition met--> firing --false for resolve_after--> cooldown --cooldown over--> idle
                              ^                                    |
                              +------ (never within cooldown) -----+

* A firing alert is emitted once per episode, however many mentions keep the condition
  met; the resolved alert once, carrying the same fingerprint and ``started_at``.
* ``resolve_after`` counts from the instant the condition stopped holding (the rule state
  says when, or when to look again: `Check`), so resolutions do not depend on how often
  the clock ticks.
* No new episode for the key within ``cooldown`` after a resolution; one that is still met
  when the cooldown ends fires then.
"""

from __future__ import annotations

import enum
from datetime import datetime

from core.records import Alert, AlertState, EnrichedMention
from rules.types import Rule, RuleState


class Phase(enum.Enum):
    IDLE = "idle"
    FIRING = "firing"
    COOLDOWN = "cooldown"


class KeyState:
    """One rule's state for one brand."""

    def __init__(self, rule: Rule, brand: str, max_mentions: int) -> None:
        self.rule = rule
        self.brand = brand
        self.state: RuleState = rule.new_state(brand, max_mentions)
        self.phase = Phase.IDLE
        self.firing: Alert | None = None
        """The firing alert of the current episode (phase FIRING)."""
        self.false_from: datetime | None = None
        """While firing: when the condition stopped (or will stop) holding."""
        self.cooldown_until: datetime | None = None
        self.last: Alert | None = None
        """The latest alert of this key (emitted or restored)."""
        self.recheck_at: datetime | None = None
        """While firing: when to ask the state again (`Check.recheck_at`)."""
        self.rises_at: datetime | None = None
        """While idle, or firing with the condition false: when it may become met with
        time alone (rare)."""
        self.now: datetime | None = None
        """The key's event time: it only moves forward (`move_to`)."""

    # -- time and events ----------------------------------------------------------------
    def move_to(self, instant: datetime) -> datetime:
        """The key's time after moving forward to ``instant`` (never back)."""
        if self.now is None or instant > self.now:
            self.now = instant
        return self.now

    def advance(self, now: datetime) -> list[Alert]:
        """Move to ``now`` (call before `observe` with the same ``now``): take every
        time-driven step due by then, each at its own instant: a recheck, a resolution,
        the end of a cooldown, a condition that became met with time alone.

        Exact because no mention later than the previous ``now`` has been observed, so the
        state can be asked about any instant in between."""
        out: list[Alert] = []
        while (step := self.deadline()) is not None and step <= now:
            out.extend(self._step(step))
        self.state.prune(now)
        return out

    def _step(self, t: datetime) -> list[Alert]:
        if self.phase is Phase.FIRING:
            due = self.resolve_due
            if due is not None and due <= t:
                return [self._resolve(due)]
            return self._evaluate(t)  # a recheck
        if self.phase is Phase.COOLDOWN:
            self.phase, self.cooldown_until = Phase.IDLE, None
        return self._evaluate(t)

    def observe(self, mention: EnrichedMention, at: datetime, now: datetime) -> list[Alert]:
        """Take one mention (event time ``at`` <= ``now``) and judge the key at ``now``."""
        self.state.observe(mention, at, now)
        return self._evaluate(now)

    def _evaluate(self, now: datetime) -> list[Alert]:
        check = self.state.check(now)
        if check.met:
            self.false_from, self.recheck_at = check.false_from, check.recheck_at
        else:
            if self.false_from is None or self.false_from > now:
                # it held until this moment (a mention changed it, e.g. diluted a share),
                # or until the recheck it was promised to hold to
                recheck = self.recheck_at
                self.false_from = min(now, recheck) if recheck is not None else now
            self.recheck_at = None
        out = [self._fire(now)] if self.phase is Phase.IDLE and check.met else []
        # idle, or firing on its way to resolve: may it become met with time alone (older
        # mentions leaving a share's window)? Then look again then.
        watch = self.phase is Phase.IDLE or (self.phase is Phase.FIRING and not check.met)
        self.rises_at = self.state.rises_at(now) if watch else None
        return out

    # -- transitions --------------------------------------------------------------------
    def _alert(self, state: AlertState, started: datetime, at: datetime) -> Alert:
        rule = self.rule
        episode = self.firing
        reading = self.state.read(at)
        return Alert(
            rule=rule.name,
            rule_type=rule.type,
            brand=self.brand,
            severity=episode.severity if episode else rule.severity,
            state=state,
            # a resolution closes the episode it belongs to, even if the labels changed
            fingerprint=episode.fingerprint if episode else "",
            started_at=started,
            at=at,
            summary=reading.summary,
            figures=dict(reading.figures),
            samples=episode.samples if episode else reading.samples,
            receivers=rule.receivers,
            labels=dict(episode.labels if episode else rule.labels),
        )

    def _fire(self, now: datetime) -> Alert:
        alert = self._alert(AlertState.FIRING, now, now)
        self.phase, self.firing, self.last = Phase.FIRING, alert, alert
        return alert

    def _resolve(self, at: datetime) -> Alert:
        assert self.firing is not None
        alert = self._alert(AlertState.RESOLVED, self.firing.started_at, at)
        self.phase, self.firing, self.last = Phase.COOLDOWN, None, alert
        self.false_from = self.recheck_at = self.rises_at = None
        self.cooldown_until = at + self.rule.cooldown
        return alert

    # -- scheduling and restart ---------------------------------------------------------
    @property
    def resolve_due(self) -> datetime | None:
        if self.phase is not Phase.FIRING or self.false_from is None:
            return None
        return self.false_from + self.rule.resolve_delay

    def deadline(self) -> datetime | None:
        """The next instant `advance` has something to do without a new mention."""
        if self.phase is Phase.FIRING:
            steps = (self.resolve_due or self.recheck_at, self.rises_at)
            return min((t for t in steps if t is not None), default=None)
        if self.phase is Phase.COOLDOWN:
            return self.cooldown_until
        return self.rises_at

    @property
    def idle(self) -> bool:
        """Nothing to remember: the key may be dropped."""
        return self.phase is Phase.IDLE and self.state.empty

    def restore(self, alert: Alert, now: datetime) -> None:
        """Continue from the latest alert this key emitted before a restart.

        A firing episode goes on (it is not emitted again); as the mentions that made it
        fire are gone with the old process, the condition is taken to hold until ``now``,
        so the episode resolves ``resolve_after`` from now unless new mentions confirm it.
        A resolved one leaves its cooldown."""
        if self.last is not None and alert.at < self.last.at:
            return
        self.last = alert
        if alert.state is AlertState.FIRING:
            self.phase, self.firing, self.cooldown_until = Phase.FIRING, alert, None
            self.rises_at = self.recheck_at = None
            self.false_from = max(alert.at, now)
        else:
            self.phase, self.firing, self.false_from = Phase.IDLE, None, None
            self.rises_at = self.recheck_at = None
            until = alert.at + self.rule.cooldown
            if until > now:
                self.phase, self.cooldown_until = Phase.COOLDOWN, until
