"""The match step without a bus: language, brands, sentiment and reach of mentions.

`Enricher.enrich` turns a batch of `Mention`s into one `EnrichedMention` (velocity None)
per matched brand, in mention order; mentions that match no brand yield nothing and are
counted in `Enricher.unmatched`. Sentiment is scored once per batch, for matched mentions
only (the model is the expensive part).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.records import Engagement, EnrichedMention, Mention
from core.watchlist import Watchlist
from enrich.language import UNDETERMINED, LanguageDetector
from enrich.matcher import BrandMatcher, MatchResult
from enrich.sentiment import SentimentResult, SentimentScorer
from enrich.settings import EnrichSettings, ReachSettings

_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2})(?:[-_].*)?$")
"""An ISO 639-1 code, with a region or script after it ("de-AT"). Three-letter tags are
left out: X writes "qme", "qht", "zxx" and "und" for posts with no language."""


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


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the match step learns from one text that mentions at least one brand."""

    match: MatchResult
    language: str
    sentiment: SentimentResult


class Analyser(Protocol):
    def analyse(self, texts: Sequence[str], tags: Sequence[str | None]) -> list[Analysis | None]:
        """One entry per text, in order: None when it mentions no brand. ``tags``: the
        source's language tag of each text (used when detection is undetermined)."""
        ...


class TextAnalyser:
    """Brand matching, language and sentiment of texts, in this process."""

    def __init__(
        self,
        watchlist: Watchlist,
        settings: EnrichSettings,
        scorer: SentimentScorer,
        *,
        matcher: BrandMatcher | None = None,
        detector: LanguageDetector | None = None,
    ) -> None:
        self._scorer = scorer
        self._matcher = matcher or BrandMatcher(watchlist)
        self._detector = detector or LanguageDetector(
            settings.languages,
            min_letters=settings.language_min_letters,
            min_confidence=settings.language_min_confidence,
        )

    def language(self, text: str, tag: str | None) -> str:
        """The detected language; the source's own tag when detection is undetermined."""
        detected = self._detector.detect(text)
        if detected == UNDETERMINED and tag:
            found = _LANGUAGE_TAG.match(tag.strip())
            if found:
                return found.group(1).lower()
        return detected

    def analyse(self, texts: Sequence[str], tags: Sequence[str | None]) -> list[Analysis | None]:
        results = self._matcher.match_many(texts)
        hits = [i for i, r in enumerate(results) if r]
        languages = [self.language(texts[i], tags[i]) for i in hits]
        # sentiment is scored once per batch, for matched texts only (a model's batch)
        sentiments = self._scorer.score([texts[i] for i in hits], languages)
        out: list[Analysis | None] = [None] * len(texts)
        for i, language, sentiment in zip(hits, languages, sentiments, strict=True):
            out[i] = Analysis(results[i], language, sentiment)
        return out


class Enricher:
    """Language, brand matching, sentiment and reach; built once, used for every batch.

    The text work is the ``analyser``'s: by default a `TextAnalyser` in this process
    (`enrich.processes.ProcessAnalyser` runs it in child processes)."""

    def __init__(
        self,
        watchlist: Watchlist,
        settings: EnrichSettings,
        scorer: SentimentScorer | None = None,
        *,
        matcher: BrandMatcher | None = None,
        detector: LanguageDetector | None = None,
        analyser: Analyser | None = None,
    ) -> None:
        self._settings = settings
        if analyser is None:
            if scorer is None:
                raise ValueError("an Enricher needs a scorer or an analyser")
            analyser = TextAnalyser(watchlist, settings, scorer, matcher=matcher, detector=detector)
        self.analyser = analyser
        self.matched = 0
        """Mentions that matched at least one brand, since construction."""
        self.unmatched = 0
        """Mentions that matched no brand (dropped), since construction."""

    def enrich(
        self, mentions: Sequence[Mention], enriched_at: datetime | None = None
    ) -> list[EnrichedMention]:
        """One record per (mention, matched brand). ``enriched_at`` None: each mention's
        own ``published_at`` (replays that must not depend on the wall clock)."""
        texts = [mention_text(m, self._settings.max_chars) for m in mentions]
        analyses = self.analyser.analyse(texts, [m.language for m in mentions])
        out: list[EnrichedMention] = []
        for mention, analysis in zip(mentions, analyses, strict=True):
            if analysis is None:
                self.unmatched += 1
                continue
            self.matched += 1
            for brand, terms in analysis.match.brands.items():
                out.append(
                    EnrichedMention(
                        mention=mention,
                        brand=brand,
                        matched=terms,
                        language=analysis.language,
                        entities=analysis.match.entities,
                        sentiment=analysis.sentiment.label,
                        sentiment_score=analysis.sentiment.score,
                        reach=reach(mention.engagement, self._settings.reach),
                        enriched_at=enriched_at or mention.published_at,
                    )
                )
        return out
