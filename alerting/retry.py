"""Notify and retry: the last step, the only one that sends, and the only one with backoff.

The first attempt is made inline (milliseconds after the alert arrived). A retryable
failure is not waited for: it becomes a ``retrying`` outcome with ``next_attempt_at``
(exponential backoff with jitter, from tenacity's wait strategies, at least what the
receiver asked for with Retry-After); the stage's ticker brings it back when due. After
``max_attempts``, or at once for a failure that is not retryable, it is ``failed`` and
logged at ERROR. A notifier that raises something other than `DeliveryError` is a bug:
it fails the delivery (not retried, redacted) and the stream goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tenacity import RetryCallState, Retrying, wait_exponential, wait_random

from alerting import render
from alerting.delivery import Delivery, Outcome
from alerting.notification_log import Status
from alerting.notifiers.base import DeliveryError, Notification, Notifier
from alerting.redact import redact
from alerting.settings import RetryPolicy

log = logging.getLogger(__name__)

Send = Callable[[Delivery, datetime], None]
"""Sends one delivery once; raises `DeliveryError`."""


def backoff(policy: RetryPolicy) -> Callable[[int], timedelta]:
    """The wait after the ``n``-th failed attempt: ``initial * 2**(n-1) + U(0, jitter)``,
    at most ``max_backoff``."""
    cap = policy.max_backoff.total_seconds()
    strategy = wait_exponential(
        multiplier=policy.initial_backoff.total_seconds(), max=cap
    ) + wait_random(0, policy.jitter.total_seconds())
    retrying = Retrying()

    def wait(attempt: int) -> timedelta:
        call = RetryCallState(retrying, None, (), {})
        call.attempt_number = attempt
        return timedelta(seconds=min(strategy(call), cap))

    return wait


def notify(notifiers: Mapping[str, Notifier[Any]], search_url: str | None) -> Send:
    """Hand a delivery to its receiver's notifier."""

    def send(delivery: Delivery, now: datetime) -> None:
        notifier = notifiers.get(delivery.receiver)
        if notifier is None:
            raise DeliveryError(
                f"no receiver named {delivery.receiver!r} is configured", retryable=False
            )
        alert = delivery.alert
        try:
            link = render.search_link(search_url, alert)
            notifier.send(Notification(alert, delivery.receiver, now, link))
        except DeliveryError:
            raise
        except Exception as exc:
            message = redact(f"{type(exc).__name__}: {exc}", notifier.secrets())
            raise notifier.error(f"unexpected error: {message}", retryable=False) from None

    return send


class Retry:
    """A `alerting.delivery.Step` that sends and turns failures into retries or failures."""

    def __init__(self, policy: RetryPolicy, send: Send) -> None:
        self._policy = policy
        self._send = send
        self._wait = backoff(policy)

    def __call__(self, delivery: Delivery, now: datetime) -> Outcome:
        attempt = delivery.attempt + 1
        alert = delivery.alert
        what = f"{alert.state.value} alert {alert.rule}/{alert.brand} ({alert.id})"
        what += f" to {delivery.receiver}"
        try:
            self._send(delivery, now)
        except DeliveryError as exc:
            error = str(exc)
            if exc.retryable and attempt < self._policy.max_attempts:
                wait = self._wait(attempt)
                if exc.retry_after is not None:
                    wait = max(wait, timedelta(seconds=exc.retry_after))
                log.warning(
                    "%s: attempt %d of %d failed, next in %.0fs: %s",
                    what,
                    attempt,
                    self._policy.max_attempts,
                    wait.total_seconds(),
                    error,
                )
                return Outcome(Status.RETRYING, attempt, error=error, next_attempt_at=now + wait)
            why = "not retryable" if not exc.retryable else f"gave up after {attempt} attempts"
            log.error("%s: failed (%s): %s", what, why, error)
            return Outcome(Status.FAILED, attempt, error=error)
        log.info("%s: sent (attempt %d)", what, attempt)
        return Outcome(Status.SENT, attempt)
