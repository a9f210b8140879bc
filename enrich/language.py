"""Language detection with py3langid's bundled model (offline, no downloads).

Contract: `LanguageDetector.detect` returns one of the configured ISO 639-1 codes, or
``und`` (undetermined) when the text has too few letters once links, handles and hashtags
are removed, or when the model's probability for its best guess is below the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

UNDETERMINED = "und"

# Links, handles and hashtags are names, not language: "@acme_support #fail" would
# otherwise read as whatever language those letters resemble.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.@-]+", re.UNICODE)


def _enough_letters(count: int) -> re.Pattern[str]:
    """A regex that matches a text with at least ``count`` letters: it stops at the
    ``count``-th letter instead of listing every letter of the text (linear, never
    backtracking more than once per character per letter counted)."""
    return re.compile(r"[\W\d_]*(?:[^\W\d_][\W\d_]*){" + str(count) + "}", re.UNICODE)


class LanguageDetector:
    """Detects the language of short social-media texts among a fixed set of languages.

    The model is loaded once per detector (about half a second); `detect` takes tens of
    microseconds for a tweet-sized text.
    """

    def __init__(
        self,
        languages: Sequence[str],
        *,
        min_letters: int = 6,
        min_confidence: float = 0.7,
    ) -> None:
        # our own identifier: py3langid's module-level one is shared process state
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._identifier.set_languages(list(languages))
        self._letters = _enough_letters(max(min_letters, 1))
        self._min_confidence = min_confidence
        self.languages = tuple(languages)

    def detect(self, text: str) -> str:
        """The language of ``text``, or ``und``."""
        cleaned = _NOISE.sub(" ", text)
        if not self._letters.match(cleaned):
            return UNDETERMINED
        language, confidence = self._identifier.classify(cleaned)
        if float(confidence) < self._min_confidence:
            return UNDETERMINED
        return str(language)

    def detect_many(self, texts: Iterable[str]) -> list[str]:
        return [self.detect(t) for t in texts]
