"""What every configured source shares: the config base models, the build context, the
watchlist term filter and a safe `Mention` constructor.

A source kind is one module of ``ingest/sources/`` with a frozen config model (a
``type`` literal, registered in `ingest.sources.SOURCE_TYPES`) whose `build` makes the
`Source` or `StreamSource`. Secrets are `SecretStr`, written as ``${VAR}`` in the
settings file and read from the environment at load (`core.config`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.clock import Clock
from core.config import Duration
from core.records import Engagement, Mention
from core.watchlist import Watchlist
from ingest.source import Source
from ingest.stream import StreamSource

log = logging.getLogger(__name__)


def _url(schemes: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"{value!r} is not a {'/'.join(schemes)} URL")
        if parts.username or parts.password:
            raise ValueError("put credentials in a token setting, not in the URL")
        return value.rstrip("/") if parts.path in {"", "/"} else value

    return AfterValidator(check)


HttpUrl = Annotated[str, _url(("http", "https"))]
"""An http(s) URL kept as written (tests point these at a local server)."""
WsUrl = Annotated[str, _url(("ws", "wss"))]


def _positive(value: timedelta) -> timedelta:
    if value.total_seconds() < 0.1:
        raise ValueError("must be at least 0.1s")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("is empty (is the environment variable set to a value?)")
    return value


Positive = Annotated[Duration, AfterValidator(_positive)]
NotNegative = Annotated[Duration, AfterValidator(_not_negative)]
Secret = Annotated[SecretStr, AfterValidator(_secret)]
"""A credential: write ``${VAR}`` in the file; it never prints."""


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a config needs to build its source (the service's shared pieces)."""

    http: httpx.Client
    clock: Clock
    user_agent: str
    watchlist: Watchlist


class SourceConfig(BaseModel):
    """Settings every source kind has."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    """Unique among the sources and the watchlist's feeds; the mentions' ``source_name``."""
    brands: tuple[str, ...] = ()
    """Optional hint: ids of the watchlist brands this source is about. Where a source
    filters a firehose locally (Jetstream, Mastodon's public timeline) it keeps posts
    naming these brands' terms (none given: every brand's)."""
    timeout: Positive = timedelta(seconds=20)
    """Bounds connecting and each request."""

    def build(self, ctx: SourceContext) -> Source | StreamSource:
        raise NotImplementedError


class PolledConfig(SourceConfig):
    interval: Positive = timedelta(minutes=5)
    """How often to poll while healthy (failures and rate limits back off from it)."""
    backfill: NotNegative = timedelta(hours=1)
    """On the first start, fetch what was published this long ago and since."""


class PagedConfig(PolledConfig):
    max_pages: int = Field(default=5, ge=1, le=100)
    """Pages one poll reads at most; a longer backlog continues on the next poll."""


class StreamConfig(SourceConfig):
    backfill: NotNegative = timedelta(minutes=15)
    """On the first start, catch up on this long before connecting."""
    idle_timeout: Positive = timedelta(seconds=90)
    """No data (not even a heartbeat) for this long: the connection is dead, reconnect."""
    max_pages: int = Field(default=10, ge=1, le=100)
    """Pages one catch-up after a reconnect reads at most."""


class TermFilter:
    """Case-insensitive match of the watchlist's terms at a word start, so a firehose is
    cut down to posts that may concern a brand (enrich decides for real)."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.terms = tuple(dict.fromkeys(t for t in terms if t.strip()))
        alternatives = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)

    def __call__(self, text: str) -> bool:
        return bool(self.terms) and self._pattern.search(text) is not None


def brand_terms(
    watchlist: Watchlist, brands: Sequence[str], extra: Sequence[str] = ()
) -> TermFilter:
    """A filter for the hinted brands' terms (all brands when none are hinted)."""
    chosen = [watchlist.brand(b) for b in brands] if brands else list(watchlist.brands)
    return TermFilter([*extra, *(t for b in chosen for t in b.terms())])


def mention(**fields: Any) -> Mention | None:
    """A `Mention`, or None (logged) when the platform sent something unusable: one odd
    item must not cost a poll its others."""
    try:
        return Mention(**fields)
    except (ValidationError, ValueError, TypeError) as exc:
        log.debug(
            "%s: item %s skipped: %s", fields.get("source_name"), fields.get("source_id"), exc
        )
        return None


def engagement(
    likes: object = None, shares: object = None, replies: object = None, followers: object = None
) -> Engagement:
    """Engagement from a platform's figures (numbers or numeric strings; others: None)."""
    return Engagement(
        likes=count(likes), shares=count(shares), replies=count(replies),
        author_followers=count(followers),
    )  # fmt: skip


def obj(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (platforms omit fields)."""
    return value if isinstance(value, dict) else {}


def count(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 0 else None


def total(*values: object) -> int | None:
    """The sum of the figures the platform reported (None: it reported none)."""
    numbers = [n for n in (count(v) for v in values) if n is not None]
    return sum(numbers) if numbers else None


def iso_time(value: object) -> datetime | None:
    """An ISO-8601 time with a timezone (``Z`` included), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def bearer(token: SecretStr, scheme: str = "Bearer") -> SecretStr:
    """The ``Authorization`` header value for a token, itself a secret."""
    return SecretStr(f"{scheme} {token.get_secret_value()}")


ConfigT = TypeVar("ConfigT", bound=PolledConfig)


class Polled(Generic[ConfigT]):
    """``name``, ``interval`` and ``location`` of a polled source, from its config and
    the URL it polls (``where``)."""

    config: ConfigT
    where: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def interval(self) -> timedelta:
        return self.config.interval

    @property
    def location(self) -> str | None:
        return location(self.where)


def location(url: str) -> str:
    """A URL for status output: scheme, host, port and path only (no query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc, query="", fragment="").geturl()
