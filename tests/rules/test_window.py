"""The distinct-mention window the counting rule types share: event-time order, distinct
ids, bounded memory."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import AwareDatetime, TypeAdapter

from rules.types.base import MentionWindow, format_duration
from tests.rules.support import T0, MakeMention, at


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


class _Reference:
    """The window's contract written plainly: datetimes compared as datetimes, a scan
    instead of bisect."""

    def __init__(self, span: timedelta, cap: int) -> None:
        self.span, self.cap = span, cap
        self.entries: list[tuple[datetime, str]] = []

    def add(self, mid: str, at_: datetime, now: datetime) -> bool:
        if any(m == mid for _, m in self.entries) or at_ <= now - self.span:
            return False
        i = len(self.entries)
        while i > 0 and self.entries[i - 1][0] > at_:
            i -= 1
        self.entries.insert(i, (at_, mid))
        del self.entries[: max(0, len(self.entries) - self.cap)]
        return True

    def prune(self, now: datetime) -> None:
        self.entries = [e for e in self.entries if e[0] > now - self.span]

    def inside(self, now: datetime) -> list[tuple[datetime, str]]:
        return [e for e in self.entries if now - self.span < e[0] <= now]


_AS_DECODED = TypeAdapter(AwareDatetime)


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_the_plain_reference_on_random_streams(mk: MakeMention, seed: int) -> None:
    """Out-of-order and duplicate arrivals, ties, instants one microsecond either side of
    the window's edges, and timestamps in several time zones, some with the tzinfo objects
    of decoded records (pydantic's own)."""
    rnd = random.Random(seed)
    span = timedelta(minutes=10)
    zones = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]

    def shown(t: datetime) -> datetime:
        t = t.astimezone(rnd.choice(zones))
        return _AS_DECODED.validate_python(t.isoformat()) if rnd.random() < 0.5 else t

    window, reference = MentionWindow(span, cap=40), _Reference(span, cap=40)
    mentions = [mk(n, 0) for n in range(60)]
    now = T0
    for _ in range(600):
        now = shown(now + timedelta(microseconds=rnd.choice([0, 1, 999_999, 20_000_000])))
        back = rnd.choice([timedelta(0), span, span - timedelta(microseconds=1)])
        back += timedelta(microseconds=rnd.choice([0, 1, rnd.randrange(700_000_000)]))
        at_ = shown(max(now - back, now - 2 * span))
        m = rnd.choice(mentions)
        assert window.add(m, at_, now) == reference.add(m.mention.id, at_, now)
        if rnd.random() < 0.3:
            window.prune(now)
            reference.prune(now)
        probe = shown(now + timedelta(microseconds=rnd.choice([0, -1, 1, -300_000_000])))
        inside = reference.inside(probe)
        assert [(e.at, e.mention.mention.id) for e in window.entries(probe)] == inside
        assert window.count(probe) == len(inside)
        assert list(window.iter_entries(probe)) == window.entries(probe)
