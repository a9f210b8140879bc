"""Dead letters: a record a stage cannot process goes to a dead-letter topic with the
reason, and the stream moves on. Nothing is dropped and nothing blocks."""

from __future__ import annotations

import logging

from core.bus.port import Message, Producer

log = logging.getLogger(__name__)

#: Headers a dead letter carries besides the original key, value and headers.
REASON = "dlq.reason"
ORIGIN_TOPIC = "dlq.topic"
ORIGIN_PARTITION = "dlq.partition"
ORIGIN_OFFSET = "dlq.offset"
STAGE = "dlq.stage"


def dead_letter(producer: Producer, topic: str, message: Message, reason: str, stage: str) -> None:
    """Send ``message`` unchanged to ``topic`` with where it came from and why."""
    log.warning(
        "dead letter from %s[%d]@%d (%s): %s",
        message.topic,
        message.partition,
        message.offset,
        stage,
        reason,
    )
    headers = (
        *message.headers,
        (REASON, reason.encode("utf-8")),
        (ORIGIN_TOPIC, message.topic.encode("utf-8")),
        (ORIGIN_PARTITION, str(message.partition).encode()),
        (ORIGIN_OFFSET, str(message.offset).encode()),
        (STAGE, stage.encode("utf-8")),
    )
    producer.send(topic, message.value, key=message.key, headers=headers)
