from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.watchlist import Watchlist
from enrich.matcher import BrandMatcher, _calm, fold


@pytest.mark.parametrize(
    ("text", "brand", "terms"),
    [
        ("acme raised prices again", "acme", ("Acme",)),
        ("ACME is down", "acme", ("Acme",)),
        ("Die Acme-Kunden sind sauer", "acme", ("Acme",)),
        ("Acme-Aktie stürzt ab", "acme", ("Acme",)),
        ("Time to #BoycottAcme!", "acme", ("#boycottacme",)),
        ("@ACME_Support why is my order late?", "acme", ("@acme_support",)),
        ("acme corp announced layoffs", "acme", ("Acme Corp",)),
        ("ACME Inc. filed a report", "acme", ("ACME Inc",)),
        ("Acme's new app", "acme", ("Acme",)),
        ("„Acme“ (again)", "acme", ("Acme",)),
        ("Globex and Acme merge", "globex", ("Globex",)),
    ],
)
def test_terms_match_case_insensitively_as_whole_tokens(
    matcher: BrandMatcher, text: str, brand: str, terms: tuple[str, ...]
) -> None:
    assert matcher.match(text).brands[brand] == terms


@pytest.mark.parametrize(
    "text",
    ["Müller Milch schmeckt", "Mueller Milch schmeckt", "Muller milch schmeckt", "MÜLLER MILCH"],
)
def test_umlauts_are_folded_every_way(matcher: BrandMatcher, text: str) -> None:
    assert matcher.match(text).brands == {"mueller": ("Müller Milch",)}


@pytest.mark.parametrize("text", ["Großmann", "Grossmann", "GROSSMANN", "grossmann-Filiale"])
def test_sharp_s_is_ss(matcher: BrandMatcher, text: str) -> None:
    assert matcher.match(text).brands == {"gross": ("Großmann",)}


def test_accents_are_folded(matcher: BrandMatcher) -> None:
    assert matcher.match("Lunch at cafe noir").brands == {"cafe": ("Café Noir",)}
    assert matcher.match("CAFÉ NOÏR").brands == {"cafe": ("Café Noir",)}


def test_fold_keeps_every_e_so_words_do_not_collide() -> None:
    assert fold("Müller") == fold("Muller") == "muller"
    assert fold("blue") != fold("blu") and fold("due") != fold("du")
    # contracting ae/oe/ue in every text made these brands match other words
    assert fold("Citroën") != fold("citron") and fold("Moët") != fold("mot")


def test_brands_with_a_diaeresis_or_digraph_match_no_other_words() -> None:
    watchlist = Watchlist.model_validate(
        {
            "brands": [
                {"id": "citroen", "name": "Citroën"},
                {"id": "moet", "name": "Moët"},
                {"id": "loewe", "name": "Loewe"},
            ]
        }
    )
    m = BrandMatcher(watchlist)
    for text in ("Un jus de citron", "C'est le mot juste", "A drill from Lowe's"):
        assert not m.match(text), text
    assert m.match("Citroen C3 recall").brands == {"citroen": ("Citroën",)}
    assert m.match("Moët & Chandon").brands == {"moet": ("Moët",)}


@pytest.mark.parametrize(
    ("text", "brand", "term"),
    [
        ("Trader Joe\u2019s is great", "tj", "Trader Joe's"),  # the apostrophe phones type
        ("Tele\u00adkom-St\u00f6rung", "dt", "Telekom"),  # a soft hyphen from HTML
        ("Telekom\u200b ist down", "dt", "Telekom"),  # a zero-width space
        ("Der Deutsche-Bahn-Streik legt Pendler lahm", "db", "Deutsche Bahn"),
    ],
)
def test_typographic_spellings_match(text: str, brand: str, term: str) -> None:
    watchlist = Watchlist.model_validate(
        {
            "brands": [
                {"id": "tj", "name": "Trader Joe's"},
                {"id": "dt", "name": "Telekom"},
                {"id": "db", "name": "Deutsche Bahn"},
            ]
        }
    )
    assert BrandMatcher(watchlist).match(text).brands == {brand: (term,)}


def test_a_long_run_of_punctuation_is_cut_before_tokenizing(matcher: BrandMatcher) -> None:
    # the tokenizer took minutes on 16,000 "=" in one post (time quadratic in the run)
    assert _calm("Acme " + "=" * 20_000 + "!!!?" + "?" * 30) == (
        "Acme " + "=" * 16 + "!!!" + "?" * 16
    )
    assert _calm("Acme!!! ... ---") == "Acme!!! ... ---"
    assert matcher.match("Acme " + "=" * 2_000 + " x").brands == {"acme": ("Acme",)}


@pytest.mark.parametrize(
    "text",
    [
        "Welcome to Acmeville",
        "acmesupport is not a handle",
        "mail support@acme.com for help",
        "see acme.com/help",
        "#acmefail trending",
        "@acmeofficial said",
        "a Globexian idea",
    ],
)
def test_no_match_inside_other_words_emails_or_domains(matcher: BrandMatcher, text: str) -> None:
    assert not matcher.match(text)
    assert matcher.match(text).entities == ()


def test_hashtag_of_the_name_matches_and_keeps_the_longest_term(matcher: BrandMatcher) -> None:
    assert matcher.match("#acme rocks").brands == {"acme": ("#acme",)}
    assert matcher.match("#Acme, @acme and Acme Corp").brands == {
        "acme": ("#acme", "@acme", "Acme Corp")
    }


def test_exclusion_removes_only_the_matches_inside_it(matcher: BrandMatcher) -> None:
    assert not matcher.match("Visit the Acme Corp careers page")
    survived = matcher.match("Acme Corp careers page is up, and Acme support is awful")
    assert survived.brands == {"acme": ("Acme",)}


def test_exclusion_without_a_term_is_context_for_the_whole_text(matcher: BrandMatcher) -> None:
    assert not matcher.match("Wile E. Coyote ordered rockets from ACME")
    # the context exclusion vetoes only its brand
    assert matcher.match("Wile E. Coyote and Globex").brands == {"globex": ("Globex",)}


def test_several_brands_and_their_entities_in_order(matcher: BrandMatcher) -> None:
    result = matcher.match("Globex beats Acme; Müller watches")
    assert list(result.brands) == ["globex", "acme", "mueller"]
    assert result.entities == ("Globex", "Acme", "Müller Milch")
    assert result.brands["mueller"] == ("Müller",)


def test_match_many_keeps_order_and_survives_vocab_rebuilds(watchlist: Watchlist) -> None:
    small = BrandMatcher(watchlist, max_vocab=50)
    texts = [f"word{i} other{i} Acme" if i % 2 else f"token{i} Globex" for i in range(200)]
    for _ in range(3):  # rebuilt several times along the way
        results = small.match_many(texts, batch_size=16)
        assert [list(r.brands) for r in results] == [
            ["acme"] if i % 2 else ["globex"] for i in range(200)
        ]


def test_a_batch_of_thousands_matches_each_text(matcher: BrandMatcher) -> None:
    # its speed is measured in bench/pipeline.py, not here
    texts = [
        f"Post {i}: der Kundenservice von Acme ist eine Katastrophe, nie wieder! #fail @someone"
        for i in range(3000)
    ]
    results = matcher.match_many(texts)
    assert all(r.brands == {"acme": ("Acme",)} for r in results)


def test_matching_brands_never_loads_torch() -> None:
    """spaCy's thinc would import torch (installed with the transformers extra) for a
    tokenizer that never uses it: half a gigabyte per enrich process."""
    script = (
        "import sys\n"
        "from core.watchlist import Watchlist\n"
        "from enrich.matcher import BrandMatcher\n"
        "w = Watchlist.model_validate({'brands': [{'id': 'acme', 'name': 'Acme'}]})\n"
        "assert BrandMatcher(w).match('I love Acme').brands == {'acme': ('Acme',)}\n"
        "print('torch' in sys.modules)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
