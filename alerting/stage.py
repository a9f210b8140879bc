"""The alerting stage for `core.stage.StageLoop`: alerts in, notification-log records out.

The shell runs::

    state = restore_from_messages(bus.read_topic(topics.NOTIFICATIONS))
    pipeline = build_pipeline(settings.alerting, build_notifiers(settings.alerting, http),
                              clock, state)
    StageLoop("alerting", bus, "alerting", [topics.ALERTS], alerting_handler(pipeline),
              tick=alerting_ticker(pipeline))

Delivery happens inside the handler, so a page leaves as soon as its alert is polled;
the log records are produced, flushed, and only then is the alert's offset committed.
Handling a batch again (the loop retries a batch whose flush failed) pages nobody twice:
the in-memory state already holds the outcome, so the repeat yields "deduplicated"
records, and every record carries the fingerprint's whole ledger, so the log still
restores the "sent" even if the first records were lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from alerting.notification_log import NotificationRecord, encode_record
from alerting.pipeline import AlertingPipeline
from core import topics
from core.bus.port import Message
from core.records import Alert, InvalidRecord, decode
from core.stage import Handler, Out, Reject, Ticker


def _out(record: NotificationRecord) -> Out:
    return Out(topics.NOTIFICATIONS, encode_record(record), key=record.fingerprint.encode())


def alerting_handler(pipeline: AlertingPipeline) -> Handler:
    """Alerts -> deliveries -> log records; a record that is not a valid `Alert` -> `Reject`."""

    def handle(messages: Sequence[Message]) -> Iterator[Out | Reject]:
        for message in messages:
            try:
                alert = decode(message.value, Alert)
            except InvalidRecord as exc:
                yield Reject(message, str(exc))
                continue
            for record in pipeline.on_alert(alert):
                yield _out(record)

    return handle


def alerting_ticker(pipeline: AlertingPipeline) -> Ticker:
    """Due retries -> deliveries -> log records, on every loop turn."""

    def tick() -> Iterable[Out]:
        return [_out(record) for record in pipeline.on_tick()]

    return tick
