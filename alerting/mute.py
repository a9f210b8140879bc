"""The mute step: a delivery of an alert an active silence matches goes no further."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alerting.delivery import Delivery, Outcome, Step
from alerting.notification_log import Status
from alerting.settings import Silence
from core.records import AlertState


def mute(silences: Sequence[Silence]) -> Step:
    """Mute while a matching silence is active (queued retries too: a silence added during
    an outage stops the retries). A muted firing is looked at again when its silences end
    (the last end among those that match; none if one never ends): if its episode is still
    on then, it pages then, so a storm that began in a planned quiet hour is not missed."""

    def step(delivery: Delivery, now: datetime) -> Delivery | Outcome:
        matching = [s for s in silences if s.active(now) and s.matches(delivery.alert)]
        if not matching:
            return delivery
        ends = [s.ends_at for s in matching]
        again = None
        if delivery.alert.state is AlertState.FIRING and None not in ends:
            again = max(e for e in ends if e is not None)
        return Outcome(
            Status.MUTED,
            delivery.attempt,
            reason=matching[0].describe(),
            next_attempt_at=again,
        )

    return step
