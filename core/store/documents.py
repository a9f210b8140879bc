"""The documents the stores hold: one flat JSON shape per kind, shared by every adapter."""

from __future__ import annotations

from typing import Any

from core.records import Alert, EnrichedMention


def mention_doc(m: EnrichedMention) -> dict[str, Any]:
    src = m.mention
    return {
        "id": m.id,
        "mention_id": src.id,
        "brand": m.brand,
        "matched": list(m.matched),
        "source": src.source,
        "source_name": src.source_name,
        "url": src.url,
        "title": src.title,
        "text": src.text,
        "author": src.author,
        "language": m.language or "und",
        "sentiment": m.sentiment.value,
        "sentiment_score": m.sentiment_score,
        "entities": list(m.entities),
        "reach": m.reach,
        "zscore": m.velocity.zscore if m.velocity else None,
        "published_at": src.published_at.isoformat(),
        "enriched_at": m.enriched_at.isoformat(),
    }


def alert_doc(a: Alert) -> dict[str, Any]:
    return {
        "id": a.episode,
        "fingerprint": a.fingerprint,
        "rule": a.rule,
        "rule_type": a.rule_type,
        "brand": a.brand,
        "severity": a.severity.value,
        "state": a.state.value,
        "summary": a.summary,
        "started_at": a.started_at.isoformat(),
        "at": a.at.isoformat(),
        "figures": dict(a.figures),
        "samples": [s.model_dump(mode="json") for s in a.samples],
        "receivers": list(a.receivers),
        "labels": dict(a.labels),
    }
