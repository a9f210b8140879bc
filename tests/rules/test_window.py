"""The distinct-mention window the counting rule types share: event-time order, distinct
ids, bounded memory."""

from __future__ import annotations

from datetime import timedelta

from rules.types.base import MentionWindow, format_duration
from tests.rules.support import MakeMention, at


def test_keeps_distinct_mentions_in_event_time_order(mk: MakeMention) -> None:
    w = MentionWindow(timedelta(minutes=10), cap=100)
    assert w.add(mk(1, 5), at(5), at(5))
    assert w.add(mk(2, 3), at(3), at(5)), "late but inside"
    assert not w.add(mk(1, 5), at(5), at(6)), "duplicate id"
    assert not w.add(mk(3, -5), at(-5), at(6)), "outside (now - 10m, now]"
    assert [e.mention.mention.id for e in w.entries(at(6))] == [mk(n, 0).mention.id for n in (2, 1)]
    assert [e.at for e in w.entries(at(13))] == [at(5)], "minute 3 left at 13"
    w.prune(at(15))
    assert len(w) == 0 and mk(1, 5).mention.id not in w
    assert w.add(mk(1, 16), at(16), at(16)), "a forgotten id counts again once out of reach"


def test_memory_is_bounded_by_the_cap(mk: MakeMention) -> None:
    w = MentionWindow(timedelta(hours=1), cap=3)
    for n in range(10):
        w.add(mk(n, n), at(n), at(n))
    assert len(w) == 3
    assert [e.at for e in w.entries(at(10))] == [at(7), at(8), at(9)]
    assert mk(0, 0).mention.id not in w, "the ids of dropped mentions are dropped too"


def test_format_duration() -> None:
    cases = {600: "10m", 3600: "1h", 5400: "1h30m", 45: "45s", 0.5: "500ms", 0: "0s"}
    for seconds, text in cases.items():
        assert format_duration(timedelta(seconds=seconds)) == text
