"""The Kafka bus adapter, on kafka-python (classic consumer-group protocol).

Producers are idempotent with ``acks=all``; consumers never auto-commit and start from
the earliest record when their group has no committed offset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTP
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from core.bus.port import (
    Bus,
    BusError,
    Consumer,
    Headers,
    Message,
    Producer,
    TopicPartition,
    TopicSpec,
)
from core.settings import KafkaSettings

log = logging.getLogger(__name__)


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """The connection options shared by producer, consumer and admin client."""
    opts: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": int(settings.request_timeout_s * 1000),
        "bootstrap_timeout_ms": int(settings.connect_timeout_s * 1000),
    }
    if settings.sasl_mechanism:
        opts["sasl_mechanism"] = settings.sasl_mechanism
        opts["sasl_plain_username"] = settings.username
        if settings.password is not None:
            opts["sasl_plain_password"] = settings.password.get_secret_value()
    if settings.ssl_cafile:
        opts["ssl_cafile"] = str(settings.ssl_cafile)
    return opts


def _message(topic: str, r: Any) -> Message:
    """Our `Message` from a kafka-python ConsumerRecord (``topic`` without the prefix)."""
    return Message(
        topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()), r.timestamp
    )


class KafkaBus(Bus):
    name = "kafka"

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._admin: KafkaAdminClient | None = None

    def _admin_client(self) -> KafkaAdminClient:
        if self._admin is None:
            try:
                self._admin = KafkaAdminClient(**client_options(self.settings))
            except KafkaError as exc:
                raise BusError(self._unreachable(exc)) from exc
        return self._admin

    def _unreachable(self, exc: BaseException) -> str:
        servers = ",".join(self.settings.bootstrap_servers)
        name, detail = type(exc).__name__, str(exc)
        if not detail.startswith(name):  # kafka-python's errors name themselves
            detail = f"{name}: {detail}"
        return f"bus.kafka.bootstrap_servers: no Kafka broker reachable at {servers} ({detail})"

    def _name(self, topic: str) -> str:
        return self.settings.topic_prefix + topic

    def _unname(self, topic: str) -> str:
        return topic[len(self.settings.topic_prefix) :]

    def ensure_topics(self, topics: Iterable[TopicSpec]) -> None:
        admin = self._admin_client()
        try:
            existing = set(admin.list_topics())
        except KafkaError as exc:
            raise BusError(self._unreachable(exc)) from exc
        new = [
            NewTopic(
                name=self._name(spec.name),
                num_partitions=spec.partitions,
                replication_factor=self.settings.replication_factor,
                topic_configs=dict(spec.config),
            )
            for spec in topics
            if self._name(spec.name) not in existing
        ]
        if not new:
            return
        try:
            admin.create_topics(new, timeout_ms=30_000)
        except TopicAlreadyExistsError:
            pass
        except KafkaError as exc:
            raise BusError(f"cannot create topics {[t.name for t in new]}: {exc}") from exc
        # Metadata of new topics propagates asynchronously; wait until the broker has it.
        names = {t.name for t in new}
        for _ in range(100):
            described = admin.describe_topics(list(names))
            if all(d.get("error_code", 0) == 0 and d.get("partitions") for d in described):
                return
            time.sleep(0.1)
        raise BusError(f"topics {sorted(names)} were created but never became visible")

    def partitions(self, topic: str) -> int:
        described = self._admin_client().describe_topics([self._name(topic)])
        if not described or described[0].get("error_code", 0) != 0:
            raise BusError(f"topic {topic!r} does not exist")
        return len(described[0]["partitions"])

    def producer(self) -> Producer:
        try:
            return _KafkaProducer(
                self,
                KafkaProducer(
                    **client_options(self.settings),
                    acks="all",
                    linger_ms=self.settings.linger_ms,
                    batch_size=self.settings.batch_size,
                    compression_type=self.settings.compression,
                    max_in_flight_requests_per_connection=5,
                ),
            )
        except KafkaError as exc:
            raise BusError(self._unreachable(exc)) from exc

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        if not topics:
            raise BusError("a consumer needs at least one topic")
        try:
            consumer = KafkaConsumer(
                **client_options(self.settings),
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self.settings.session_timeout_ms,
                heartbeat_interval_ms=max(self.settings.session_timeout_ms // 3, 1000),
                max_poll_interval_ms=300_000,
            )
        except KafkaError as exc:
            raise BusError(self._unreachable(exc)) from exc
        consumer.subscribe([self._name(t) for t in topics])
        return _KafkaConsumer(self, consumer)

    def read_topic(self, topic: str, timeout: float = 30.0) -> list[Message]:
        name = self._name(topic)
        try:
            consumer = KafkaConsumer(
                **client_options(self.settings), group_id=None, enable_auto_commit=False
            )
        except KafkaError as exc:
            raise BusError(self._unreachable(exc)) from exc
        try:
            partitions = consumer.partitions_for_topic(name) or set()
            tps = [KafkaTP(name, p) for p in sorted(partitions)]
            if not tps:
                return []
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            out: dict[int, list[Message]] = {tp.partition: [] for tp in tps}
            deadline = time.monotonic() + timeout
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise BusError(f"reading {topic!r} did not reach its end in {timeout:.0f}s")
                for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                    for r in records:
                        if r.offset < end[KafkaTP(name, r.partition)]:
                            out[r.partition].append(_message(topic, r))
            return [m for p in sorted(out) for m in out[p]]
        except KafkaError as exc:
            raise BusError(f"reading {topic!r} failed: {exc}") from exc
        finally:
            consumer.close(autocommit=False)

    def check(self) -> str:
        admin = self._admin_client()
        try:
            topics = admin.list_topics()
            brokers = admin.describe_cluster().get("brokers", [])
        except KafkaError as exc:
            raise BusError(self._unreachable(exc)) from exc
        servers = ",".join(self.settings.bootstrap_servers)
        return f"Kafka at {servers}: {len(brokers)} broker(s), {len(topics)} topics"

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class _KafkaProducer(Producer):
    def __init__(self, bus: KafkaBus, producer: KafkaProducer) -> None:
        self._bus = bus
        self._producer = producer
        self._futures: list[Any] = []

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        try:
            fut = self._producer.send(
                self._bus._name(topic), value=value, key=key, headers=list(headers)
            )
        except KafkaError as exc:
            raise BusError(f"cannot send to {topic!r}: {exc}") from exc
        self._futures.append(fut)

    def flush(self, timeout: float | None = None) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise BusError(f"flush failed: {exc}") from exc
        failed = [f for f in self._futures if not f.is_done or f.failed()]
        self._futures = []
        if failed:
            first = failed[0]
            reason = first.exception if first.is_done else "not delivered before the timeout"
            raise BusError(f"{len(failed)} record(s) not delivered: {reason}")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close()


class _KafkaConsumer(Consumer):
    def __init__(self, bus: KafkaBus, consumer: KafkaConsumer) -> None:
        self._bus = bus
        self._consumer = consumer
        self._positions: dict[TopicPartition, int] = {}

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Message]:
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            raise BusError(f"poll failed: {exc}") from exc
        out: list[Message] = []
        for records in batches.values():
            for r in records:
                topic = self._bus._unname(r.topic)
                out.append(_message(topic, r))
                self._positions[TopicPartition(topic, r.partition)] = r.offset + 1
        return out

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        todo = dict(self._positions) if offsets is None else dict(offsets)
        if not todo:
            return
        payload = {
            KafkaTP(self._bus._name(tp.topic), tp.partition): OffsetAndMetadata(off, "", -1)
            for tp, off in todo.items()
        }
        try:
            self._consumer.commit(payload)
        except KafkaError as exc:
            raise BusError(
                f"commit failed ({type(exc).__name__}): the records will be read again"
            ) from exc

    def assignment(self) -> set[TopicPartition]:
        return {
            TopicPartition(self._bus._unname(tp.topic), tp.partition)
            for tp in self._consumer.assignment()
        }

    def close(self) -> None:
        self._consumer.close(autocommit=False)
