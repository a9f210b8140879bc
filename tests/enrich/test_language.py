from __future__ import annotations

import random
import re

import pytest

from enrich.language import UNDETERMINED, LanguageDetector, _enough_letters
from enrich.settings import DEFAULT_LANGUAGES


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(DEFAULT_LANGUAGES)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The customer service at Acme is terrible, I want my money back!", "en"),
        ("Great news: the new phone from Acme finally ships next week.", "en"),
        ("Der Kundenservice von Acme ist eine Katastrophe, nie wieder!", "de"),
        ("Seit drei Wochen warte ich auf eine Antwort vom Support.", "de"),
        ("Le service client d'Acme ne répond jamais à mes messages.", "fr"),
        ("El servicio de atención al cliente es muy lento.", "es"),
    ],
)
def test_sentences(detector: LanguageDetector, text: str, language: str) -> None:
    assert detector.detect(text) == language


@pytest.mark.parametrize(
    "text", ["", "lol", "Acme", "123 456 !!!", "@acme_support #acme https://a.example/x"]
)
def test_too_short_or_only_names_is_undetermined(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == UNDETERMINED


def test_handles_hashtags_and_links_do_not_count_as_language(detector: LanguageDetector) -> None:
    text = "Der Service ist wirklich schlecht @acme_support_team #customerservicefail https://example.com/complaint"
    assert detector.detect(text) == "de"


def test_only_the_configured_languages_are_chosen() -> None:
    narrow = LanguageDetector(["en", "de"], min_confidence=0.0)
    assert narrow.detect("Le service client ne répond jamais à mes messages.") in ("en", "de")
    strict = LanguageDetector(["en", "de"], min_confidence=0.99)
    assert strict.detect("Le service client ne répond jamais à mes messages.") == UNDETERMINED


def test_detect_many_keeps_order(detector: LanguageDetector) -> None:
    assert detector.detect_many(
        ["Das ist wirklich ein sehr guter Service.", "This is a really good service.", "ok"]
    ) == ["de", "en", UNDETERMINED]


def test_the_letter_minimum_counts_letters_only() -> None:
    rnd = random.Random(5)
    alphabet = "ab ZäßΣж1_-.!😀Ⅻ½\n"
    for minimum in (1, 3, 6):
        enough = _enough_letters(minimum)
        for _ in range(3000):
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(14)))
            letters = len(re.findall(r"[^\W\d_]", text))
            assert (enough.match(text) is not None) == (letters >= minimum), repr(text)
    short = LanguageDetector(["en", "de"], min_letters=6)
    assert short.detect("ab 12 cd e!") == UNDETERMINED  # five letters
