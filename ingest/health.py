"""The source health table ``stormwatch sources status`` prints.

One row per source (`ingest.dedup.FeedHealth`, from `IngestService.status`)::

    NAME      KIND    MODE    STATE                    LAST SUCCESS  ITEMS/MIN  LAG  LAST ERROR
    newsroom  rss     poll    ok                       2m ago        0.4        12m  -
    x-live    x       stream  connected                5s ago        3.1        20s  -
    reddit    reddit  poll    failing (3), next in 4m  1h ago        0.0        3h   HTTP 503 ...

STATE tells a quiet brand from a blind collector: ``ok``/``connected`` with a large LAG
is a quiet topic; ``failing`` or ``reconnecting`` is the collector. A stream that never
connected yet reads ``starting``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ingest.dedup import FeedHealth
from ingest.text import collapse_whitespace

_HEADER = ("NAME", "KIND", "MODE", "STATE", "LAST SUCCESS", "ITEMS/MIN", "LAG", "LAST ERROR")
_ERROR_WIDTH = 60


def format_status(health: Sequence[FeedHealth], now: datetime | None = None) -> str:
    """The table, one line per source, columns aligned, no trailing spaces. With
    ``now`` times are relative ("2m ago", "in 30s"), else absolute UTC."""
    rows = [_HEADER, *(_row(h, now) for h in health)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _row(h: FeedHealth, now: datetime | None) -> tuple[str, ...]:
    error = collapse_whitespace(h.last_error or "") or "-"
    if len(error) > _ERROR_WIDTH:
        error = error[: _ERROR_WIDTH - 3] + "..."
    return (
        h.name,
        h.kind,
        h.mode,
        _state(h, now),
        _when(h.last_success_at, now),
        f"{h.items_per_minute:.1f}",
        _span(h.lag) if h.lag is not None else "-",
        error,
    )


def _state(h: FeedHealth, now: datetime | None) -> str:
    if h.mode == "stream":
        if h.connected:
            return "connected"
        if h.consecutive_failures:
            return f"reconnecting ({h.consecutive_failures}), next {_when(h.next_due, now)}"
        return "starting"
    if h.consecutive_failures:
        return f"failing ({h.consecutive_failures}), next {_when(h.next_due, now)}"
    if h.last_success_at is None:
        return "not polled yet"
    return "ok"


def _when(at: datetime | None, now: datetime | None) -> str:
    if at is None:
        return "never"
    if now is None:
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    delta = now - at
    return f"{_span(delta)} ago" if delta >= timedelta(0) else f"in {_span(-delta)}"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
