"""The keyword rule and its phrase matching (case, umlauts, hashtags, word starts)."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable

import pytest

from rules.schema import RuleSet
from rules.text import _GERMAN, PhraseMatcher, fold, fold_texts
from rules.types.keyword import KeywordRule
from tests.rules.support import Driver, MakeMention, at

PHRASES = ("boycott", "Rückruf", "#boycottacme", "class action")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("We BOYCOTT Acme now", ("boycott",)),
        ("Stop boycotting them", ("boycott",)),
        ("RÜCKRUF bei Acme", ("Rückruf",)),
        ("Rueckruf: Acme ruft Toaster zurück", ("Rückruf",)),
        ("Die Rückrufaktion läuft", ("Rückruf",)),
        ("Join #BoycottAcme today", ("boycott", "#boycottacme")),
        ("a class\n  action was filed", ("class action",)),
        ("emboycotted is no word start", ()),
        ("classaction without the space", ()),
        ("Acme announces new toaster", ()),
    ],
)
def test_phrase_matching(text: str, found: tuple[str, ...]) -> None:
    assert PhraseMatcher(PHRASES).find("", text) == found


def test_folding_is_case_umlaut_and_accent_tolerant() -> None:
    assert fold("RÜCKRUF Straße Café") == fold("rueckruf STRASSE cafe") == "rueckruf strasse cafe"


def test_fires_at_min_count_matching_mentions_in_title_or_text(
    rules_from: Callable[[str], RuleSet], driver: Callable[[RuleSet], Driver], mk: MakeMention
) -> None:
    d = driver(
        rules_from(
            """
            rules:
              - name: acme-words
                type: keyword
                brands: [acme]
                window: 1h
                phrases: [boycott, lawsuit, Rückruf, "#boycottacme"]
                min_count: 3
                severity: critical
            """
        )
    )
    assert d.feed(mk(1, 0, title="Acme sued", text="A lawsuit was filed")) == []
    assert d.feed(mk(2, 5, text="Acme launches a toaster"), mk(3, 6, text="lovely")) == []
    assert d.feed(mk(1, 0, title="Acme sued", text="A lawsuit was filed")) == [], "duplicate"
    assert d.feed(mk(4, 10, title="RUECKRUF bei Acme", text="")) == []
    assert d.feed(mk(5, 20, text="#BoycottAcme")) == [("firing", "acme", at(20))]
    fired = d.alerts[0]
    assert (
        fired.summary
        == "acme: 3 mentions in 1h with boycott, lawsuit, Rückruf, #boycottacme (min 3)"
    )
    assert fired.figures["count"] == 3
    assert [s.id for s in fired.samples] == [mk(n, 0).mention.id for n in (5, 4, 1)]
    # the lawsuit mention (minute 0) leaves at 60: false from then, resolved an hour later
    assert d.wait(125) == [("resolved", "acme", at(120))]


def _full_fold(text: str) -> str:
    """Folding with no shortcut: every step of the module docstring, character by character."""
    folded = unicodedata.normalize("NFC", text).casefold().translate(_GERMAN)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def test_folding_shortcuts_agree_with_full_folding() -> None:
    rnd = random.Random(7)
    alphabet = "aZ09 #@-_äöüßÄÖÜẞéÉıİŁøæ\u0301\u0308ﬁⅫ①ǅΣς😀„"
    texts = ["", "ASCII Only #Tag", "Straße", "e\u0301", "😀 only"] + [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(12))) for _ in range(5000)
    ]
    for text in texts:
        assert fold(text) == _full_fold(text), repr(text)
    assert fold_texts("Title", "RÜCKRUF") == "title\n\0\nrueckruf"


def test_a_phrase_does_not_run_from_the_title_into_the_text() -> None:
    matcher = PhraseMatcher(PHRASES)
    assert matcher.find("Flying first class", "Action mode on the new Acme camera") == ()
    assert matcher.find("Acme: class action", "filed today") == ("class action",)
    assert matcher.find("Acme news", "class action filed") == ("class action",)


def test_phrase_search_agrees_with_searching_each_phrase() -> None:
    phrases = (*PHRASES, "ß", "a b")
    matcher = PhraseMatcher(phrases)
    patterns = [
        (p, re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in fold(p).split())))
        for p in phrases
    ]
    rnd = random.Random(3)
    pieces = ["boycott", "Rückruf", "#BoycottAcme", "class", "action", "ss", "a", "b", "x"]
    for _ in range(3000):
        text = rnd.choice(["", " ", "\n"]).join(
            rnd.choice([*pieces, " ", "\n", "em"]) for _ in range(rnd.randrange(8))
        )
        folded = fold(text)
        expected = tuple(p for p, pattern in patterns if pattern.search(folded))
        assert matcher.find(text) == expected, repr(text)


def test_a_phrase_from_a_yaml_block_loses_its_line_break(
    rules_from: Callable[[str], RuleSet],
) -> None:
    ruleset = rules_from(
        "rules:\n  - name: k\n    type: keyword\n    brands: [acme]\n"
        "    phrases:\n      - >\n        product\n        recall\n"
    )
    rule = ruleset.get("k")
    assert isinstance(rule, KeywordRule) and rule.phrases == ("product recall",)
