"""The records that travel on the bus: `Mention`, `EnrichedMention`, `Alert`.

Contracts a caller may rely on:

* Every record has an ``id`` derived from its content (the canonical URL or the
  source's own id), so re-ingesting or replaying never makes a second copy.
* The id is derived (or, when given, checked) where a record is MADE: constructing a
  record, or `pydantic.BaseModel.model_validate` on a dict, refuses an id that does not
  match the content. Ingest makes mentions, so every id on the bus was derived there. A
  `Mention` instance put into an `EnrichedMention` is taken as it is (it was checked when
  it was made).
* `decode` TRUSTS the ids of what it reads: a non-empty ``id`` (and an Alert's
  ``fingerprint``), nested mentions' included, is kept as given without re-deriving it
  from the content; an empty or absent one is derived as at construction. (Deriving a
  mention id costs a URL canonicalisation and a SHA-256, tens of microseconds, which every
  stage paid again for every record.) So a record whose content changes must be made
  again, not edited on the bus; ``model_copy(update=...)`` of a field the id is not made
  from (an EnrichedMention's velocity) keeps a valid id.
* On the bus a record is JSON with a schema version ``v`` and a ``kind``.
  `decode` refuses anything else with `InvalidRecord`, whose message names the
  offending field.
* Records are immutable; timestamps are timezone-aware (naive input is refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import from_json

from core.urls import canonical_url

SCHEMA_VERSION: Literal[1] = 1

_DECODING = {"stormwatch.decode": True}
"""The validation context `decode` sets: ids are kept as given (module docstring)."""

# Infinity and NaN are written as JSON's non-standard constants, as json.dumps writes
# them (pydantic's default, null, would not read back into a float field).
_CONFIG = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class InvalidRecord(ValueError):
    """A record failed validation; the message names the field and the reason."""


def stable_id(*parts: str) -> str:
    """A short, stable id from the given parts (sha256, 32 hex digits)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


def _trusted(info: ValidationInfo, given: str) -> bool:
    """True when ``given`` is an id read by `decode`: kept without being re-derived."""
    context = info.context
    return bool(given) and context is not None and context.get("stormwatch.decode") is True


class _Record(BaseModel):
    model_config = _CONFIG
    kind: ClassVar[str]
    v: Literal[1] = SCHEMA_VERSION


class Engagement(BaseModel):
    """Engagement figures as the platform reports them (None: not reported)."""

    model_config = _CONFIG
    likes: int | None = Field(default=None, ge=0)
    shares: int | None = Field(default=None, ge=0)
    replies: int | None = Field(default=None, ge=0)
    author_followers: int | None = Field(default=None, ge=0)


MAX_TEXT = 100_000
MAX_TITLE = 2_000


class Mention(_Record):
    """What was said, where and when, as a source delivered it."""

    kind: ClassVar[str] = "mention"
    id: str = ""
    source: Annotated[str, Field(min_length=1)]
    """The source kind, e.g. ``rss``, ``mastodon``."""
    source_name: Annotated[str, Field(min_length=1)]
    """The configured source, e.g. the feed's name."""
    source_id: str | None = None
    """The platform's own id (RSS guid, status id), when it has one."""
    url: str | None = None
    title: str = ""
    text: str = ""
    """Cut at `MAX_TEXT` characters (the title at `MAX_TITLE`): a record must fit one
    Kafka message (1 MiB), or it would block its source's every batch."""
    author: str | None = None
    published_at: AwareDatetime
    fetched_at: AwareDatetime
    language: str | None = None
    engagement: Engagement = Engagement()

    @field_validator("text", "title")
    @classmethod
    def _cut(cls, value: str, info: ValidationInfo) -> str:
        limit = MAX_TEXT if info.field_name == "text" else MAX_TITLE
        return value if len(value) <= limit else value[: limit - 1] + "…"

    @model_validator(mode="after")
    def _derive_id(self, info: ValidationInfo) -> Mention:
        if not (self.url or self.source_id):
            raise ValueError("a mention needs a url or a source_id")
        if _trusted(info, self.id):
            return self
        expected = mention_id(self.source, self.source_id, self.url, self.source_name)
        if not self.id:
            object.__setattr__(self, "id", expected)
        elif self.id != expected:
            raise ValueError(f"id {self.id!r} does not match its content (expected {expected!r})")
        return self


def _made_already(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A Mention put into a record (EnrichedMention(mention=m)) was checked when it was
    # made; pydantic would run its validators (the id derivation) again for every record.
    return value if isinstance(value, Mention) else handler(value)


FEED_KINDS = frozenset({"rss", "atom"})
"""Sources whose ids (GUIDs) are unique only within one feed."""


def mention_id(source: str, source_id: str | None, url: str | None, source_name: str = "") -> str:
    """The id of a mention: its canonical URL where it has one, else the source's id
    (with the feed's name for a feed: two feeds' ``<guid>1</guid>`` are two items).

    Keyed on the URL first so the same article reached through two feeds is one mention.
    """
    if url:
        return stable_id("url", canonical_url(url))
    if source in FEED_KINDS:
        return stable_id("src", source, source_name, source_id or "")
    return stable_id("src", source, source_id or "")


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Velocity(BaseModel):
    """Spike figures of the brand's mention stream at the time of this mention."""

    model_config = _CONFIG
    window_count: int = Field(ge=0)
    """Mentions of the brand in the current window."""
    baseline: float = Field(ge=0)
    """Expected mentions per window (EWMA)."""
    zscore: float = 0.0
    surprise: float = Field(default=0.0, ge=0)
    """How unlikely the window count is under the baseline (-log10 of a Poisson tail)."""
    acceleration: float = 0.0
    negative_share: float = Field(default=0.0, ge=0, le=1)
    novelty: float = Field(default=0.0, ge=0)
    """Surprise (-log10 p) of the window count against the brand's own week of history,
    from the detector scored on NAB (seasonality- and scale-aware; 0 while warming up)."""


class EnrichedMention(_Record):
    """A mention as it concerns one brand: one record per matched brand, keyed by brand."""

    kind: ClassVar[str] = "enriched_mention"
    id: str = ""
    mention: Annotated[Mention, WrapValidator(_made_already)]
    brand: Annotated[str, Field(min_length=1)]
    matched: tuple[str, ...] = ()
    """The watchlist terms that matched (names, aliases, handles, hashtags)."""
    language: str | None = None
    entities: tuple[str, ...] = ()
    sentiment: Sentiment = Sentiment.NEUTRAL
    sentiment_score: float = Field(default=0.0, ge=-1, le=1)
    velocity: Velocity | None = None
    reach: float = Field(default=0.0, ge=0)
    enriched_at: AwareDatetime

    @model_validator(mode="after")
    def _derive_id(self, info: ValidationInfo) -> EnrichedMention:
        if _trusted(info, self.id):
            return self
        expected = stable_id("enriched", self.mention.id, self.brand)
        if not self.id:
            object.__setattr__(self, "id", expected)
        elif self.id != expected:
            raise ValueError(f"id {self.id!r} does not match its content (expected {expected!r})")
        return self


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class SampleMention(BaseModel):
    model_config = _CONFIG
    id: str
    title: str = ""
    text: str = ""
    url: str | None = None
    source: str = ""
    sentiment: Sentiment = Sentiment.NEUTRAL
    published_at: AwareDatetime


class Alert(_Record):
    """A rule's verdict about one brand: firing, later resolved.

    ``fingerprint`` identifies the alert across its lifecycle (rule + brand + group);
    ``id`` identifies one state of one episode (fingerprint, start, state), so a replayed
    alert is the same record.
    """

    kind: ClassVar[str] = "alert"
    id: str = ""
    rule: Annotated[str, Field(min_length=1)]
    rule_type: str
    brand: Annotated[str, Field(min_length=1)]
    severity: Severity
    state: AlertState
    fingerprint: str = ""
    started_at: AwareDatetime
    """When the episode began (the window that first met the condition)."""
    at: AwareDatetime
    """When this state was reached (fired or resolved)."""
    summary: str
    figures: dict[str, float] = Field(default_factory=dict)
    samples: tuple[SampleMention, ...] = ()
    receivers: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def episode(self) -> str:
        """The id of this alert's episode, shared by its firing and resolved states."""
        return stable_id(self.fingerprint, self.started_at.isoformat())

    @model_validator(mode="after")
    def _derive_ids(self, info: ValidationInfo) -> Alert:
        if _trusted(info, self.id) and _trusted(info, self.fingerprint):
            return self
        fingerprint = self.fingerprint or stable_id(
            "alert", self.rule, self.brand, *sorted(f"{k}={v}" for k, v in self.labels.items())
        )
        object.__setattr__(self, "fingerprint", fingerprint)
        expected = stable_id(fingerprint, self.started_at.isoformat(), self.state.value)
        if not self.id:
            object.__setattr__(self, "id", expected)
        elif self.id != expected:
            raise ValueError(f"id {self.id!r} does not match its content (expected {expected!r})")
        return self


AnyRecord = Mention | EnrichedMention | Alert
R = TypeVar("R", Mention, EnrichedMention, Alert)


class _Recent:
    """The records this process encoded lately, by their bytes, so that a stage reading
    what another stage of the same process wrote gets the (immutable) record back instead
    of parsing and validating it again. Off (size 0) unless `share_decoded` turns it on."""

    def __init__(self) -> None:
        self.size = 0
        self._records: dict[bytes, AnyRecord] = {}
        self._lock = threading.Lock()
        """Only for `share_decoded`: the stages' threads go without."""

    def remember(self, data: bytes, record: AnyRecord) -> None:
        records = self._records
        records[data] = record
        while len(records) > self.size:
            # another thread may change the dict in between: then look again
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del records[next(iter(records))]

    def get(self, data: bytes | str) -> AnyRecord | None:
        return self._records.get(data) if isinstance(data, bytes) else None


_RECENT = _Recent()


def share_decoded(size: int) -> None:
    """Keep the last ``size`` records this process encodes so that `decode` of the same
    bytes in this process returns them as they are (0 turns it off). For processes that
    run several stages over one bus (the embedded pipeline); the result is the record
    that was encoded, which is what decoding its bytes would rebuild."""
    with _RECENT._lock:
        _RECENT.size = max(size, 0)
        _RECENT._records.clear()


def encode(record: AnyRecord) -> bytes:
    """Versioned JSON for the bus: ``{"v": 1, ..., "kind": ...}``, compact UTF-8 (the
    fields in model order, ``kind`` last)."""
    # pydantic's serialiser writes the JSON itself (several times faster than a dict
    # through json.dumps); its object always ends in "}", so kind is spliced in there.
    body = record.model_dump_json()
    data = f'{body[:-1]},"kind":"{record.kind}"}}'.encode()
    if _RECENT.size:
        _RECENT.remember(data, record)
    return data


def decode(data: bytes | str, model: type[R]) -> R:
    """Parse a record of the expected type; `InvalidRecord` names the field that is wrong.

    Ids (and an Alert's fingerprint) are kept as given when present (module docstring).
    Bytes this process encoded while `share_decoded` was on give back the encoded record."""
    if _RECENT.size:
        recent = _RECENT.get(data)
        if type(recent) is model:
            return recent
    try:
        body: Any = from_json(data)
    except ValueError as exc:
        raise InvalidRecord(f"{model.kind}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidRecord(f"{model.kind}: expected a JSON object, got {type(body).__name__}")
    kind = body.pop("kind", None)
    if kind != model.kind:
        raise InvalidRecord(f"{model.kind}: kind is {kind!r}, expected {model.kind!r}")
    version = body.get("v")
    if version != SCHEMA_VERSION:
        raise InvalidRecord(f"{model.kind}.v: unsupported schema version {version!r}")
    try:
        return model.model_validate(body, context=_DECODING)
    except ValidationError as exc:
        raise InvalidRecord(describe_validation_error(model.kind, exc)) from None


def describe_validation_error(prefix: str, exc: ValidationError) -> str:
    """One line per problem: ``prefix.field.path: message``."""
    lines = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        where = f"{prefix}.{path}" if path else prefix
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def utc_from_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp that must carry a timezone."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return value
