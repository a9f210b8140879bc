"""The mute step: a delivery of an alert an active silence matches goes no further."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alerting.delivery import Delivery, Outcome, Step
from alerting.notification_log import Status
from alerting.settings import Silence


def mute(silences: Sequence[Silence]) -> Step:
    """Mute while a matching silence is active (queued retries too: a silence added during
    an outage stops the retries)."""

    def step(delivery: Delivery, now: datetime) -> Delivery | Outcome:
        for silence in silences:
            if silence.active(now) and silence.matches(delivery.alert):
                return Outcome(Status.MUTED, delivery.attempt, reason=silence.describe())
        return delivery

    return step
