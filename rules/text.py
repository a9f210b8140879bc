"""Phrase matching for keyword rules: case-insensitive and umlaut-tolerant.

Text and phrases are folded the same way: Unicode case folding, the German
transliteration (ä -> ae, ö -> oe, ü -> ue, ß -> ss) and other accents dropped
(é -> e). So "Rückruf" matches "RÜCKRUF" and "Rueckruf", and "café" matches "cafe".

A phrase matches at the start of a word and may continue into it: "boycott" matches
"Boycott", "boycotting" and "#boycottacme"; "Rückruf" matches "Rückrufaktion";
"#boycottacme" matches that hashtag. Words of a phrase match across any whitespace.
"""

from __future__ import annotations

import re
import unicodedata

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(text: str) -> str:
    """The form text and phrases are compared in."""
    folded = unicodedata.normalize("NFC", text).casefold().translate(_GERMAN)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


class PhraseMatcher:
    """Which of a fixed list of phrases occur in a text."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases
        self._patterns = [
            (p, re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in fold(p).split())))
            for p in phrases
        ]

    def find(self, *texts: str) -> tuple[str, ...]:
        """The phrases (as configured) that occur in any of ``texts``, in configured order."""
        folded = "\n".join(fold(t) for t in texts)
        return tuple(p for p, pattern in self._patterns if pattern.search(folded))
