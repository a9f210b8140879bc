"""The rules stage on the bus: ``mentions.enriched`` in, ``alerts`` out (keyed by
fingerprint), run by `core.stage.StageLoop`::

    engine = RulesEngine(load_rules(paths), clock)
    engine.restore(alerts_history)        # the alerts topic, oldest first
    StageLoop("rules", bus, "rules", [topics.ENRICHED], rules_handler(engine),
              tick=rules_ticker(engine))

`StageLoop` retries a batch whose output it could not flush, but the engine has already
moved on (the mentions are counted, the episode is firing) and would not emit the same
alerts twice. So the handler remembers what it produced for the batch in hand, and what
the ticker produced since, and returns all of it again when the same batch comes back.
Re-sent alerts carry the same ids, which downstream deduplicates.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core import topics
from core.bus import Message
from core.records import Alert, EnrichedMention, InvalidRecord, decode, encode
from core.stage import Handler, Out, Reject, Ticker
from rules.engine import RulesEngine

BatchId = tuple[tuple[str, int, int], ...]


@dataclass
class _Journal:
    batch: BatchId | None = None
    handled: list[Out | Reject] = field(default_factory=list)
    done: int = 0
    """Messages of ``batch`` handled so far (a failure midway resumes after them)."""
    ticked: list[Out] = field(default_factory=list)


_journals: weakref.WeakKeyDictionary[RulesEngine, _Journal] = weakref.WeakKeyDictionary()


def _journal(engine: RulesEngine) -> _Journal:
    journal = _journals.get(engine)
    if journal is None:
        journal = _journals[engine] = _Journal()
    return journal


def alert_out(alert: Alert) -> Out:
    """An alert as a record for the ``alerts`` topic."""
    return Out(topics.ALERTS, encode(alert), key=alert.fingerprint.encode("utf-8"))


def rules_handler(engine: RulesEngine) -> Handler:
    """The batch handler: each valid `EnrichedMention` goes through the engine; a record
    that is not one goes to the dead-letter topic with the reason."""
    journal = _journal(engine)

    def handle(batch: Sequence[Message]) -> list[Out | Reject]:
        ident: BatchId = tuple((m.topic, m.partition, m.offset) for m in batch)
        if ident != journal.batch:
            journal.batch, journal.handled, journal.done, journal.ticked = ident, [], 0, []
        for message in batch[journal.done :]:
            journal.handled.extend(_handle_one(engine, message))
            journal.done += 1
        return [*journal.handled, *journal.ticked]

    return handle


def _handle_one(engine: RulesEngine, message: Message) -> Iterable[Out | Reject]:
    try:
        mention = decode(message.value, EnrichedMention)
    except InvalidRecord as exc:
        return [Reject(message, str(exc))]
    return [alert_out(a) for a in engine.on_mention(mention)]


def rules_ticker(engine: RulesEngine) -> Ticker:
    """The ticker: resolutions and other time-driven alerts, on every loop turn."""
    journal = _journal(engine)

    def tick() -> list[Out]:
        outs = [alert_out(a) for a in engine.tick()]
        journal.ticked.extend(outs)
        return outs

    return tick
