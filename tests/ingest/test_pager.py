"""`ingest.pager.walk`: a newest-first listing walked down to the mark, resumably."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from core.records import Mention
from ingest.api import ApiError
from ingest.pager import (
    FLOOR,
    MARK,
    RESUME,
    TOP,
    Page,
    Walk,
    advance,
    catch_up_twice,
    scoped,
    unscope,
    walk,
)
from ingest.source import SourceError
from tests.ingest.documents import START

FLOOR_AT = START - timedelta(hours=1)


def post(n: int) -> Mention:
    return Mention(
        source="fake", source_name="f", source_id=str(n), published_at=START, fetched_at=START
    )


class Listing:
    """Posts 1..n, newest first, ``size`` a page, filtered by ``since`` like since_id."""

    def __init__(self, newest: int, since: int = 0, size: int = 2) -> None:
        self.ids = list(range(newest, since, -1))
        self.size = size
        self.tokens: list[str | None] = []
        self.fail_at: dict[str | None, ApiError | SourceError] = {}

    def __call__(self, token: str | None) -> Page:
        self.tokens.append(token)
        if token in self.fail_at:
            raise self.fail_at.pop(token)
        start = int(token or 0)
        chunk = self.ids[start : start + self.size]
        more = start + self.size < len(self.ids)
        return Page(
            [post(n) for n in chunk],
            str(start + self.size) if more else None,
            str(max(chunk)) if chunk else None,
        )


def run(listing: Listing, state: dict[str, str], max_pages: int = 10, hold: float = 0.0):  # type: ignore[no-untyped-def]
    return walk(listing, state, floor=FLOOR_AT, max_pages=max_pages, order=int, hold=lambda: hold)


def ids(mentions: list[Mention]) -> list[int]:
    return [int(m.source_id or 0) for m in mentions]


def test_a_complete_walk_moves_the_mark_to_the_newest() -> None:
    result = run(Listing(5, since=2), {MARK: "2"})
    assert ids(result.mentions) == [5, 4, 3]
    assert result.cursor == {MARK: "5"}
    assert result.retry_after is None


def test_the_first_start_keeps_the_floor_until_there_is_a_mark() -> None:
    empty = run(Listing(0), {})
    assert empty.cursor == {FLOOR: FLOOR_AT.isoformat()}
    assert run(Listing(1), empty.cursor).cursor == {MARK: "1"}


def test_a_walk_cut_short_keeps_the_mark_and_resumes_without_a_gap() -> None:
    listing = Listing(9, since=2)  # 7 new posts, 2 a page
    first = run(listing, {MARK: "2"}, max_pages=2)
    assert ids(first.mentions) == [9, 8, 7, 6]
    assert first.cursor == {MARK: "2", RESUME: "4", TOP: "9"}

    # meanwhile post 10 arrives: the resumed walk still finishes the old one first
    later = Listing(10, since=2)
    later.ids = listing.ids  # the platform's token points into the old listing
    second = run(later, first.cursor, max_pages=2)
    assert ids(second.mentions) == [5, 4, 3]
    assert second.cursor == {MARK: "9"}
    third = run(Listing(10, since=9), second.cursor)
    assert ids(third.mentions) == [10]
    everything = ids(first.mentions + second.mentions + third.mentions)
    assert sorted(everything, reverse=True) == list(range(10, 2, -1))  # no gap, no repeat


def test_a_refused_resume_token_walks_again_from_the_top() -> None:
    listing = Listing(6, since=2)
    listing.fail_at["4"] = ApiError("HTTP 400 Bad Request: invalid token", status=400)
    result = run(listing, {MARK: "2", RESUME: "4", TOP: "6"})
    assert listing.tokens == ["4", None, "2"]
    assert ids(result.mentions) == [6, 5, 4, 3]
    assert result.cursor == {MARK: "6"}


def test_the_first_pages_failure_is_raised_and_a_later_one_cuts_the_walk() -> None:
    failing = Listing(6)
    failing.fail_at[None] = ApiError("HTTP 503 Service Unavailable", 30, status=503)
    with pytest.raises(ApiError, match="503"):
        run(failing, {MARK: "1"})

    later = Listing(6, since=1)
    later.fail_at["2"] = ApiError("HTTP 429 Too Many Requests", 120, status=429)
    result = run(later, {MARK: "1"})
    assert ids(result.mentions) == [6, 5]
    assert result.cursor == {MARK: "1", RESUME: "2", TOP: "6"}
    assert result.retry_after == 120


def test_a_spent_rate_limit_stops_the_walk_after_the_page() -> None:
    listing = Listing(6, since=1)
    result = run(listing, {MARK: "1"}, hold=42.0)
    assert listing.tokens == [None]
    assert result.retry_after == 42.0
    assert result.cursor == {MARK: "1", RESUME: "2", TOP: "6"}


def test_the_mark_never_moves_back() -> None:
    assert run(Listing(3, since=0), {MARK: "7"}).cursor == {MARK: "7"}


def test_live_items_advance_the_mark_but_not_while_a_walk_is_pending() -> None:
    assert advance({FLOOR: "x"}, "5", int) == {MARK: "5"}
    assert advance({MARK: "5"}, "4", int) == {MARK: "5"}
    # moving the mark or the top would skip what is posted while the stream is down
    pending = {MARK: "2", RESUME: "t", TOP: "9"}
    assert advance(pending, "11", int) == pending


def test_scoped_keys() -> None:
    cursor = {"tag:a:mark": "1", "tag:b:mark": "2", "search:resume": "t"}
    assert scoped(cursor, "tag:a:") == {"mark": "1"}
    assert unscope({"mark": "3"}, "tag:b:") == {"tag:b:mark": "3"}


def test_a_second_catch_up_walk_waits_for_a_spent_rate_limit() -> None:
    # finishing the cut walk spent the window: the second walk is left for the next
    # connect, and the cursor stays pending so live items move nothing meanwhile
    pending = {MARK: "2", RESUME: "t", TOP: "9"}
    finished = Walk([], {MARK: "9"}, retry_after=60.0)
    calls: list[Mapping[str, str]] = []

    def walk_from(state: Mapping[str, str]) -> Walk:
        calls.append(state)
        return finished

    caught = catch_up_twice(walk_from, pending)
    assert calls == [pending] and caught.cursor == pending and caught.retry_after == 60.0
