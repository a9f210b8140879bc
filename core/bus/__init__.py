"""The bus port and its adapters. `open_bus` picks the adapter the settings name."""

from __future__ import annotations

from core.bus.port import (
    Bus,
    BusError,
    Consumer,
    Headers,
    Message,
    Producer,
    TopicPartition,
    TopicSpec,
    last_offsets,
)
from core.settings import BusSettings


def open_bus(settings: BusSettings) -> Bus:
    """The bus the settings select (nothing is contacted until it is used)."""
    if settings.adapter == "kafka":
        from core.bus.kafka import KafkaBus

        return KafkaBus(settings.kafka)
    from core.bus.embedded import EmbeddedBus

    return EmbeddedBus(settings.embedded.path, default_partitions=settings.embedded.partitions)


__all__ = [
    "Bus",
    "BusError",
    "Consumer",
    "Headers",
    "Message",
    "Producer",
    "TopicPartition",
    "TopicSpec",
    "last_offsets",
    "open_bus",
]
