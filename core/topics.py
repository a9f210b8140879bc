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


def specs(partitions: int) -> list[TopicSpec]:
    """Every pipeline topic with ``partitions`` partitions (the log is compacted)."""
    out = [TopicSpec(name, partitions) for name in ALL if name != NOTIFICATIONS]
    out.append(TopicSpec(NOTIFICATIONS, partitions, {"cleanup.policy": "compact"}))
    return out
