"""The dedup step: at most one page per fingerprint and receiver per repeat interval.

Rules, per fingerprint and receiver (the memory is `AlertingState`, restored from the
notification log, so they hold across restarts):

* An episode's firing goes out once. A duplicate (a replay, a redelivery) while it is sent
  or being retried is deduplicated; after it finally failed, a duplicate tries again.
* A firing is deduplicated when the receiver's last page of this fingerprint is less than
  ``repeat_interval`` old: a rule that flaps (resolves and fires again) pages once. It is
  looked at again when the interval has passed: an episode still on then pages then (so a
  receiver told "resolved" hears of the new one, once per interval at most).
* A firing muted or deduplicated and queued to be looked at again goes nowhere if its
  episode resolved in the meantime.
* A resolved goes out once, and only if its episode's firing was sent. While the firing
  is still being retried, the resolved waits behind it (status retrying, attempt 0).
* An episode older than the latest one known is stale: deduplicated. That includes the
  queued retries of an episode a newer one has superseded (the newer one's page covers it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerting.delivery import Delivery, Outcome
from alerting.notification_log import ReceiverLedger, Status
from alerting.state import AlertingState
from core.records import AlertState

_DELIVERING = (Status.SENT, Status.RETRYING)


def _drop(delivery: Delivery, reason: str) -> Outcome:
    return Outcome(Status.DEDUPLICATED, delivery.attempt, reason=reason)


class Dedup:
    """A `alerting.delivery.Step`."""

    def __init__(self, state: AlertingState, repeat_interval: timedelta) -> None:
        self._state = state
        self._repeat = repeat_interval

    def __call__(self, delivery: Delivery, now: datetime) -> Delivery | Outcome:
        alert = delivery.alert
        mine = self._state.receiver(alert.fingerprint, delivery.receiver)
        if mine.episode is not None and alert.episode != mine.episode:
            if mine.started_at is not None and alert.started_at < mine.started_at:
                # Also ends the retries of an episode a newer one superseded.
                return _drop(delivery, "an older episode than the latest one")
            # A new episode: nothing of it has been seen; only the last page counts.
            mine = ReceiverLedger(last_paged_at=mine.last_paged_at)
        if alert.state is AlertState.RESOLVED:
            return self._resolved(delivery, mine)
        return self._firing(delivery, mine, now)

    def _firing(
        self, delivery: Delivery, mine: ReceiverLedger, now: datetime
    ) -> Delivery | Outcome:
        if delivery.queued:
            if mine.firing not in _DELIVERING and mine.resolved is not None:
                return _drop(delivery, "its episode resolved before it was paged")
            if mine.firing is Status.RETRYING:
                return delivery  # a retry
        if mine.firing in _DELIVERING:
            return _drop(delivery, f"already {mine.firing}")
        last = mine.last_paged_at
        if last is not None and now - last < self._repeat:
            return Outcome(
                Status.DEDUPLICATED,
                delivery.attempt,
                reason=f"paged at {last.isoformat()}, within the repeat interval",
                next_attempt_at=last + self._repeat,
            )
        return delivery

    def _resolved(self, delivery: Delivery, mine: ReceiverLedger) -> Delivery | Outcome:
        if mine.firing not in _DELIVERING:
            return _drop(delivery, "its firing was not sent")
        if not delivery.queued and mine.resolved in _DELIVERING:
            return _drop(delivery, f"already {mine.resolved}")
        if mine.firing is Status.RETRYING:
            alert = delivery.alert
            firing = self._state.pending_firing(alert.fingerprint, delivery.receiver, alert.episode)
            if firing is None:
                return _drop(delivery, "its firing was not sent")
            return Outcome(
                Status.RETRYING,
                delivery.attempt,
                reason="waiting for its firing notification to get through",
                next_attempt_at=firing.next_attempt_at,
            )
        return delivery
