"""The transformer path, really loaded from disk: a tiny random BERT built in the test."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from core.records import Sentiment
from enrich.sentiment import (
    LexiconScorer,
    TransformerScorer,
    label_map,
    load_scorer,
    model_text,
)
from enrich.settings import EnrichSettings

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "a", "is", "was", "not", "very", "service", "support", "acme", "app",
    "good", "great", "bad", "terrible", "slow", "fast", "love", "hate", "ok", "!", ".", ",",
    "##s", "##ing", "##ed",
]  # fmt: skip

TEXTS = [
    "the service is great !",
    "acme support was terrible .",
    "the app is slow",
    "",
    "unknown words only here " * 40,  # longer than max_length: truncated
]


def build_model(directory: Path, id2label: dict[int, str]) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(vocab))
    torch.manual_seed(7)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def named_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(
        tmp_path_factory.mktemp("named"), {0: "negative", 1: "neutral", 2: "positive"}
    )


@pytest.fixture(scope="module")
def generic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(
        tmp_path_factory.mktemp("generic"), {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    )


def test_a_model_on_disk_scores_batches(
    named_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = EnrichSettings(model=str(named_model), batch_size=2, max_length=16)
    with caplog.at_level(logging.WARNING, logger="enrich.sentiment"):
        scorer = load_scorer(settings)
    assert isinstance(scorer, TransformerScorer) and scorer.name == str(named_model)
    assert not [r for r in caplog.records if r.name == "enrich.sentiment"]
    results = scorer.score(TEXTS)
    assert len(results) == len(TEXTS)
    assert all(r.label in set(Sentiment) and -1 <= r.score <= 1 for r in results)
    assert scorer.score(TEXTS) == results, "deterministic"
    # batching (padding) does not change a text's result
    alone = [scorer.score([t])[0] for t in TEXTS]
    assert [r.label for r in alone] == [r.label for r in results]
    assert [r.score for r in alone] == pytest.approx([r.score for r in results], abs=1e-5)
    # the model reads the text: different texts, different scores
    assert len({round(r.score, 6) for r in results}) > 1
    assert scorer.score([]) == []


def test_generic_labels_map_by_convention_and_can_be_overridden(generic_model: Path) -> None:
    default = load_scorer(EnrichSettings(model=str(generic_model)))
    flipped = load_scorer(
        EnrichSettings(
            model=str(generic_model),
            labels={"LABEL_0": Sentiment.POSITIVE, "LABEL_2": Sentiment.NEGATIVE},
        )
    )
    assert isinstance(default, TransformerScorer) and isinstance(flipped, TransformerScorer)
    a, b = default.score(TEXTS[:3]), flipped.score(TEXTS[:3])
    assert [x.score for x in a] == pytest.approx([-y.score for y in b])


def test_a_missing_model_falls_back_to_the_lexicon_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-model"
    with caplog.at_level(logging.INFO, logger="enrich.sentiment"):
        scorer = load_scorer(EnrichSettings(model=str(missing)))
    assert isinstance(scorer, LexiconScorer)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(missing) in warnings[0].getMessage() and "lexicon" in warnings[0].getMessage()


def test_unknown_labels_fall_back_naming_the_label(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = build_model(tmp_path / "odd", {0: "anger", 1: "joy"})
    with caplog.at_level(logging.WARNING, logger="enrich.sentiment"):
        scorer = load_scorer(EnrichSettings(model=str(model)))
    assert isinstance(scorer, LexiconScorer)
    [warning] = caplog.records
    assert "'anger'" in warning.getMessage() and "enrich.labels" in warning.getMessage()


def test_no_model_means_the_lexicon_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="enrich.sentiment"):
        assert isinstance(load_scorer(EnrichSettings()), LexiconScorer)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({0: "NEGATIVE", 1: "POSITIVE"}, ["negative", "positive"]),
        ({0: "neg", 1: "neu", 2: "pos"}, ["negative", "neutral", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1"}, ["negative", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, ["negative", "neutral", "positive"]),
        (
            {0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"},
            ["negative", "negative", "neutral", "positive", "positive"],
        ),
    ],
)
def test_label_conventions(id2label: dict[int, str], expected: list[str]) -> None:
    mapping = label_map(id2label)
    assert [mapping[id2label[i]].value for i in sorted(id2label)] == expected


def test_label_map_refuses_what_it_cannot_place() -> None:
    with pytest.raises(ValueError, match="'LABEL_0'"):  # four generic labels: no convention
        label_map({i: f"LABEL_{i}" for i in range(4)})
    with pytest.raises(ValueError, match="no negative or no positive"):
        label_map({0: "neutral", 1: "positive"})
    assert label_map({0: "bof", 1: "yes"}, {"bof": Sentiment.NEGATIVE, "YES": Sentiment.POSITIVE})


def test_the_base_install_needs_no_torch() -> None:
    """With torch and transformers unimportable (the base install), everything works and a
    configured model falls back with the reason."""
    code = (
        "import sys\n"
        "sys.modules['torch'] = sys.modules['transformers'] = None  # import raises\n"
        "import enrich.stage, enrich.sentiment as s, enrich.settings as c\n"
        "assert isinstance(s.load_scorer(c.EnrichSettings()), s.LexiconScorer)\n"
        "assert isinstance(s.load_scorer(c.EnrichSettings(model='m')), s.LexiconScorer)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "transformers is not installed" in done.stderr


def test_results_keep_the_callers_order_whatever_the_length_sorting(named_model: Path) -> None:
    scorer = TransformerScorer(str(named_model), batch_size=2, max_length=16)
    forward = scorer.score(TEXTS)
    backward = scorer.score(TEXTS[::-1])
    assert [r.label for r in backward] == [r.label for r in forward][::-1]
    assert [r.score for r in backward] == pytest.approx([r.score for r in forward][::-1], abs=1e-5)


def test_int8_quantisation_and_threads(named_model: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        plain = TransformerScorer(str(named_model), max_length=16)
        quantized = TransformerScorer(str(named_model), max_length=16, quantize=True, threads=1)
        assert torch.get_num_threads() == 1
        assert any(
            isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantized._model.modules()
        )
        a, b = plain.score(TEXTS), quantized.score(TEXTS)
        assert len(b) == len(TEXTS) and all(-1 <= r.score <= 1 for r in b)
        # int8 weights move the figures a little, not wholesale
        assert [r.score for r in b] == pytest.approx([r.score for r in a], abs=0.05)
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="CPU only"):
        TransformerScorer(str(named_model), device="cuda", quantize=True)


def test_load_scorer_passes_the_proposed_speed_settings(named_model: Path) -> None:
    import torch

    class Faster(EnrichSettings):  # what EnrichSettings holds once `quantize` lands there
        quantize: bool = True

    scorer = load_scorer(Faster(model=str(named_model)))
    assert isinstance(scorer, TransformerScorer)
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    assert any(isinstance(m, dynamic) for m in scorer._model.modules())
    plain = load_scorer(EnrichSettings(model=str(named_model)))
    assert isinstance(plain, TransformerScorer)
    assert not any(isinstance(m, dynamic) for m in plain._model.modules())


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ("@acme_support why?", "@user why?"),
        ("see https://t.co/abc123 now", "see http now"),
        ("www.example.com/x is down", "http is down"),
        ("mail me: a@b.de", "mail me: a@b.de"),  # an address is no handle
    ],
)
def test_model_text_uses_the_twitter_placeholders(text: str, seen: str) -> None:
    assert model_text(text) == seen
