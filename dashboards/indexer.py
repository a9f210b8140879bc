"""The indexer stage: enriched mentions and alerts from the bus into the store.

Idempotent by id (the store replaces a document with the same id), so a batch handled
twice after a crash leaves one copy. A store failure raises: the stage loop retries the
same batch with backoff and commits nothing meanwhile, so nothing is lost while the
store is down.
"""

from __future__ import annotations

from collections.abc import Sequence

from core import topics
from core.bus import Message
from core.records import Alert, EnrichedMention, InvalidRecord, decode
from core.stage import Handler, Out, Reject
from core.store import Store

TOPICS = (topics.ENRICHED, topics.ALERTS)


def index_handler(store: Store) -> Handler:
    """Index each batch with one bulk request per kind; invalid records are rejected."""

    def handle(batch: Sequence[Message]) -> list[Out | Reject]:
        mentions: dict[str, EnrichedMention] = {}
        alerts: list[Alert] = []
        rejects: list[Out | Reject] = []
        for message in batch:
            try:
                if message.topic == topics.ALERTS:
                    alerts.append(decode(message.value, Alert))
                else:
                    em = decode(message.value, EnrichedMention)
                    mentions[em.id] = em
            except InvalidRecord as exc:
                rejects.append(Reject(message, str(exc)))
        store.index_mentions(list(mentions.values()))
        # Alerts in bus order: a resolved state must land after its firing state.
        store.index_alerts(alerts)
        return rejects

    return handle
