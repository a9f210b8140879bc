"""The German sentiment lexicon (``lexicon_de.yaml``) and its scoring rules.

`GermanLexicon.score` returns a compound score in [-1, 1]: the sum of the valences of the
sentiment words and phrases found, after these rules, squashed by ``s / sqrt(s^2 + 15)``:

* a negation (nicht, kein, nie, ohne, ...) flips and dampens (x -0.75) the nearest
  sentiment word after it within three words of the same clause, failing that the nearest
  one before it, since German often negates after the verb ("Das funktioniert nicht");
* an intensifier or a downtoner (sehr, total, mega / etwas, eher) right before a sentiment
  word multiplies it; a word in CAPITALS in a text that is not shouting counts 1.3 times;
* after a contrast word (aber, jedoch) words count 1.5 times, before it half;
* exclamation marks (up to four) add 0.25 each in the direction of the sum.

A word that is not listed is looked up again (`GermanLexicon.valence`), in this order:
without a common inflection ending; a noun in -heit/-keit without it ("Freundlichkeit" ->
"freundlich"); an adjective in un- as its stem, negated and dampened like "nicht"
("unschön", "Unglück"); a word starting with a listed prefix ("Scheißwetter",
"Lieblingsband"); a compound ending in a listed head noun ("Verkehrschaos",
"Zugausfall"). Heads are an explicit list because an arbitrary tail finds words that are
not there ("Abenteuer" is no "teuer", "Schulklasse" no "klasse"); for the same reason
neither ge- nor doubled letters are stripped ("Geschlecht", "hatte").

`emoji_score` scores emoji and emoticons alone (any language). Emoji count wherever they
stand; ASCII emoticons (``:)``, ``xD``, ``<3``) only where no letter, digit or slash
touches them, so links (``http://``) and words are not read as faces.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_TOKEN = re.compile(r"[^\W\d_]+|[.!?;:,]", re.UNICODE)
_ENDINGS = ("esten", "ester", "estes", "estem", "este", "en", "er", "es", "em", "e", "n", "s", "t")
_NEGATION_DAMPING = -0.75
_NOUN_SUFFIXES = ("heit", "keit")
_MIN_STEM = 3
_MIN_HEAD = 4
_PREFIX_REST = 3
_CACHE_SIZE = 100_000
_NEGATION_REACH = 3
_BOOST_REACH = 2
_CAPS = 1.3
_ALPHA = 15.0


def normalise(word: str) -> str:
    """Lookup form: lower case, ä/ö/ü/ß written as ae/oe/ue/ss ("Schön" -> "schoen")."""
    return word.lower().translate(_TRANSLIT)


def squash(total: float) -> float:
    """Map an unbounded sum of valences into [-1, 1]."""
    return max(-1.0, min(1.0, total / math.sqrt(total * total + _ALPHA)))


@dataclass
class _Unit:
    start: int
    end: int
    clause: int
    valence: float
    negatable: bool = True


@cache
def load_german() -> GermanLexicon:
    """The packaged lexicon, read once per process."""
    text = resources.files("enrich").joinpath("lexicon_de.yaml").read_text(encoding="utf-8")
    return GermanLexicon(yaml.safe_load(text))


class GermanLexicon:
    """Scores German text with a lexicon (see the module docstring); its entries do not
    change once built (a lookup cache is its only state)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        words: dict[str, float] = {}
        for valence, entries in data["words"].items():
            for word in _strings(entries, f"words[{valence}]"):
                key = normalise(word)
                if key in words and words[key] != float(valence):
                    raise ValueError(f"lexicon: {word!r} is listed with two valences")
                words[key] = float(valence)
        self.words = words
        self.phrases = {
            tuple(normalise(w) for w in phrase.split()): float(v)
            for phrase, v in data["phrases"].items()
            if _strings([phrase], "phrases")
        }
        self.unnegated = frozenset(
            tuple(normalise(w) for w in phrase.split())
            for phrase in _strings(data.get("unnegated") or [], "unnegated")
        )
        unknown = [" ".join(p) for p in self.unnegated if p not in self.phrases]
        if unknown:
            raise ValueError(f"lexicon: unnegated {unknown[0]!r} is not among the phrases")
        self._max_phrase = max((len(p) for p in self.phrases), default=1)
        self._phrase_starts = frozenset(p[0] for p in self.phrases)
        self.negations = frozenset(normalise(w) for w in _strings(data["negations"], "negations"))
        self.intensifiers = {normalise(w): float(f) for w, f in data["intensifiers"].items()}
        self.contrast = frozenset(normalise(w) for w in _strings(data["contrast"], "contrast"))
        self._cache: dict[str, float | None] = {}
        self.heads: dict[str, float] = {}
        for head in _strings(data.get("compound_heads") or [], "compound_heads"):
            value = words.get(normalise(head))
            if value is None:
                raise ValueError(f"lexicon: compound head {head!r} is not among the words")
            self.heads[normalise(head)] = value
        self.prefixes = {normalise(p): float(v) for p, v in (data.get("prefixes") or {}).items()}
        self.emoji = {str(e): float(v) for e, v in data["emoji"].items()}
        self._emoji = _EmojiFinder(self.emoji)

    def valence(self, word: str) -> float | None:
        """The valence of a normalised word, trying the fallbacks of the module docstring."""
        if word in self._cache:
            return self._cache[word]
        found = self._inflected(word)
        if found is None:
            found = self._derived(word)
        if len(self._cache) >= _CACHE_SIZE:
            # A stream meets new words forever; starting afresh keeps memory bounded.
            self._cache.clear()
        self._cache[word] = found
        return found

    def _inflected(self, word: str) -> float | None:
        found = self.words.get(word)
        if found is not None:
            return found
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
                found = self.words.get(word[: -len(ending)])
                if found is not None:
                    return found
        return None

    def _derived(self, word: str) -> float | None:
        for suffix in _NOUN_SUFFIXES:
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= _MIN_STEM:
                found = self._inflected(stem)
                if found is not None:
                    return found
        if word.startswith("un") and len(word) >= 6:
            found = self._inflected(word[2:])
            if found is not None:
                return found * _NEGATION_DAMPING
        for prefix, value in self.prefixes.items():
            if word.startswith(prefix) and len(word) - len(prefix) >= _PREFIX_REST:
                return value
        for start in range(_MIN_STEM, len(word) - _MIN_HEAD + 1):
            head = self.heads.get(word[start:]) or self._head_inflected(word[start:])
            if head is not None:
                return head
        return None

    def _head_inflected(self, tail: str) -> float | None:
        for ending in ("en", "n", "s", "e"):
            if tail.endswith(ending) and (found := self.heads.get(tail[: -len(ending)])):
                return found
        return None

    def emoji_sum(self, text: str) -> float:
        return sum(self.emoji[m] for m in self._emoji.findall(text))

    def emoji_score(self, text: str) -> float:
        return squash(self.emoji_sum(text))

    def score(self, text: str) -> float:
        """Compound sentiment of a German text in [-1, 1] (0: nothing found)."""
        raw = _TOKEN.findall(text)
        words = [None if len(t) == 1 and not t.isalpha() else normalise(t) for t in raw]
        clauses: list[int] = []
        clause = 0
        for w in words:
            clause += w is None
            clauses.append(clause)
        units, negations, boosts, contrast = self._units(words, clauses)
        shouting = text.isupper()
        for unit in units:
            token = raw[unit.start]
            if not shouting and len(token) > 1 and token.isupper():
                unit.valence *= _CAPS
        for at, factor in boosts:
            target = _first_after(units, at, clauses[at], _BOOST_REACH)
            if target is not None:
                target.valence *= factor
        for at in negations:
            target = _first_after(units, at, clauses[at], _NEGATION_REACH)
            if target is None:
                target = _last_before(units, at, clauses[at], _NEGATION_REACH)
            if target is not None:
                target.valence *= _NEGATION_DAMPING
        if contrast is not None:
            for unit in units:
                unit.valence *= 0.5 if unit.start < contrast else 1.5
        total = sum(u.valence for u in units)
        if total:
            total += math.copysign(0.25 * min(text.count("!"), 4), total)
        return squash(total + self.emoji_sum(text))

    def _units(
        self, words: list[str | None], clauses: list[int]
    ) -> tuple[list[_Unit], list[int], list[tuple[int, float]], int | None]:
        units: list[_Unit] = []
        negations: list[int] = []
        boosts: list[tuple[int, float]] = []
        contrast: int | None = None
        i = 0
        while i < len(words):
            word = words[i]
            if word is None:
                i += 1
                continue
            phrase = self._phrase_at(words, i)
            if phrase is not None:
                length, value = phrase
                fixed = tuple(words[i : i + length]) in self.unnegated
                units.append(_Unit(i, i + length, clauses[i], value, negatable=not fixed))
                i += length
                continue
            if word in self.negations:
                negations.append(i)
            elif word in self.contrast:
                contrast = i
            elif word in self.intensifiers and self._is_sentiment(words, i + 1):
                boosts.append((i, self.intensifiers[word]))
            else:
                found = self.valence(word)
                if found is not None:
                    units.append(_Unit(i, i + 1, clauses[i], found))
            i += 1
        return units, negations, boosts, contrast

    def _phrase_at(self, words: list[str | None], i: int) -> tuple[int, float] | None:
        if words[i] not in self._phrase_starts:  # most words start no phrase
            return None
        for length in range(min(self._max_phrase, len(words) - i), 1, -1):
            value = self.phrases.get(tuple(words[i : i + length]))  # type: ignore[arg-type]
            if value is not None:
                return length, value
        return None

    def _is_sentiment(self, words: list[str | None], i: int) -> bool:
        if i >= len(words) or words[i] is None:
            return False
        word = words[i]
        assert word is not None
        return self.valence(word) is not None or self._phrase_at(words, i) is not None


def _first_after(units: list[_Unit], at: int, clause: int, reach: int) -> _Unit | None:
    for unit in units:
        if at < unit.start <= at + reach and unit.clause == clause and unit.negatable:
            return unit
    return None


def _last_before(units: list[_Unit], at: int, clause: int, reach: int) -> _Unit | None:
    found = None
    for unit in units:
        if at - reach <= unit.end - 1 < at and unit.clause == clause and unit.negatable:
            found = unit
    return found


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


class _EmojiFinder:
    """Finds the lexicon's emoji and emoticons in a text: the longest where entries
    overlap; an emoticon (an ASCII entry) only where it stands apart, not inside a word,
    a number or a link.

    Why not one regex over the text: Python's regex engine checks a set of first
    characters that holds emoji (beyond U+FFFF) one entry at a time, at every position,
    about 100 ns a character. When every entry is either all ASCII or all non-ASCII
    (the packaged lexicon), a match of one kind never overlaps a match of the other, so
    emoticons are looked for by a regex of ASCII entries only (fast), and emoji only
    inside the text's runs of non-ASCII characters, where all of their matches lie.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        entries = list(entries)
        emoticons = [e for e in entries if e.isascii()]
        emoji = [e for e in entries if not e.isascii()]
        self._split = all(not any(c.isascii() for c in e) for e in emoji)
        self._emoticons = _emoji_regex(emoticons)
        self._emoji = _emoji_regex(emoji)
        self._all = _emoji_regex(entries)

    def findall(self, text: str) -> list[str]:
        """The entries found in ``text``, in text order (as one regex's findall)."""
        if text.isascii():
            return self._emoticons.findall(text)
        if not self._split:
            return self._all.findall(text)
        emoji = [
            (m.start(), m.group())
            for run in _NON_ASCII.finditer(text)
            for m in self._emoji.finditer(text, run.start(), run.end())
        ]
        if not emoji:
            return self._emoticons.findall(text)
        emoji.extend((m.start(), m.group()) for m in self._emoticons.finditer(text))
        return [entry for _, entry in sorted(emoji)]


def _emoji_regex(entries: Iterable[str]) -> re.Pattern[str]:
    """One regex finding every entry, the longest where entries overlap.

    An emoticon (an ASCII entry) must stand apart: not inside a word, a number or a link.
    Entries are grouped by their first character and every alternative starts with that
    literal (the check of the character before an emoticon is a look-behind over it and
    its first character), so the regex engine skips to the next possible first character
    and tries only that character's entries: many times faster than one alternative per
    entry, each opening with a look-behind, tried at every position of the text.
    """
    groups: dict[str, list[str]] = {}
    for entry in sorted(entries, key=len, reverse=True):
        groups.setdefault(entry[0], []).append(entry)
    alternatives = []
    for first, members in groups.items():
        lit = re.escape(first)
        rests = [
            rf"(?<![\w/]{lit}){re.escape(e[1:])}(?![\w/])" if e.isascii() else re.escape(e[1:])
            for e in members
        ]
        alternatives.append(lit + (rests[0] if len(rests) == 1 else f"(?:{'|'.join(rests)})"))
    # With no entries, a pattern that never matches (an empty one would match anywhere).
    return re.compile("|".join(alternatives) or "(?!)")


def _strings(entries: Any, where: str) -> list[str]:
    # YAML reads some bare words as booleans or numbers; the lexicon must be all text
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ValueError(f"lexicon: {where} must be a list of words")
    return entries
