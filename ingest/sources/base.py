"""What every configured source shares: the config base models, the build context, the
watchlist term filter, a safe `Mention` constructor, the `JsonApi` maker, and the bases
of the search APIs (`ApiSearch`) and of the streams that catch up (`CatchUpStream`).

A source kind is one module of ``ingest/sources/`` with a frozen config model (a
``type`` literal, registered in `ingest.sources.SOURCE_TYPES`) whose `build` makes the
`Source` or `StreamSource`. Secrets are `SecretStr`, written as ``${VAR}`` in the
settings file and read from the environment at load (`core.config`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.clock import Clock
from core.config import Duration
from core.records import Engagement, Mention
from core.watchlist import Watchlist
from ingest.api import JsonApi, hang_up
from ingest.pager import Page, Walk, advance, catch_up_twice, floor_of, since, walk
from ingest.source import Cursor, Fetched, Source, SourceError
from ingest.stream import Connection, StreamEvent, StreamSource

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
    raw = value.get_secret_value()
    secret = raw.strip()  # a secret read from a file often ends in a line break
    if not secret:
        raise ValueError("is empty (is the environment variable set to a value?)")
    if not secret.isprintable():
        raise ValueError("contains a line break or another control character")
    return value if secret == raw else SecretStr(secret)


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
    kind: ClassVar[str]
    """The ``source`` of the mentions this kind of source makes (e.g. ``hackernews``)."""
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


def json_api(
    ctx: SourceContext,
    base_url: str,
    timeout: timedelta,
    *,
    token: SecretStr | None = None,
    auth: Mapping[str, SecretStr] | None = None,
) -> JsonApi:
    """A source's `JsonApi` on the service's client: ``token`` travels as a bearer
    ``Authorization``, ``auth`` are other secret headers."""
    headers = {"Authorization": SecretStr(f"Bearer {token.get_secret_value()}")} if token else {}
    return JsonApi(
        ctx.http,
        base_url,
        clock=ctx.clock,
        user_agent=ctx.user_agent,
        timeout=timeout.total_seconds(),
        auth={**headers, **(auth or {})},
    )


SourceT = TypeVar("SourceT", bound=SourceConfig)
PolledT = TypeVar("PolledT", bound=PolledConfig)
PagedT = TypeVar("PagedT", bound=PagedConfig)
StreamT = TypeVar("StreamT", bound=StreamConfig)


class Configured(Generic[SourceT]):
    """``name`` and ``location`` of a source, from its config and the URL it reads
    (``where``)."""

    config: SourceT
    where: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def location(self) -> str | None:
        return location(self.where)


class Polled(Configured[PolledT]):
    """A polled source: ``interval`` too."""

    @property
    def interval(self) -> timedelta:
        return self.config.interval


class ApiSearch(Polled[PagedT]):
    """A JSON API's search listing newest first, walked (`ingest.pager.walk`, marks are
    times) down to the newest item of the last complete walk less ``overlap`` (search
    indexes lag), else to the backfill floor. A platform's subclass reads one `page`."""

    def __init__(
        self, config: PagedT, ctx: SourceContext, api: JsonApi, path: str, overlap: timedelta
    ) -> None:
        self.config = config
        self._clock = ctx.clock
        self._api = api
        self._path = path
        self._overlap = overlap
        self.where = api.url(path)

    def fetch(self, cursor: Cursor) -> Fetched:
        now = self._clock.now()
        floor = floor_of(cursor, now, self.config.backfill)
        oldest = since(cursor, floor, self._overlap)
        result = walk(
            lambda token: self.page(token, oldest, now),
            cursor,
            floor=floor,
            max_pages=self.config.max_pages,
            order=float,
            hold=self._api.hold,
        )
        return Fetched(tuple(result.mentions), result.cursor, retry_after=result.retry_after)

    def page(self, token: str | None, oldest: datetime, now: datetime) -> Page:
        """The page at ``token`` (None: the newest) of what was published at ``oldest``
        or later, its mentions fetched at ``now``."""
        raise NotImplementedError


class CatchUpStream(Configured[StreamT]):
    """A stream its platform cannot replay (Mastodon's, X's). Each connection opens the
    live stream at ``path`` first, then yields what `catch_up` walks from the cursor (the
    backfill window on the first start), then the `live` items, so nothing falls between
    the two; the cursor is the newest item id (`ingest.pager` keys)."""

    accept: ClassVar[str]
    """The media type of the streaming response."""
    keepalive: ClassVar[str]
    """What the platform sends while quiet (named in the idle timeout's reason)."""

    def __init__(
        self,
        config: StreamT,
        ctx: SourceContext,
        live: JsonApi,
        path: str,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self._clock = ctx.clock
        self._live = live
        self._path = path
        self._params = params
        self.where = live.url(path)

    def connect(self, cursor: Cursor) -> Connection:
        stack = ExitStack()
        response = stack.enter_context(
            self._live.stream(
                self._path,
                self._params,
                accept=self.accept,
                idle_timeout=self.config.idle_timeout.total_seconds(),
            )
        )

        def close() -> None:
            hang_up(response)
            stack.close()

        return Connection(self._events(response, dict(cursor)), close)

    def _events(self, response: httpx.Response, state: dict[str, str]) -> Iterator[StreamEvent]:
        now = self._clock.now()
        floor = floor_of(state, now, self.config.backfill)
        caught = catch_up_twice(lambda s: self.catch_up(s, now, floor), state)
        state = caught.cursor
        yield StreamEvent(tuple(caught.mentions), dict(state), catch_up=True)
        try:
            for ident, found in self.live(response):
                state = advance(state, ident, int)
                yield StreamEvent(tuple(found), dict(state))
        except httpx.TimeoutException:
            idle = self.config.idle_timeout.total_seconds()
            raise SourceError(f"no data for {idle:g}s (not even a {self.keepalive})") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"stream broke: {type(exc).__name__}") from None

    def catch_up(self, state: Cursor, now: datetime, floor: datetime) -> Walk:
        """The REST listing walked from ``state`` down to its mark, else to ``floor``."""
        raise NotImplementedError

    def live(self, response: httpx.Response) -> Iterator[tuple[str, Sequence[Mention]]]:
        """Each live item as its id and the mentions kept of it; raises `SourceError`
        when the platform ends the stream with an error."""
        raise NotImplementedError


def location(url: str) -> str:
    """A URL for status output: scheme, host, port and path only (no query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc, query="", fragment="").geturl()
