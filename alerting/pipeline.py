"""The delivery pipeline of the alerting stage, built in one place: `build_pipeline`.

For every receiver of an alert (the rule's receivers, else the default ones):

    mute (silences) -> dedup (notification log) -> hold (receiver down) -> notify -> retry

A receiver whose last attempt failed with a retryable error is held until that retry is
due: its other deliveries wait for it in the queue instead of each waiting out the same
timeout inline, which would delay every other receiver's pages (the stage delivers in
one thread). The first success lets the rest through.

Each step passes the delivery on or decides it; the decision is remembered in
`AlertingState` and returned as a `NotificationRecord` for the durable log. Queued
retries run through the same steps when due (`AlertingPipeline.on_tick`), so a silence
or a newer episode stops them too.

"Now" is ``max(clock.now(), the latest alert time seen)``, as everywhere downstream of
ingest (docs/pipeline.md), so replays and live traffic both behave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alerting.dedup import Dedup
from alerting.delivery import Delivery, Outcome, Step
from alerting.mute import mute
from alerting.notification_log import NotificationRecord, Status
from alerting.notifiers.base import Notifier
from alerting.retry import Retry, notify
from alerting.settings import AlertingSettings
from alerting.state import AlertingState
from core.clock import Clock
from core.records import Alert, AlertState


def build_pipeline(
    settings: AlertingSettings,
    notifiers: Mapping[str, Notifier[Any]],
    clock: Clock,
    state: AlertingState | None = None,
) -> AlertingPipeline:
    """The alerting pipeline; pass the ``state`` restored from the log to resume after a
    restart (`alerting.state.restore_from_messages`)."""
    state = state if state is not None else AlertingState()
    hold = Hold()
    steps: tuple[Step, ...] = (
        mute(settings.silences),
        Dedup(state, settings.repeat_interval),
        hold,
        Retry(settings.retry, notify(notifiers, settings.search_url)),
    )
    return AlertingPipeline(settings, steps, state, clock, hold)


class Hold:
    """A `alerting.delivery.Step`: defer deliveries to a receiver that is down (its last
    attempt failed and may be retried) until its retry is due. Told of outcomes by the
    pipeline (`note`)."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def __call__(self, delivery: Delivery, now: datetime) -> Delivery | Outcome:
        until = self._until.get(delivery.receiver)
        if until is None or until <= now:
            return delivery
        return Outcome(
            Status.RETRYING,
            delivery.attempt,
            reason=f"receiver {delivery.receiver!r} is failing; waiting for its retry",
            next_attempt_at=until,
        )

    def note(self, receiver: str, outcome: Outcome) -> None:
        if outcome.status is Status.SENT or outcome.status is Status.FAILED:
            self._until.pop(receiver, None)
        elif outcome.status is Status.RETRYING and outcome.error is not None:
            assert outcome.next_attempt_at is not None  # an attempt that failed
            self._until[receiver] = outcome.next_attempt_at


class AlertingPipeline:
    def __init__(
        self,
        settings: AlertingSettings,
        steps: Sequence[Step],
        state: AlertingState,
        clock: Clock,
        hold: Hold | None = None,
    ) -> None:
        self.state = state
        self._settings = settings
        self._steps = tuple(steps)
        self._clock = clock
        self._hold = hold
        self._latest = state.latest_at

    def now(self) -> datetime:
        now = self._clock.now()
        return max(now, self._latest) if self._latest is not None else now

    def receivers(self, alert: Alert) -> tuple[str, ...]:
        """Where ``alert`` goes: its rule's receivers, else the default ones. Receivers with
        ``send_resolved: false`` are not told of resolutions (and nothing is logged)."""
        names = tuple(dict.fromkeys(alert.receivers or self._settings.fallback_receivers()))
        if alert.state is AlertState.RESOLVED:
            configured = self._settings.receivers
            names = tuple(n for n in names if n not in configured or configured[n].send_resolved)
        return names

    def on_alert(self, alert: Alert) -> list[NotificationRecord]:
        """Deliver one alert (the first attempt inline); one record per receiver."""
        if self._latest is None or alert.at > self._latest:
            self._latest = alert.at
        now = self.now()
        told = self.receivers(alert)
        out = [self._run(Delivery(alert, receiver), now) for receiver in told]
        if alert.state is AlertState.RESOLVED:
            out += self._ended(alert, told, now)
        return out

    def _ended(
        self, alert: Alert, told: tuple[str, ...], now: datetime
    ) -> list[NotificationRecord]:
        """A receiver not told of resolutions may hold a firing of this episode in the
        queue (muted, or held by the repeat interval): note that the episode ended, so
        that firing is not paged after it."""
        out = []
        for receiver in dict.fromkeys(alert.receivers or self._settings.fallback_receivers()):
            pending = self.state.pending_firing(alert.fingerprint, receiver, alert.episode)
            if receiver not in told and pending is not None:
                ended = Outcome(Status.DEDUPLICATED, 0, reason="resolved (send_resolved: false)")
                out.append(self.state.apply(Delivery(alert, receiver), ended, now))
        return out

    def on_tick(self) -> list[NotificationRecord]:
        """Run the queued deliveries that are due; one record each."""
        now = self.now()
        return [self._run(delivery, now) for delivery in self.state.due(now)]

    def _run(self, delivery: Delivery, now: datetime) -> NotificationRecord:
        for step in self._steps:
            result = step(delivery, now)
            if isinstance(result, Outcome):
                if self._hold is not None:
                    self._hold.note(delivery.receiver, result)
                return self.state.apply(delivery, result, now)
            delivery = result
        raise RuntimeError("the last step of the alerting pipeline must decide")
