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
from functools import lru_cache

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(text: str) -> str:
    """The form text and phrases are compared in."""
    if text.isascii():  # the common case, where every step but lower() is the identity
        return text.lower()
    folded = unicodedata.normalize("NFC", text).casefold().translate(_GERMAN)
    decomposed = unicodedata.normalize("NFKD", folded)
    if decomposed.isascii():  # combining marks are never ASCII
        return decomposed
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1024)
def fold_texts(*texts: str) -> str:
    """``texts`` folded and joined (apart). Cached: every keyword rule of a mention's
    brand (and every brand record of one mention) reads the same title and text, which
    are folded once."""
    # "\0" is neither a word character nor whitespace: no phrase runs from the title into
    # the text ("first class" + "Action mode" is not "class action")
    return "\n\0\n".join(fold(t) for t in texts)


class PhraseMatcher:
    """Which of a fixed list of phrases occur in a text."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases
        sources = [r"\s+".join(re.escape(w) for w in fold(p).split()) for p in phrases]
        self._patterns = [
            (p, re.compile(r"(?<!\w)" + s)) for p, s in zip(phrases, sources, strict=True)
        ]
        # Most texts contain none of the phrases: one search for any of them settles that.
        self._any = re.compile(r"(?<!\w)(?:" + "|".join(sources) + ")")

    def find(self, *texts: str) -> tuple[str, ...]:
        """The phrases (as configured) that occur in any of ``texts``, in configured order."""
        folded = fold_texts(*texts)
        if not self._any.search(folded):
            return ()
        return tuple(p for p, pattern in self._patterns if pattern.search(folded))
