"""What every rule type shares: the common YAML fields, the reading a rule state gives,
and the distinct-mention window the window-counting types are built on.

A rule type is two things (STYLE 4): a frozen config model (a subclass of `Rule`,
registered by its ``type`` name) and a pure state for one (rule, brand) key (a
`RuleState`): mentions and "now" in, a `Reading` out. No I/O, no wall clock; the
episode lifecycle (fire once, resolve, cooldown) is shared and lives in
`rules.lifecycle`.
"""

from __future__ import annotations

import bisect
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from core.config import DurationTooLong, parse_duration
from core.records import EnrichedMention, SampleMention, Severity

MAX_SAMPLES = 5
"""Sample mentions an alert carries at most."""

_BRAND_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration such as 30s, 5m, 2h or 1d (a bare number is seconds).",
}


def error(message: str) -> PydanticCustomError:
    """A validation error whose message is exactly ``message`` (no "Value error," prefix)."""
    return PydanticCustomError("rule", "{message}", {"message": message})


def field_error(field: str, message: str, value: object) -> ValidationError:
    """A validation error located at ``field`` of the model being validated, for
    cross-field checks that should point at the field to fix rather than at the rule."""
    detail = InitErrorDetails(type=error(message), loc=(field,), input=value)
    return ValidationError.from_exception_data("rule", [detail])


def format_duration(value: timedelta) -> str:
    """``10m``, ``1h``, ``1h30m``, ``45s``, ``500ms``: short, for summaries and YAML."""
    if timedelta(0) < value < timedelta(seconds=1):
        return f"{round(value.total_seconds() * 1000)}ms"
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _duration(value: object) -> timedelta:
    # core's parser has no sign; "-5m" is read here so that it is refused as negative
    # rather than as gibberish
    sign, text = 1, value
    if isinstance(value, str) and value.strip().startswith("-"):
        sign, text = -1, value.strip()[1:]
    try:
        return sign * parse_duration(text)
    except DurationTooLong as exc:
        raise error(str(exc)) from None
    except ValueError:
        raise error("not a duration such as 30s, 5m, 2h or 1d") from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise error("must be a positive duration such as 30s, 5m, 2h or 1d")
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise error("must not be negative (0 turns it off)")
    return value


_AS_TEXT = PlainSerializer(format_duration, return_type=str, when_used="json")
PositiveDuration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    AfterValidator(_positive),
    _AS_TEXT,
    WithJsonSchema({**_DURATION_SCHEMA, "not": {"enum": [0, "0"]}}),
]
NonNegativeDuration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    AfterValidator(_non_negative),
    _AS_TEXT,
    WithJsonSchema(_DURATION_SCHEMA),
]


def _brands(value: object) -> object:
    if value == "*":
        return ("*",)
    if isinstance(value, str):
        raise error('a list of brand ids, or "*" for every brand')
    return value


def _brand_ids(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise error('name at least one brand id, or "*" for every brand')
    if "*" in value:
        if len(value) > 1:
            raise error('"*" stands for every brand and cannot be combined with brand ids')
        return value
    for brand in value:
        if not _BRAND_ID.match(brand):
            raise error(f"{brand!r} is not a brand id (lower-case letters, digits, - and _)")
    if len(set(value)) != len(value):
        raise error("a brand is listed twice")
    return value


Brands = Annotated[
    tuple[str, ...],
    BeforeValidator(_brands),
    AfterValidator(_brand_ids),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "*"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
            "description": 'Brand ids from the watchlist, or "*" for every brand.',
        }
    ),
]


def _name(value: str) -> str:
    if not _RULE_NAME.match(value):
        raise error("use letters, digits, '.', '-' and '_' (at most 100), starting alphanumeric")
    return value


def _receivers(value: tuple[str, ...]) -> tuple[str, ...]:
    if any(not r.strip() for r in value):
        raise error("a receiver name cannot be empty")
    if len(set(value)) != len(value):
        raise error("a receiver is listed twice")
    return value


@dataclass(frozen=True, slots=True)
class Check:
    """Whether a rule's condition holds for its brand at one instant.

    When ``met``, one of:

    * ``false_from``: the instant from which it no longer holds if no further mention
      arrives, so the lifecycle schedules the resolution without polling;
    * ``recheck_at``: it holds at least until then; ask again then (for conditions whose
      end is costly to foresee, such as a share)."""

    met: bool
    false_from: datetime | None = None
    recheck_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What an alert says about the brand: one human line, the window figures, samples."""

    summary: str
    figures: Mapping[str, float]
    samples: tuple[SampleMention, ...] = ()


class RuleState(ABC):
    """The pure, per-(rule, brand) state of a rule type.

    `check` runs on every mention, so it is cheap (logarithmic in the window for the
    counting types); `read` runs only when an alert is made."""

    @abstractmethod
    def observe(self, mention: EnrichedMention, at: datetime, now: datetime) -> None:
        """Take one mention with event time ``at`` (<= ``now``). Duplicates (same
        mention id) and mentions older than the rule's window are ignored."""

    @abstractmethod
    def check(self, now: datetime) -> Check:
        """The condition at ``now`` (no later mention has been observed)."""

    @abstractmethod
    def read(self, now: datetime) -> Reading:
        """The summary, figures and samples at ``now``, for an alert."""

    def rises_at(self, now: datetime) -> datetime | None:
        """The first instant after ``now`` at which the condition may become met without a
        new mention (None: only a mention can make it met, the usual case)."""
        return None

    @abstractmethod
    def prune(self, now: datetime) -> None:
        """Forget what can no longer matter at ``now`` or later."""

    @property
    @abstractmethod
    def empty(self) -> bool:
        """True when the state holds nothing (the key can be dropped when idle)."""


class Rule(BaseModel):
    """The fields every rule has. Subclasses add their own and implement `new_state`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    name: Annotated[str, AfterValidator(_name)]
    """Unique across all loaded rule files; part of the alert's fingerprint."""
    type: str
    """The rule type (volume, spike, negative_share, keyword)."""
    brands: Brands
    severity: Severity = Severity.WARNING
    """info, warning or critical."""
    cooldown: NonNegativeDuration = timedelta(minutes=15)
    """After an episode resolves, the same rule does not fire for the same brand again
    within this time."""
    receivers: Annotated[tuple[str, ...], AfterValidator(_receivers)] = ()
    """Receiver names (from the alerting settings) this rule's alerts go to."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Free labels carried by the alert (routing, grouping); part of the fingerprint."""
    description: str = ""
    """What the rule is for; shown to people, not interpreted."""
    window: PositiveDuration
    """The sliding event-time window the condition is computed over."""
    resolve_after: PositiveDuration | None = None
    """How long the condition must have been false before the episode resolves
    (default: the window)."""

    @property
    def resolve_delay(self) -> timedelta:
        return self.resolve_after if self.resolve_after is not None else self.window

    def applies_to(self, brand: str) -> bool:
        return self.brands == ("*",) or brand in self.brands

    @abstractmethod
    def new_state(self, brand: str, max_mentions: int) -> RuleState:
        """A fresh state for ``brand``, holding at most ``max_mentions`` mentions."""


def sample(mention: EnrichedMention) -> SampleMention:
    m = mention.mention
    return SampleMention(
        id=m.id,
        title=m.title[:300],
        text=m.text[:500],
        url=m.url,
        source=m.source_name,
        sentiment=mention.sentiment,
        published_at=m.published_at,
    )


def latest_samples(entries: Sequence[Entry]) -> tuple[SampleMention, ...]:
    """The `MAX_SAMPLES` most recent of ``entries`` (oldest first), most recent first."""
    return tuple(sample(e.mention) for e in reversed(entries[-MAX_SAMPLES:]))


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    mention: EnrichedMention


class MentionWindow:
    """Distinct mentions (by mention id) with event time in ``(now - span, now]``.

    Kept in event-time order whatever the arrival order, so late mentions count while
    they are inside the window. At most ``cap`` mentions: beyond it the oldest are
    dropped, which bounds memory in a flood (the count then saturates at ``cap``).
    """

    def __init__(self, span: timedelta, cap: int) -> None:
        self.span = span
        self._cap = cap
        self._entries: list[Entry] = []
        # The entries' event times as POSIX seconds, in step with _entries, for bisect:
        # comparing aware datetimes whose tzinfo objects differ (pydantic gives every
        # parsed timestamp its own) costs two utcoffset() calls each, floats nothing.
        # Exact: timestamp() is correctly rounded, and doubles near today's epoch are
        # spaced well under a microsecond, so the order of microsecond times is kept.
        self._times: list[float] = []
        self._ids: set[str] = set()
        self._now: datetime | None = None
        self._edges = (0.0, 0.0)
        """(now - span, now) as POSIX seconds for ``_now``: one mention asks the window
        about the same now several times (prune, check, rises_at)."""

    def _range(self, now: datetime) -> tuple[float, float]:
        if now is not self._now:
            self._now = now
            self._edges = ((now - self.span).timestamp(), now.timestamp())
        return self._edges

    def add(self, mention: EnrichedMention, at: datetime, now: datetime) -> bool:
        """Take the mention; False when it is a duplicate or already outside the window."""
        mid = mention.mention.id
        t = at.timestamp()
        if mid in self._ids or t <= self._range(now)[0]:
            return False
        times = self._times
        if not times or t >= times[-1]:  # the usual case: mentions arrive in order
            times.append(t)
            self._entries.append(Entry(at, mention))
        else:
            i = bisect.bisect_right(times, t)
            times.insert(i, t)
            self._entries.insert(i, Entry(at, mention))
        self._ids.add(mid)
        if len(times) > self._cap:
            self._drop(len(times) - self._cap)
        return True

    def prune(self, now: datetime) -> None:
        self._drop(bisect.bisect_right(self._times, self._range(now)[0]))

    def trim_to(self, other: MentionWindow) -> None:
        """Drop the entries older than ``other``'s oldest: for a window of a subset of
        ``other``'s mentions, what ``other`` dropped at its cap."""
        if other._times and self._times and self._times[0] < other._times[0]:
            self._drop(bisect.bisect_left(self._times, other._times[0]))

    def _drop(self, count: int) -> None:
        if count <= 0:
            return
        for entry in self._entries[:count]:
            self._ids.discard(entry.mention.mention.id)
        del self._entries[:count]
        del self._times[:count]

    def bounds(self, now: datetime) -> tuple[int, int]:
        """The index range of the mentions inside the window at ``now`` (O(log n))."""
        times = self._times
        start, t = self._range(now)
        lo = bisect.bisect_right(times, start)
        # the usual case: nothing in the window is later than now
        hi = len(times) if not times or times[-1] <= t else bisect.bisect_right(times, t)
        return lo, hi

    def entries(self, now: datetime) -> list[Entry]:
        """The mentions inside the window at ``now``, oldest first."""
        lo, hi = self.bounds(now)
        return self._entries[lo:hi]

    def iter_entries(self, now: datetime) -> Iterator[Entry]:
        """The mentions inside the window at ``now``, oldest first, without copying them
        (for a scan that stops early); the window must not change while it runs."""
        lo, hi = self.bounds(now)
        entries = self._entries
        for i in range(lo, hi):
            yield entries[i]

    def count_check(self, now: datetime, needed: int) -> Check:
        """At least ``needed`` mentions in the window; false from when the one whose
        leaving drops the count below ``needed`` leaves (O(log n))."""
        lo, hi = self.bounds(now)
        if hi - lo < needed:
            return Check(False)
        return Check(True, self._entries[hi - needed].at + self.span)

    def count(self, now: datetime) -> int:
        lo, hi = self.bounds(now)
        return hi - lo

    def oldest(self, now: datetime) -> Entry | None:
        lo, hi = self.bounds(now)
        return self._entries[lo] if hi > lo else None

    def latest(self, now: datetime) -> Entry | None:
        lo, hi = self.bounds(now)
        return self._entries[hi - 1] if hi > lo else None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, mention_id: object) -> bool:
        return mention_id in self._ids
