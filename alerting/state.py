"""The alerting stage's memory: per fingerprint, what each receiver got and what is pending.

`AlertingState` is rebuilt from the notification log on start (`restore`,
`restore_from_messages`), so a restart neither pages twice nor forgets a retry. It is
changed only through `apply`, which also writes the log record describing the change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from alerting.delivery import Delivery, Outcome
from alerting.notification_log import (
    Ledger,
    NotificationRecord,
    Pending,
    ReceiverLedger,
    Status,
    decode_record,
)
from core.bus.port import Message
from core.records import AlertState, InvalidRecord

log = logging.getLogger(__name__)

# Outcomes of an actual attempt (or a deferral): they replace the alert's queue entry.
_ATTEMPTED = frozenset({Status.SENT, Status.RETRYING, Status.FAILED})
# Statuses that a later duplicate's "muted"/"deduplicated" must not overwrite.
_DELIVERING = frozenset({Status.SENT, Status.RETRYING})


class AlertingState:
    def __init__(self) -> None:
        self._ledgers: dict[str, Ledger] = {}
        self.latest_at: datetime | None = None
        """The latest time a decision was made (restored from the log)."""

    @classmethod
    def restore(cls, records: Iterable[NotificationRecord]) -> AlertingState:
        """The state after ``records`` (in log order): the latest ledger per fingerprint wins."""
        state = cls()
        for record in records:
            state._ledgers[record.fingerprint] = record.ledger
            if state.latest_at is None or record.at > state.latest_at:
                state.latest_at = record.at
        return state

    # -- reading ----------------------------------------------------------------------
    def ledger(self, fingerprint: str) -> Ledger:
        return self._ledgers.get(fingerprint, Ledger())

    def receiver(self, fingerprint: str, receiver: str) -> ReceiverLedger:
        return self.ledger(fingerprint).receivers.get(receiver, ReceiverLedger())

    def pending(self, fingerprint: str, receiver: str, alert_id: str) -> Pending | None:
        for item in self.ledger(fingerprint).pending:
            if item.receiver == receiver and item.alert.id == alert_id:
                return item
        return None

    def pending_firing(self, fingerprint: str, receiver: str, episode: str) -> Pending | None:
        for item in self.ledger(fingerprint).pending:
            alert = item.alert
            mine = item.receiver == receiver and alert.episode == episode
            if mine and alert.state is AlertState.FIRING:
                return item
        return None

    def pending_count(self) -> int:
        return sum(len(ledger.pending) for ledger in self._ledgers.values())

    def due(self, now: datetime) -> list[Delivery]:
        """Queued deliveries whose time has come, oldest first; a firing before its resolved."""
        items = [p for ledger in self._ledgers.values() for p in ledger.pending]
        items = [p for p in items if p.next_attempt_at <= now]
        items.sort(key=lambda p: (p.next_attempt_at, p.alert.state is AlertState.RESOLVED))
        return [Delivery(p.alert, p.receiver, p.attempt, queued=True) for p in items]

    # -- changing ---------------------------------------------------------------------
    def apply(self, delivery: Delivery, outcome: Outcome, now: datetime) -> NotificationRecord:
        """Remember ``outcome`` and return the log record that makes it durable."""
        alert = delivery.alert
        ledger = self.ledger(alert.fingerprint)
        mine = ledger.receivers.get(delivery.receiver, ReceiverLedger())
        newer = mine.started_at is None or alert.started_at >= mine.started_at
        if alert.episode != mine.episode and newer:
            mine = ReceiverLedger(
                episode=alert.episode,
                started_at=alert.started_at,
                last_paged_at=mine.last_paged_at,
            )
        if alert.episode == mine.episode:
            field = "firing" if alert.state is AlertState.FIRING else "resolved"
            current = getattr(mine, field)
            # A duplicate that was muted or deduplicated says nothing about the delivery.
            if delivery.queued or outcome.status in _ATTEMPTED or current not in _DELIVERING:
                mine = mine.model_copy(update={field: outcome.status})
            if outcome.status is Status.SENT and alert.state is AlertState.FIRING:
                mine = mine.model_copy(update={"last_paged_at": now})

        pending = ledger.pending
        again = outcome.next_attempt_at is not None
        if delivery.queued or outcome.status in _ATTEMPTED or again:
            pending = tuple(
                p
                for p in pending
                if not (p.receiver == delivery.receiver and p.alert.id == alert.id)
            )
        if outcome.status is Status.RETRYING and not again:
            raise ValueError("a retrying outcome needs next_attempt_at")
        if again:  # a retry, or a muted / deduplicated firing to look at again
            assert outcome.next_attempt_at is not None
            pending = (
                *pending,
                Pending(
                    alert=alert,
                    receiver=delivery.receiver,
                    attempt=outcome.attempt,
                    next_attempt_at=outcome.next_attempt_at,
                ),
            )
        ledger = Ledger(receivers={**ledger.receivers, delivery.receiver: mine}, pending=pending)
        self._ledgers[alert.fingerprint] = ledger
        if self.latest_at is None or now > self.latest_at:
            self.latest_at = now
        return NotificationRecord(
            fingerprint=alert.fingerprint,
            episode=alert.episode,
            alert_id=alert.id,
            rule=alert.rule,
            brand=alert.brand,
            state=alert.state,
            receiver=delivery.receiver,
            status=outcome.status,
            attempt=outcome.attempt,
            at=now,
            error=outcome.error,
            reason=outcome.reason,
            next_attempt_at=outcome.next_attempt_at,
            ledger=ledger,
        )


def restore_from_messages(messages: Iterable[Message]) -> AlertingState:
    """Rebuild the state from the ``alerts.notifications`` topic read from the beginning.

    Give the messages of every partition, each partition in offset order. A record that
    cannot be decoded is logged and skipped: one bad record must not keep alerting down.
    """
    records: list[NotificationRecord] = []
    skipped = 0
    for message in messages:
        try:
            records.append(decode_record(message.value))
        except InvalidRecord as exc:
            skipped += 1
            log.warning(
                "notification log %s[%d]@%d skipped: %s",
                message.topic,
                message.partition,
                message.offset,
                exc,
            )
    state = AlertingState.restore(records)
    log.info(
        "alerting state restored from %d notification records (%d skipped): %d pending",
        len(records),
        skipped,
        state.pending_count(),
    )
    return state
