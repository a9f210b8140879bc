"""Brand matching: which watchlist brands a text is about, and through which terms.

Built once from a `Watchlist` on spaCy's language-neutral tokenizer (``spacy.blank("xx")``)
and a `PhraseMatcher` over the token attribute NORM, which this module sets to a folded
form of the word (`fold`). What a caller may rely on:

* Case does not matter; accents and umlauts are folded, so a term written Müller matches
  Müller, Mueller and Muller (a term written Mueller matches only Mueller), and ß is ss;
  curly apostrophes are straight ones, soft hyphens and zero-width spaces are ignored.
* Matching is by whole tokens. The tokenizer splits hyphens between letters, so the German
  compound "Acme-Kunden" mentions Acme, but "Acmeville", "acme.com" and
  "support@acme.com" do not (list a domain as an alias to count it). Closed compounds
  ("Acmekunden") and a genitive s without apostrophe ("Acmes") are not matched.
* Hashtags and handles match as listed (``#boycottacme``, ``@acme_support``); the brand
  name also matches inside its plain hashtag ("#acme" is a token "#" then "acme").
* Multi-word names and aliases match as phrases, also hyphenated ("Deutsche-Bahn-Streik");
  overlapping matches of one brand keep the longest ("Acme Corp" rather than "Acme").
* Exclusions: an exclusion phrase that contains one of the brand's terms ("Acme Corp
  careers") removes the matches inside it; the mention still counts if another match of
  the brand survives. An exclusion that contains none of its terms ("Wile E. Coyote")
  is context: where it occurs, the brand is not matched in that text at all.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.watchlist import Watchlist

# spaCy's thinc imports torch whenever it is installed (the transformers extra): about a
# second and 500 MB in every process that matches brands, for a tokenizer and a
# PhraseMatcher that never use it. So spaCy is imported with torch hidden, unless torch is
# loaded already; the transformer scorer imports torch itself later, unaffected (thinc
# then does without it, as this module does).
_HIDE_TORCH = "torch" not in sys.modules
if _HIDE_TORCH:
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` fails
try:
    import spacy
    from spacy.attrs import IDS  # type: ignore[import-not-found]  # compiled, no stub
    from spacy.language import Language
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc
finally:
    if _HIDE_TORCH:
        del sys.modules["torch"]

_NORM: int = IDS["NORM"]

# Letters NFKD does not decompose, and the apostrophes phones and news sites type.
_FOLD_TABLE = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u00b4": "'",
    }
)
# The German transliteration of an umlaut, for the spelling variants of a term.
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
# A run of one punctuation character: spaCy's tokenizer takes time quadratic in its length.
_RUN = re.compile(r"([^\w\s])\1{16,}")


def fold(text: str) -> str:
    """The matching form of a word: lower case, accents removed, ß->ss, curly apostrophes
    straight, invisible characters (soft hyphens, zero-width spaces) dropped.

    ``fold("Müller") == fold("MULLER") == "muller"``; "Mueller" is another spelling,
    which a term written "Müller" also matches (`spellings`).
    """
    s = text.lower().translate(_FOLD_TABLE)
    s = unicodedata.normalize("NFKD", s)
    return "".join(
        ch for ch in s if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )


def spellings(term: str) -> list[str]:
    """The spellings a watchlist term is matched in: as written (folded: "Müller" is also
    "Muller"), with its umlauts transliterated ("Mueller"), and a multi-word name also
    hyphenated, as German compounds write it ("Deutsche-Bahn-Streik"). Only a real umlaut
    gets the ae/oe/ue spelling: contracting those in every text made Citroën "citron"
    and Moët "mot"."""
    out = [term, term.translate(_TRANSLITERATE)]
    out += [t.replace(" ", "-") for t in out if " " in t]
    return list(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What one text mentions: brand id -> the watchlist terms that matched (text order),
    and ``entities``, the names of those brands in order of first appearance."""

    brands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    entities: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.brands)


@dataclass(frozen=True, slots=True)
class _Term:
    brand: int
    term: str


@dataclass(frozen=True, slots=True)
class _Exclusion:
    brand: int
    context: bool
    """True: contains no term of the brand, so it vetoes the brand for the whole text."""


class BrandMatcher:
    """Matches watchlist brands in texts; build once, call `match_many` on batches.

    spaCy's vocabulary grows with every new word it sees; to keep memory bounded in a
    long-running stage the pipeline is rebuilt once it holds ``max_vocab`` words.
    """

    def __init__(self, watchlist: Watchlist, *, max_vocab: int = 500_000) -> None:
        self._watchlist = watchlist
        self._max_vocab = max_vocab
        self._build()

    def _build(self) -> None:
        nlp = spacy.blank("xx")
        # NORM of every new lexeme is computed once by `fold` and cached in the vocab
        # (Vocab.lex_attr_getters is public API, missing from spaCy's stubs).
        vocab: Any = nlp.vocab
        vocab.lex_attr_getters[_NORM] = fold
        for lexeme in nlp.vocab:  # the ones created before the getter was set
            lexeme.norm_ = fold(lexeme.orth_)
        terms = PhraseMatcher(nlp.vocab, attr="NORM")
        exclusions = PhraseMatcher(nlp.vocab, attr="NORM")
        term_keys: dict[int, _Term] = {}
        exclusion_keys: dict[int, _Exclusion] = {}
        for b, brand in enumerate(self._watchlist.brands):
            brand_terms = PhraseMatcher(nlp.vocab, attr="NORM")
            for t, term in enumerate(dict.fromkeys(brand.terms())):
                key = f"{brand.id}\x1fterm\x1f{t}"
                docs = [nlp.make_doc(spelling) for spelling in spellings(term)]
                terms.add(key, docs)
                brand_terms.add(key, docs)
                term_keys[nlp.vocab.strings[key]] = _Term(b, term)
            for x, phrase in enumerate(dict.fromkeys(brand.exclude)):
                key = f"{brand.id}\x1fexclude\x1f{x}"
                variants = [nlp.make_doc(spelling) for spelling in spellings(phrase)]
                exclusions.add(key, variants)
                context = not brand_terms(variants[0])
                exclusion_keys[nlp.vocab.strings[key]] = _Exclusion(b, context)
        self._nlp: Language = nlp
        self._terms = terms
        self._exclusions = exclusions if exclusion_keys else None
        self._term_keys = term_keys
        self._exclusion_keys = exclusion_keys

    def match(self, text: str) -> MatchResult:
        return self.match_many([text])[0]

    def match_many(self, texts: Iterable[str], batch_size: int = 256) -> list[MatchResult]:
        """One `MatchResult` per text, in order."""
        out = [self._match_doc(doc) for doc in self._docs(texts, batch_size)]
        if len(self._nlp.vocab) > self._max_vocab:
            self._build()
        return out

    def _docs(self, texts: Iterable[str], batch_size: int) -> Iterator[Doc]:
        limit = self._nlp.max_length
        return self._nlp.pipe((_calm(t[:limit]) for t in texts), batch_size=batch_size)

    def _match_doc(self, doc: Doc) -> MatchResult:
        hits = self._terms(doc)
        if not hits:
            return MatchResult()
        vetoed: set[int] = set()
        covers: dict[int, list[tuple[int, int]]] = {}
        if self._exclusions is not None:
            for key, start, end in self._exclusions(doc):
                excl = self._exclusion_keys[key]
                if excl.context:
                    vetoed.add(excl.brand)
                else:
                    covers.setdefault(excl.brand, []).append((start, end))
        spans: dict[int, list[tuple[int, int, str]]] = {}
        for key, start, end in hits:
            hit = self._term_keys[key]
            if hit.brand in vetoed:
                continue
            if any(xs <= start and end <= xe for xs, xe in covers.get(hit.brand, ())):
                continue
            spans.setdefault(hit.brand, []).append((start, end, hit.term))
        found = sorted(((_longest(s), b) for b, s in spans.items()), key=lambda item: item[0][0][0])
        brands = self._watchlist.brands
        return MatchResult(
            brands={
                brands[b].id: tuple(dict.fromkeys(term for _, _, term in kept)) for kept, b in found
            },
            entities=tuple(brands[b].name for _, b in found),
        )


def _calm(text: str) -> str:
    """``text`` with each run of one punctuation character cut to 16 ("!!!!…", "====…"):
    no brand is spelt that way, and a long run took the tokenizer minutes."""
    return _RUN.sub(lambda m: m.group(1) * 16, text) if len(text) > 16 else text


def _longest(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Non-overlapping spans, longer ones first, returned in text order."""
    kept: list[tuple[int, int, str]] = []
    for start, end, term in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if all(end <= ks or start >= ke for ks, ke, _ in kept):
            kept.append((start, end, term))
    return sorted(kept)
