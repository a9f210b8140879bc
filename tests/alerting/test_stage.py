"""The handler and ticker on an EmbeddedBus, run by core.stage.StageLoop."""

from __future__ import annotations

import threading
import time

from alerting.notification_log import NotificationRecord, Status, decode_record
from alerting.notifiers.base import Notification
from alerting.pipeline import build_pipeline
from alerting.stage import alerting_handler, alerting_ticker
from alerting.state import AlertingState, restore_from_messages
from core import topics
from core.bus.deadletter import REASON
from core.bus.embedded import EmbeddedBus
from core.bus.port import Bus, Message
from core.clock import ManualClock, SystemClock
from core.records import encode
from core.stage import Out, StageLoop

from .helpers import DOWN, Scripted, make_alert, make_settings


def read_all(bus: Bus, topic: str, group: str) -> list[Message]:
    consumer = bus.consumer(group, [topic])
    out: list[Message] = []
    while batch := consumer.poll(timeout=0.05):
        out += batch
    consumer.close()
    return out


def loop(
    bus: Bus,
    clock: ManualClock,
    slack: Scripted,
    group: str = "alerting",
    state: AlertingState | None = None,
) -> StageLoop:
    p = build_pipeline(make_settings(), {"slack": slack}, clock, state)
    return StageLoop(
        "alerting", bus, group, [topics.ALERTS], alerting_handler(p), tick=alerting_ticker(p)
    )


def test_alerts_in_notification_records_out_keyed_by_fingerprint(clock: ManualClock) -> None:
    bus = EmbeddedBus()
    slack = Scripted("slack")
    alert = make_alert()
    with bus.producer() as producer:
        producer.send(topics.ALERTS, encode(alert), alert.fingerprint.encode())
        producer.send(topics.ALERTS, b'{"v": 1, "kind": "alert", "rule": ""}', b"broken")
    stage = loop(bus, clock, slack)
    assert stage.run_once(timeout=0.1) == 2
    assert [n.alert for n in slack.sent] == [alert]  # delivered within the same turn

    [message] = read_all(bus, topics.NOTIFICATIONS, "reader")
    assert message.key == alert.fingerprint.encode()
    record = decode_record(message.value)
    assert (record.alert_id, record.status, record.receiver) == (alert.id, Status.SENT, "slack")

    [dead] = read_all(bus, topics.DLQ, "reader")
    assert dead.key == b"broken"
    assert b"alert.rule" in (dead.header(REASON) or b"")
    assert stage.rejected == 1


def test_retries_run_from_the_ticker_and_a_restart_does_not_page_twice(clock: ManualClock) -> None:
    bus = EmbeddedBus()
    slack = Scripted("slack", [DOWN])
    alert = make_alert()
    with bus.producer() as producer:
        producer.send(topics.ALERTS, encode(alert), alert.fingerprint.encode())
    stage = loop(bus, clock, slack)
    stage.run_once(timeout=0.1)
    assert slack.sent == []
    clock.advance(10)
    assert stage.run_once(timeout=0) == 0  # nothing read, but the ticker retried
    assert [n.alert for n in slack.sent] == [alert]
    stage.close()

    log = read_all(bus, topics.NOTIFICATIONS, "restore-1")
    records: list[NotificationRecord] = [decode_record(m.value) for m in log]
    assert [(r.status, r.attempt) for r in records] == [(Status.RETRYING, 1), (Status.SENT, 2)]

    # restart; the alerts are read again (say the commit was lost): no second page
    slack_after = Scripted("slack")
    state = restore_from_messages(bus.read_topic(topics.NOTIFICATIONS))
    again = loop(bus, clock, slack_after, group="alerting-replay", state=state)
    again.run_once(timeout=0.1)
    assert slack_after.sent == []
    last = decode_record(read_all(bus, topics.NOTIFICATIONS, "restore-3")[-1].value)
    assert last.status is Status.DEDUPLICATED


def test_a_page_leaves_milliseconds_after_the_alert_arrives() -> None:
    bus = EmbeddedBus()
    delivered = threading.Event()

    class Signalling(Scripted):
        def send(self, notification: Notification) -> None:
            super().send(notification)
            delivered.set()

    p = build_pipeline(make_settings(), {"slack": Signalling("slack")}, SystemClock())
    stage = StageLoop(
        "alerting", bus, "alerting", [topics.ALERTS], alerting_handler(p), tick=alerting_ticker(p)
    )
    stop = threading.Event()
    # a long poll timeout: delivery must not wait for it
    thread = threading.Thread(target=stage.run, args=(stop, 1.5), daemon=True)
    thread.start()
    time.sleep(0.2)  # let the loop block in poll
    alert = make_alert()
    started = time.monotonic()
    with bus.producer() as producer:
        producer.send(topics.ALERTS, encode(alert), alert.fingerprint.encode())
    assert delivered.wait(timeout=3)
    elapsed = time.monotonic() - started
    stop.set()
    thread.join(timeout=10)
    assert elapsed < 0.5  # far below the 1.5 s poll timeout


def test_a_batch_handled_again_pages_once_and_the_log_still_restores(clock: ManualClock) -> None:
    # StageLoop handles a batch again when its flush failed; the first records may be lost.
    bus = EmbeddedBus()
    slack = Scripted("slack")
    alert = make_alert()
    with bus.producer() as producer:
        producer.send(topics.ALERTS, encode(alert), alert.fingerprint.encode())
    batch = read_all(bus, topics.ALERTS, "peek")
    handler = alerting_handler(build_pipeline(make_settings(), {"slack": slack}, clock))
    lost = list(handler(batch))
    kept = list(handler(batch))
    assert len(slack.sent) == 1
    [out] = kept
    assert isinstance(out, Out)
    record = decode_record(out.value)
    assert record.status is Status.DEDUPLICATED and len(lost) == 1
    state = restore_from_messages(
        [Message(topics.NOTIFICATIONS, 0, 0, out.key, out.value)]  # only the repeat survived
    )
    assert state.receiver(alert.fingerprint, "slack").firing is Status.SENT
