"""The match step without a bus: language, brands, sentiment and reach of mentions.

`Enricher.enrich` turns a batch of `Mention`s into one `EnrichedMention` (velocity None)
per matched brand, in mention order; mentions that match no brand yield nothing and are
counted in `Enricher.unmatched`. Sentiment is scored once per batch, for matched mentions
only (the model is the expensive part).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from core.records import Engagement, EnrichedMention, Mention
from core.watchlist import Watchlist
from enrich.language import UNDETERMINED, LanguageDetector
from enrich.matcher import BrandMatcher
from enrich.sentiment import SentimentScorer
from enrich.settings import EnrichSettings, ReachSettings

_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def reach(engagement: Engagement, weights: ReachSettings) -> float:
    """Estimated audience of a mention::

        reach = followers * w.followers + likes * w.likes + replies * w.replies
                + shares * w.shares

    over the figures the platform reported (a missing figure adds nothing), so 0 when
    none is reported. With the default weights: the author's followers, plus everyone who
    liked or replied, plus an assumed 20 readers per share.
    """
    return float(
        (engagement.author_followers or 0) * weights.followers
        + (engagement.likes or 0) * weights.likes
        + (engagement.replies or 0) * weights.replies
        + (engagement.shares or 0) * weights.shares
    )


def mention_text(mention: Mention, max_chars: int) -> str:
    """What is matched and scored: the title and the text, cut at ``max_chars``."""
    text = f"{mention.title}\n{mention.text}" if mention.title else mention.text
    return text[:max_chars]


class Enricher:
    """Language, brand matching, sentiment and reach; built once, used for every batch."""

    def __init__(
        self,
        watchlist: Watchlist,
        settings: EnrichSettings,
        scorer: SentimentScorer,
        *,
        matcher: BrandMatcher | None = None,
        detector: LanguageDetector | None = None,
    ) -> None:
        self._settings = settings
        self._scorer = scorer
        self._matcher = matcher or BrandMatcher(watchlist)
        self._detector = detector or LanguageDetector(
            settings.languages,
            min_letters=settings.language_min_letters,
            min_confidence=settings.language_min_confidence,
        )
        self.matched = 0
        """Mentions that matched at least one brand, since construction."""
        self.unmatched = 0
        """Mentions that matched no brand (dropped), since construction."""

    def language(self, mention: Mention, text: str) -> str:
        """The detected language; the source's own tag when detection is undetermined."""
        detected = self._detector.detect(text)
        if detected == UNDETERMINED and mention.language:
            tag = _LANGUAGE_TAG.match(mention.language.strip())
            if tag:
                return tag.group(1).lower()
        return detected

    def enrich(
        self, mentions: Sequence[Mention], enriched_at: datetime | None = None
    ) -> list[EnrichedMention]:
        """One record per (mention, matched brand). ``enriched_at`` None: each mention's
        own ``published_at`` (replays that must not depend on the wall clock)."""
        texts = [mention_text(m, self._settings.max_chars) for m in mentions]
        results = self._matcher.match_many(texts)
        hits = [i for i, r in enumerate(results) if r]
        self.matched += len(hits)
        self.unmatched += len(mentions) - len(hits)
        languages = [self.language(mentions[i], texts[i]) for i in hits]
        sentiments = self._scorer.score([texts[i] for i in hits], languages)
        out: list[EnrichedMention] = []
        for i, language, sentiment in zip(hits, languages, sentiments, strict=True):
            mention = mentions[i]
            for brand, terms in results[i].brands.items():
                out.append(
                    EnrichedMention(
                        mention=mention,
                        brand=brand,
                        matched=terms,
                        language=language,
                        entities=results[i].entities,
                        sentiment=sentiment.label,
                        sentiment_score=sentiment.score,
                        reach=reach(mention.engagement, self._settings.reach),
                        enriched_at=enriched_at or mention.published_at,
                    )
                )
        return out
