"""Fixtures of the enrich tests: a watchlist, a matcher built once, a mention factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.records import Mention
from core.watchlist import Watchlist
from enrich.matcher import BrandMatcher
from enrich.sentiment import LexiconScorer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

MentionFactory = Callable[..., Mention]


@pytest.fixture(scope="session")
def watchlist() -> Watchlist:
    return Watchlist.model_validate(
        {
            "brands": [
                {
                    "id": "acme",
                    "name": "Acme",
                    "aliases": ["Acme Corp", "ACME Inc"],
                    "handles": ["@acme", "@acme_support"],
                    "hashtags": ["#acme", "#boycottacme"],
                    "exclude": ["Acme Corp careers", "Wile E. Coyote"],
                    "competitors": ["globex"],
                },
                {"id": "globex", "name": "Globex"},
                {"id": "mueller", "name": "Müller Milch", "aliases": ["Müller"]},
                {"id": "gross", "name": "Großmann"},
                {"id": "cafe", "name": "Café Noir"},
            ]
        }
    )


@pytest.fixture(scope="session")
def matcher(watchlist: Watchlist) -> BrandMatcher:
    return BrandMatcher(watchlist)


@pytest.fixture(scope="session")
def lexicon() -> LexiconScorer:
    return LexiconScorer()


@pytest.fixture
def make_mention() -> MentionFactory:
    counter = iter(range(1_000_000))

    def make(text: str = "", **kw: Any) -> Mention:
        n = next(counter)
        base: dict[str, Any] = {
            "source": "rss",
            "source_name": "feed",
            "url": f"https://news.example.com/{n}",
            "text": text,
            "published_at": T0,
            "fetched_at": T0,
        }
        base.update(kw)
        return Mention(**base)

    return make
