"""The keyword rule and its phrase matching (case, umlauts, hashtags, word starts)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rules.schema import RuleSet
from rules.text import PhraseMatcher, fold
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
