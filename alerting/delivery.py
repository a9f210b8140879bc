"""What flows through the delivery pipeline: a `Delivery` in, an `Outcome` out.

A step (`Step`) either passes the delivery on (possibly changed) or decides it with an
`Outcome`; the first outcome ends the pipeline for that delivery and becomes one record of
the notification log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alerting.notification_log import Status
from core.records import Alert


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert for one receiver."""

    alert: Alert
    receiver: str
    attempt: int = 0
    """Attempts already made."""
    queued: bool = False
    """True when it comes from the retry queue rather than from the alerts topic."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    attempt: int
    error: str | None = None
    reason: str | None = None
    next_attempt_at: datetime | None = None


Step = Callable[[Delivery, datetime], Delivery | Outcome]
"""One stage of the pipeline: ``(delivery, now) -> the delivery, passed on | an outcome``."""
