"""The topics of the pipeline (ARCHITECTURE.md) and their keys."""

from __future__ import annotations

from core.bus.port import TopicSpec

RAW = "mentions.raw"
"""`Mention` records from ingest, keyed by mention id."""
MATCHED = "mentions.matched"
"""Enrich's internal repartition: one `EnrichedMention` per matched brand (no velocity
yet), keyed by brand, so one enrich member sees all of a brand's mentions."""
ENRICHED = "mentions.enriched"
"""`EnrichedMention` records with velocity, keyed by brand."""
ALERTS = "alerts"
"""`Alert` records (firing and resolved), keyed by fingerprint."""
NOTIFICATIONS = "alerts.notifications"
"""The alerting stage's durable log of pages sent, keyed by fingerprint."""
DLQ = "mentions.dlq"
"""Records a stage could not process, with the reason in the headers."""

ALL = (RAW, MATCHED, ENRICHED, ALERTS, NOTIFICATIONS, DLQ)


_CONFIG = {
    NOTIFICATIONS: {"cleanup.policy": "compact"},  # the latest record per fingerprint
    DLQ: {"retention.ms": "-1"},  # dead letters stay until someone has looked at them
}


def specs(partitions: int) -> list[TopicSpec]:
    """Every pipeline topic with ``partitions`` partitions: the notification log
    compacted, the dead letters kept for good, the others with the broker's retention.
    (Topics that exist already are left as they are.)"""
    return [TopicSpec(name, partitions, _CONFIG.get(name, {})) for name in ALL]
