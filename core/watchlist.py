"""The watchlist: the brands to hear about and the feeds to poll.

Example (``examples/watchlist.yaml`` is a complete one)::

    brands:
      - id: acme
        name: Acme
        aliases: [Acme Corp, ACME Inc]
        handles: ["@acme", "@acme_support"]
        hashtags: ["#acme", "#boycottacme"]
        exclude: ["Acme Corp careers", "Wile E. Coyote"]
        competitors: [globex]
      - id: globex
        name: Globex
    feeds:
      - name: acme-newsroom
        url: https://news.example.com/acme.rss
        interval: 2m

A mention counts for a brand when it contains the name, an alias, a handle or a hashtag
(case-insensitively, also inside German compounds such as "Acme-Kunden"), unless it
contains one of the brand's exclusions.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import Duration, load_model

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Brand(_Model):
    id: Annotated[str, Field(description="Short stable id: lower-case letters, digits, - and _")]
    name: Annotated[str, Field(min_length=1)]
    aliases: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    """Social handles, with the leading ``@``."""
    hashtags: tuple[str, ...] = ()
    """Hashtags, with the leading ``#``."""
    exclude: tuple[str, ...] = ()
    """Phrases that make a mention not about this brand (``Acme Corp careers``)."""
    competitors: tuple[str, ...] = ()
    """Ids of other brands in this watchlist to compare with."""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"{v!r}: use lower-case letters, digits, - and _ (max 63)")
        return v

    @field_validator("handles")
    @classmethod
    def _handles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for h in v:
            if not re.fullmatch(r"@[\w.]+(@[\w.-]+)?", h):
                raise ValueError(f"{h!r} is not a handle like @acme or @acme@mastodon.social")
        return v

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for h in v:
            if not re.fullmatch(r"#\w+", h):
                raise ValueError(f"{h!r} is not a hashtag like #acme")
        return v

    @field_validator("aliases", "exclude")
    @classmethod
    def _phrases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in v:
            if not phrase.strip():
                raise ValueError("empty phrase")
        return v

    def terms(self) -> tuple[str, ...]:
        """Everything that names the brand: name, aliases, handles, hashtags."""
        return (self.name, *self.aliases, *self.handles, *self.hashtags)


class Feed(_Model):
    name: Annotated[str, Field(min_length=1)]
    url: AnyHttpUrl
    interval: Duration = timedelta(minutes=5)
    """How often to poll (errors back off from this, with jitter)."""
    timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=10_000_000, ge=1024)
    """A feed larger than this is refused (and reported), not parsed."""
    brands: tuple[str, ...] = ()
    """Optional hint: ids of the brands this feed is about (matching still decides)."""

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 0.1:
            raise ValueError("must be at least 0.1s")
        return v


class Watchlist(_Model):
    brands: tuple[Brand, ...] = Field(min_length=1)
    feeds: tuple[Feed, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Self:
        ids = [b.id for b in self.brands]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"brand ids must be unique: {dupes}")
        for b in self.brands:
            for c in b.competitors:
                if c not in ids:
                    raise ValueError(f"brand {b.id!r}: competitor {c!r} is not a brand here")
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique: {dupes}")
        for f in self.feeds:
            for hint in f.brands:
                if hint not in ids:
                    raise ValueError(f"feed {f.name!r}: brand {hint!r} is not in the watchlist")
        return self

    def brand(self, brand_id: str) -> Brand:
        for b in self.brands:
            if b.id == brand_id:
                return b
        raise KeyError(brand_id)


def load_watchlist(path: str | Path) -> Watchlist:
    """Read and validate a watchlist file (`ConfigError` with file and line on error)."""
    return load_model(Watchlist, path)
