"""What a source of mentions is, to the ingest service.

A polled source (an RSS/Atom feed, a search feed, a social API's search) is polled by
`ingest.service.IngestService` on its own interval; a streaming source is the other
shape, `ingest.stream.StreamSource`. It only fetches and normalises:
scheduling, backoff, dedup, producing and health are the service's, the same for every
source. To add a source kind, write a class with this shape in its own module of
``ingest/`` and hand instances to the service.

The contract:

* `Source.fetch` returns every entry it sees now as `Mention`s (duplicates are fine:
  the service filters what it has produced before, by mention id and by
  ``(source_name, source_id)``). Each mention's ``source_name`` is the source's `name`.
* It takes the source's ``cursor`` (what the last successful poll returned: HTTP
  validators, a ``since_id``, ...) and returns the next one. The service stores the new
  cursor only after the mentions are safely on the bus, so a crash re-fetches them.
  An empty cursor asks for everything (what ``stormwatch sources test`` uses).
* Any failure is a `SourceError` with a short, stable, human reason (no secrets): the
  service logs it once per change and backs off.
* It is called from worker threads, and `IngestService.poll_once` may call it while a
  scheduled poll of the same source runs: keep it safe to call concurrently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from core.records import Mention

Cursor = Mapping[str, str]


class SourceError(Exception):
    """A poll failed. ``reason`` is one line for logs and health.

    ``retry_after`` (seconds) is the source's own request to wait (HTTP ``Retry-After``);
    the service waits at least that long (within its backoff cap).
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Fetched:
    """The result of one successful poll."""

    mentions: tuple[Mention, ...] = ()
    cursor: Cursor = field(default_factory=dict)
    """What to pass to the next `Source.fetch` (stored only after the mentions are
    produced and flushed)."""
    not_modified: bool = False
    """Nothing changed since the cursor (HTTP 304); ``cursor`` is the one passed in."""
    retry_after: float | None = None
    """Seconds the platform asks us to wait before the next request (its rate limit is
    spent until then): the service polls no sooner, without counting a failure."""


class Source(Protocol):
    @property
    def name(self) -> str:
        """Unique among the service's sources; the ``source_name`` of its mentions."""
        ...

    @property
    def kind(self) -> str:
        """The source kind, e.g. ``rss`` (an RSS feed may deliver ``atom`` mentions)."""
        ...

    @property
    def interval(self) -> timedelta:
        """How often to poll while healthy (failures back off from it)."""
        ...

    @property
    def location(self) -> str | None:
        """Where it polls, for status output (a URL without credentials), if anywhere."""
        ...

    def fetch(self, cursor: Cursor) -> Fetched:
        """Poll once; raise `SourceError` on failure."""
        ...
