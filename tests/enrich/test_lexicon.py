from __future__ import annotations

import random
import re
from typing import Any

import pytest

from core.records import Sentiment
from enrich.lexicon import GermanLexicon, _EmojiFinder, load_german
from enrich.sentiment import LexiconScorer, label_for
from enrich.sentiment_text import for_lexicon


@pytest.fixture(scope="module")
def german() -> GermanLexicon:
    return load_german()


def test_the_packaged_lexicon_is_substantial(german: GermanLexicon) -> None:
    assert len(german.words) >= 300
    assert sum(v < 0 for v in german.words.values()) >= 150
    assert {"nicht", "kein", "nie"} <= german.negations


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Der Kundenservice von Acme ist eine Katastrophe, nie wieder!", -1),
        ("Totale Abzocke, ich fühle mich verarscht", -1),
        ("Seit drei Wochen keine Antwort vom Support. Frechheit!", -1),
        ("Die Lieferung kam pünktlich, alles bestens", 1),
        ("Super freundliche Beratung, sehr zu empfehlen", 1),
        ("Acme hat heute ein neues Produkt vorgestellt", 0),
        ("Guten Morgen zusammen, liebe Grüße", 0),
    ],
)
def test_german_polarity(german: GermanLexicon, text: str, sign: int) -> None:
    score = german.score(text)
    assert -1 <= score <= 1
    assert (score > 0.05) - (score < -0.05) == sign, score


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("Das ist gut", "Das ist nicht gut"),
        ("Der Service ist schlecht", "Der Service ist nicht schlecht"),
        ("Die App funktioniert", "Die App funktioniert nicht"),  # negation after the verb
        ("Ich empfehle Acme", "Ich empfehle Acme nicht"),
        ("Das war ein Erfolg", "Das war kein Erfolg"),
        ("Es gab Probleme", "Es gab keine Probleme"),
    ],
)
def test_german_negation_flips(german: GermanLexicon, plain: str, negated: str) -> None:
    a, b = german.score(plain), german.score(negated)
    assert a != 0 and b != 0
    assert (a > 0) != (b > 0), (a, b)


@pytest.mark.parametrize(
    "text",
    [
        "Das Netz von Acme geht schon wieder nicht",  # read as "not again": positive
        "Acme-App funktioniert mal wieder nicht",
        "Nicht schon wieder, Acme!",
    ],
)
def test_a_negation_does_not_flip_a_complaint_about_again(german: GermanLexicon, text: str) -> None:
    assert german.score(text) < 0


def test_negation_does_not_reach_across_a_clause(german: GermanLexicon) -> None:
    assert german.score("Nicht heute. Der Service ist gut") > 0


def test_intensifiers_downtoners_caps_and_exclamations(german: GermanLexicon) -> None:
    plain = german.score("Der Service ist schlecht")
    assert german.score("Der Service ist sehr schlecht") < plain
    assert german.score("Der Service ist etwas schlecht") > plain
    assert german.score("Der Service ist SCHLECHT") < plain
    assert german.score("Der Service ist schlecht!!!") < plain
    # "super" alone is praise; before a sentiment word it intensifies
    assert german.score("super") > 0 and german.score("super langsam") < german.score("langsam")


def test_contrast_weighs_what_follows(german: GermanLexicon) -> None:
    assert german.score("Das Essen war gut, aber der Service war unterirdisch") < 0
    assert german.score("Der Service war schlecht, aber das Essen war hervorragend") > 0


def test_inflections_and_spellings(german: GermanLexicon) -> None:
    assert german.score("ein schlechter Tag") == german.score("ein schlecht Tag")
    assert german.score("schön") == german.score("schoen") > 0
    assert german.score("Katastrophen überall") < 0
    assert german.score("schon wieder") < 0 and german.score("schon") == 0


def test_emoji(german: GermanLexicon) -> None:
    assert german.emoji_score("😡😡") < german.emoji_score("😡") < 0 < german.emoji_score("👍 ❤️")
    assert german.emoji_score("kein emoji") == 0


def test_a_word_with_two_valences_or_a_yaml_boolean_is_refused() -> None:
    base: dict[str, Any] = {
        "words": {2: ["gut"]},
        "phrases": {},
        "negations": ["nicht"],
        "intensifiers": {},
        "contrast": [],
        "emoji": {},
    }
    GermanLexicon(base)
    with pytest.raises(ValueError, match="two valences"):
        GermanLexicon({**base, "words": {2: ["gut"], -2: ["Gut"]}})
    with pytest.raises(ValueError, match="list of words"):
        GermanLexicon({**base, "negations": ["nicht", False]})  # what YAML makes of `no`


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("I love this, the support team was amazing!", "en", Sentiment.POSITIVE),
        ("Worst customer service ever. Never again.", "en", Sentiment.NEGATIVE),
        ("The store opens at nine.", "en", Sentiment.NEUTRAL),
        ("Die App stürzt ständig ab, total nervig", "de", Sentiment.NEGATIVE),
        ("Vielen Dank, das hat super geklappt", "de", Sentiment.POSITIVE),
        ("Das funktioniert nicht", "und", Sentiment.NEGATIVE),  # German picked up unasked
        ("This is awful", None, Sentiment.NEGATIVE),
        ("Le service est nul 😡", "fr", Sentiment.NEGATIVE),  # emoji only
        ("Le service est excellent", "fr", Sentiment.NEUTRAL),  # no French lexicon
    ],
)
def test_lexicon_scorer_routes_by_language(
    lexicon: LexiconScorer, text: str, language: str | None, label: Sentiment
) -> None:
    [result] = lexicon.score([text], [language])
    assert result.label is label
    assert -1 <= result.score <= 1


def test_lexicon_scorer_batch_contract(lexicon: LexiconScorer) -> None:
    texts = ["great", "schrecklich", "neutral words here"]
    results = lexicon.score(texts, ["en", "de", "en"])
    assert len(results) == 3 and results == lexicon.score(texts, ["en", "de", "en"])
    assert lexicon.score([]) == []
    with pytest.raises(ValueError, match="languages"):
        lexicon.score(texts, ["en"])


def test_neutral_threshold() -> None:
    assert label_for(0.04, 0.05) is Sentiment.NEUTRAL
    assert label_for(0.06, 0.05) is Sentiment.POSITIVE
    assert label_for(-0.06, 0.05) is Sentiment.NEGATIVE
    wide = LexiconScorer(neutral=0.9)
    assert wide.score(["good"], ["en"])[0].label is Sentiment.NEUTRAL


@pytest.mark.parametrize(
    ("word", "sign"),
    [
        ("unschön", -1),  # un- negates a positive stem
        ("Unglück", -1),
        ("Freundlichkeit", 1),  # -keit/-heit nouns of listed adjectives
        ("Unzuverlässigkeit", -1),
        ("Verkehrschaos", -1),  # a compound ending in a listed head noun
        ("Systemfehlern", -1),
        ("Scheißwetter", -1),  # listed prefixes
        ("Lieblingsband", 1),
        ("Abenteuer", 0),  # an arbitrary tail is no word: not "teuer"
        ("Schulklasse", 0),  # positive tails are not heads: not "klasse"
        ("Geschlecht", 0),  # ge- is not stripped: not "schlecht"
        ("Supermarkt", 0),  # super- is no prefix
    ],
)
def test_german_word_formation(german: GermanLexicon, word: str, sign: int) -> None:
    score = german.score(word)
    assert (score > 0) - (score < 0) == sign, score


def test_compound_heads_must_be_listed_words() -> None:
    base: dict[str, Any] = {
        "words": {-2: ["chaos"]},
        "phrases": {},
        "negations": [],
        "intensifiers": {},
        "contrast": [],
        "emoji": {},
    }
    assert GermanLexicon({**base, "compound_heads": ["Chaos"]}).score("Verkehrschaos") < 0
    with pytest.raises(ValueError, match="compound head 'panne'"):
        GermanLexicon({**base, "compound_heads": ["panne"]})


def test_emoticons_stand_apart_from_words_and_links(german: GermanLexicon) -> None:
    assert german.emoji_score("siehe http://example.com/a:/b") == 0
    assert german.emoji_score("toll :/") < 0 < german.emoji_score("haha xD")
    assert german.emoji_score("<3") > 0 > german.emoji_score("</3")
    assert german.emoji_score("Box:Dateien") == 0  # ":D" inside a word is no face
    assert german.emoji_score("😂") > 0 > german.emoji_score("😱")


def test_repeated_scoring_gives_the_same_value(german: GermanLexicon) -> None:
    # the lookup cache must not change what a word is worth
    first = [german.score("Verkehrschaos und unschön"), german.score("gut")]
    assert [german.score("Verkehrschaos und unschön"), german.score("gut")] == first


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("I don\u2019t like it", "en", Sentiment.NEGATIVE),  # typographic apostrophe
        ("this is soooo goooood", "en", Sentiment.POSITIVE),  # elongation
        ("Delivery took 3 weeks #EpicFail", "en", Sentiment.NEGATIVE),  # CamelCase hashtag
        ("Danke &lt;3", "de", Sentiment.POSITIVE),  # an HTML entity from a feed
        ("#TotalesChaos bei der Bahn", "de", Sentiment.NEGATIVE),
    ],
)
def test_lexicon_scorer_cleans_text_first(
    lexicon: LexiconScorer, text: str, language: str, label: Sentiment
) -> None:
    [result] = lexicon.score([text], [language])
    assert result.label is label, result


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("don\u2019t \u201cquote\u201d", 'don\'t "quote"'),
        ("sooo goooood!!!", "soo good!!!"),
        ("#NeverAgain #lowercase", "#Never Again #lowercase"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("plain text", "plain text"),
    ],
)
def test_for_lexicon(text: str, cleaned: str) -> None:
    assert for_lexicon(text) == cleaned


def _one_regex(entries: list[str]) -> re.Pattern[str]:
    """The emoji lookup written plainly: one alternative per entry, longest first, an
    emoticon (ASCII) only where no letter, digit or slash touches it."""
    patterns = [
        rf"(?<![\w/]){re.escape(e)}(?![\w/])" if e.isascii() else re.escape(e)
        for e in sorted(entries, key=len, reverse=True)
    ]
    return re.compile("|".join(patterns))


@pytest.mark.parametrize(
    "entries",
    [
        None,  # the packaged lexicon: every entry all ASCII or all not
        [":-)", ":)", "xD", "<3", "</3", "❤️", "❤", "👍🏽", "👍", "ä", "😀"],
        [":\u2011)", ":)", "x", "xD", "❤️", "❤", "a❤", "👍"],  # entries of both kinds
    ],
)
def test_emoji_are_found_as_one_regex_would(
    german: GermanLexicon, entries: list[str] | None
) -> None:
    entries = entries if entries is not None else list(german.emoji)
    finder, plain = _EmojiFinder(entries), _one_regex(entries)
    rnd = random.Random(11)
    filler = ["a", " ", "/", "http://", "1", ":", "x", "D", "-", ")", "ä", "ß", "\ufe0f", "🏽"]
    for _ in range(20_000):
        text = "".join(rnd.choice(entries + filler) for _ in range(rnd.randrange(10)))
        assert finder.findall(text) == plain.findall(text), repr(text)
    assert _EmojiFinder([]).findall("ä :) 😀") == []
