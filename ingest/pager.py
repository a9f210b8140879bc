"""Walking a newest-first listing back to where the last poll stopped, resumably.

Search APIs list newest first and page towards older items (X ``next_token``, Reddit
``after``, YouTube ``pageToken``, Bluesky ``cursor``, Algolia ``page``, Mastodon
``max_id``). A poll walks from the top down to the **mark** (the newest position the
last complete walk saw: a ``since_id`` or a time), or on the first start down to the
**floor** (now minus the backfill window). The source's page function applies the
mark or floor as the platform allows (``since_id``, ``publishedAfter``, ...) and says
when a page went past it.

No gap: a walk cut short (``max_pages``, a rate limit reached, a later page failing)
keeps the mark where it was and stores where to continue (``resume``) and the newest
position it saw (``top``). The next poll finishes that walk first; only a complete walk
moves the mark, so items between the old mark and the cut are never skipped. If the
platform no longer accepts the resume token, the walk starts again from the top: it may
repeat items (the service drops those), never skip them.

The cursor keys are ``mark``, ``resume``, ``top`` and ``floor``; a source with several
listings keeps one set per listing under a prefix (`scoped`, `unscope`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.records import Mention
from ingest.api import ApiError
from ingest.source import SourceError

log = logging.getLogger(__name__)

MARK, RESUME, TOP, FLOOR = "mark", "resume", "top", "floor"
_RESTART_ON = frozenset({400, 404, 410, 422})
"""Statuses with which a platform says it does not know a resume token (any more)."""


@dataclass(frozen=True, slots=True)
class Page:
    mentions: Sequence[Mention | None]
    """None: an item the platform sent that is no use (`ingest.sources.base.mention`)."""
    next: str | None
    """The token of the next (older) page; None: this was the last."""
    newest: str | None = None
    """The mark of the newest item on this page (None: the page was empty)."""
    done: bool = False
    """The page reached the mark or the floor: nothing older is wanted."""


@dataclass(frozen=True, slots=True)
class Walk:
    mentions: list[Mention] = field(default_factory=list)
    cursor: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    """Set when the walk stopped for the platform's rate limit."""


PageFetcher = Callable[[str | None], Page]
"""Fetches the page at a token (None: the top)."""


def floor_of(state: Mapping[str, str], now: datetime, backfill: timedelta) -> datetime:
    """The floor stored at the first start, else ``now - backfill``."""
    stored = state.get(FLOOR)
    if stored:
        try:
            return datetime.fromisoformat(stored)
        except ValueError:
            log.debug("ignoring an unreadable floor %r", stored)
    return now - backfill


def walk(
    fetch: PageFetcher,
    state: Mapping[str, str],
    *,
    floor: datetime,
    max_pages: int,
    order: Callable[[str], float],
    hold: Callable[[], float],
) -> Walk:
    """Walk from the top (or the stored resume token) down to the mark or floor.

    ``order`` turns a mark into something comparable (``int`` for snowflake ids,
    ``float`` for epoch times); ``hold`` is the API's `JsonApi.hold`. The first page's
    failure is raised; a later page's failure ends the walk early, resumably.
    """
    mark = state.get(MARK) or None
    resume = state.get(RESUME) or None
    newest = (state.get(TOP) or None) if resume else None
    token = resume
    mentions: list[Mention] = []
    retry_after: float | None = None
    for number in range(max_pages):
        try:
            page = fetch(token)
        except ApiError as exc:
            if number == 0 and resume and exc.status in _RESTART_ON:
                log.info("resume token refused (%s); walking again from the top", exc.reason)
                fresh = {k: v for k, v in state.items() if k not in {RESUME, TOP}}
                return walk(fetch, fresh, floor=floor, max_pages=max_pages, order=order, hold=hold)
            if number == 0:
                raise
            log.debug("walk cut short at page %d: %s", number + 1, exc.reason)
            retry_after = exc.retry_after
            break
        except SourceError as exc:
            if number == 0:
                raise
            log.debug("walk cut short at page %d: %s", number + 1, exc.reason)
            break
        mentions.extend(m for m in page.mentions if m is not None)
        newest = _later(newest, page.newest, order)
        if page.done or page.next is None:
            token = None
            break
        token = page.next
        wait = hold()
        if wait > 0:
            retry_after = wait
            break
    if retry_after is None and hold() > 0:  # the last page spent the window
        retry_after = hold()
    return Walk(mentions, _cursor(mark, token, newest, floor, order), retry_after)


def _cursor(
    mark: str | None,
    token: str | None,
    newest: str | None,
    floor: datetime,
    order: Callable[[str], float],
) -> dict[str, str]:
    out: dict[str, str] = {}
    if token is None:  # complete: the mark moves up (never down)
        mark = _later(mark, newest, order)
    else:
        out[RESUME] = token
        if newest:
            out[TOP] = newest
    if mark:
        out[MARK] = mark
    else:  # keep the first start's floor until there is a mark, so a restart keeps it
        out[FLOOR] = floor.isoformat()
    return out


def _later(a: str | None, b: str | None, order: Callable[[str], float]) -> str | None:
    if not a:
        return b
    if not b:
        return a
    try:
        return b if order(b) > order(a) else a
    except ValueError:
        return b


def scoped(cursor: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The keys of one listing (``prefix`` + key), without the prefix."""
    return {k[len(prefix) :]: v for k, v in cursor.items() if k.startswith(prefix)}


def unscope(state: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {prefix + k: v for k, v in state.items()}


def time_mark(when: datetime) -> str:
    """A time as a mark: epoch seconds (comparable with ``float``)."""
    return f"{when.timestamp():.6f}".rstrip("0").rstrip(".")


def mark_time(mark: str) -> datetime:
    return datetime.fromtimestamp(float(mark), tz=UTC)


def since(state: Mapping[str, str], floor: datetime, overlap: timedelta) -> datetime:
    """The oldest time a time-marked walk asks for: the mark less ``overlap`` (items
    indexed late, and several in one second), else the floor."""
    mark = state.get(MARK)
    return mark_time(mark) - overlap if mark else floor


def advance(
    state: Mapping[str, str], position: str, order: Callable[[str], float]
) -> dict[str, str]:
    """``state`` after a live (streamed) item at ``position``: it moves the mark, unless
    a cut-short catch-up walk is pending. Then nothing moves: the next catch-up finishes
    that walk and reads again from the top down to the walk's ``top``
    (`catch_up_twice`), which covers what was posted while the stream was down; moving
    the mark or the top with live items would skip that."""
    if state.get(RESUME):
        return dict(state)
    out = dict(state)
    later = _later(state.get(MARK), position, order)
    if later:
        out[MARK] = later
    if out.get(MARK):
        out.pop(FLOOR, None)
    return out


def catch_up_twice(
    walk_from: Callable[[Mapping[str, str]], Walk], state: Mapping[str, str]
) -> Walk:
    """A stream's catch-up at (re)connect: ``walk_from(state)``, and, when that finished a
    walk a previous connection had to cut short, a second walk from the top down to
    where the finished one began (its ``top``, now the mark): what came after it,
    posted while the stream was down, is read too."""
    first = walk_from(state)
    if not state.get(RESUME) or first.cursor.get(RESUME):
        return first
    # Until the second walk is done, the cursor stays as it was (a walk pending): live
    # items must not move the mark past what the second walk has yet to read. The
    # next connect then walks both again (the service drops what it has seen).
    unchanged = Walk(first.mentions, dict(state), first.retry_after)
    if first.retry_after is not None:  # the rate limit is spent: the second walk later
        return unchanged
    try:
        second = walk_from(first.cursor)
    except (ApiError, SourceError) as exc:
        log.debug("second catch-up walk failed: %s", exc.reason)
        return unchanged
    retry = second.retry_after if second.retry_after is not None else first.retry_after
    return Walk([*first.mentions, *second.mentions], second.cursor, retry)
