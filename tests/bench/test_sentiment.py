"""The sentiment bench: its metrics on hand-worked cases, its readers on awkward files, a
whole run on a tiny data folder, and the shared reference copy as the bench reads it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.records import Sentiment

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.sentiment import (  # noqa: E402
    DEFAULT_DATA,
    DataError,
    Dataset,
    Scores,
    clean,
    evaluate,
    load_datasets,
    main,
    read_lines,
    read_tsv,
    read_tweeteval,
)
from enrich.sentiment import SentimentResult  # noqa: E402

NEG, NEU, POS = Sentiment.NEGATIVE, Sentiment.NEUTRAL, Sentiment.POSITIVE


def test_macro_recall_and_accuracy_on_a_hand_worked_confusion() -> None:
    # gold:      neg neg  neu neu neu  pos
    # predicted: neg neu  neu neu pos  pos
    # recall: neg 1/2, neu 2/3, pos 1/1 -> macro 13/18; accuracy 4/6
    scores = Scores.of([NEG, NEG, NEU, NEU, NEU, POS], [NEG, NEU, NEU, NEU, POS, POS])
    assert scores.recall(NEG) == pytest.approx(0.5)
    assert scores.recall(NEU) == pytest.approx(2 / 3)
    assert scores.recall(POS) == pytest.approx(1.0)
    assert scores.macro_recall == pytest.approx(13 / 18)
    assert scores.accuracy == pytest.approx(4 / 6)
    assert scores.counts[NEU][POS] == 1 and scores.total == 6


def test_macro_recall_rewards_the_rare_class_where_accuracy_does_not() -> None:
    gold = [NEU] * 8 + [NEG, POS]
    always_neutral = Scores.of(gold, [NEU] * 10)
    assert always_neutral.accuracy == pytest.approx(0.8)
    assert always_neutral.macro_recall == pytest.approx(1 / 3)


def test_a_class_missing_from_the_gold_labels_is_left_out_of_the_mean() -> None:
    scores = Scores.of([NEG, POS], [NEG, NEU])
    assert scores.recall(NEU) is None
    assert scores.macro_recall == pytest.approx(0.5)
    assert Scores().macro_recall == 0.0 and Scores().accuracy == 0.0
    with pytest.raises(ValueError):
        Scores.of([NEG, POS], [NEG])


def test_tsv_reader_keeps_tabs_in_text_skips_mixed_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_bytes(
        "\ufeffPositive\tsch\u00f6n\tmit Tab\r\n"
        "mixed\tgut und schlecht\r\n"
        "\r\n"
        "negative\tAbzocke &amp; L\u00fcgen\r\n"
        "neutral\tmitten\u2028im Text\n".encode()
    )
    data = read_tsv(path, "k", "K", "de")
    assert data.texts == ["sch\u00f6n\tmit Tab", "Abzocke & L\u00fcgen", "mitten\u2028im Text"]
    assert data.labels == [POS, NEG, NEU]
    assert data.skipped == 1 and data.language == "de"


def test_tsv_reader_falls_back_to_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "old.tsv"
    path.write_bytes("positive\tsch\u00f6n \u20ac\n".encode("cp1252"))
    assert read_tsv(path, "k", "K", "de").texts == ["sch\u00f6n \u20ac"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("positive\tok\nhappy\tnope\n", r"d\.tsv:2: unknown label 'happy'"),
        ("positive\tok\nno tab here\n", r"d\.tsv:2: no TAB"),
    ],
)
def test_tsv_reader_names_the_bad_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "d.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_tsv(path, "k", "K", "de")


def test_tweeteval_reader_pairs_lines_and_decodes_escapes(tmp_path: Path) -> None:
    texts, labels = tmp_path / "t.txt", tmp_path / "l.txt"
    texts.write_text("one\\u002c two \n@user don\\u2019t &lt;3\n", encoding="utf-8")
    labels.write_text("2\n0\n", encoding="utf-8")
    data = read_tweeteval(texts, labels)
    assert data.texts == ["one, two", "@user don\u2019t <3"]
    assert data.labels == [POS, NEG] and data.language == "en"
    labels.write_text("2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"2 texts but .*1 labels"):
        read_tweeteval(texts, labels)
    labels.write_text("2\n3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"l\.txt:2: label '3'"):
        read_tweeteval(texts, labels)


def test_read_lines_and_clean(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"a\rb\r\nc\n")
    assert read_lines(path) == ["a", "b", "c"]
    assert clean("  Tom &amp; Jerry\\u0021 ") == "Tom & Jerry!"


class _ByWord:
    """A fake scorer: 'good' positive, 'bad' negative, else neutral; records languages."""

    name = "fake"

    def __init__(self) -> None:
        self.languages: list[str | None] = []

    def score(
        self, texts: list[str], languages: list[str | None] | None = None
    ) -> list[SentimentResult]:
        self.languages += list(languages or [])
        return [
            SentimentResult(POS if "good" in t else NEG if "bad" in t else NEU, 0.0) for t in texts
        ]


def test_evaluate_scores_in_batches_with_the_dataset_language() -> None:
    data = Dataset(
        "k", "K", "de", ["good", "bad", "meh", "good bad", "x"], [POS, NEG, NEU, NEG, NEU]
    )
    fake, seen = _ByWord(), []
    run = evaluate(fake, data, batch=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert fake.languages == ["de"] * 5
    assert run.scores.accuracy == pytest.approx(4 / 5)
    assert run.texts_per_second > 0
    assert data.limited(2).texts == ["good", "bad"] and data.limited(None) is data


def _tiny_data(directory: Path) -> Path:
    directory.mkdir()
    (directory / "tweeteval_en_val_text.txt").write_text(
        "I love it, great!\nThis is awful and broken\nThe shop opens at nine\n", encoding="utf-8"
    )
    (directory / "tweeteval_en_val_labels.txt").write_text("2\n0\n1\n", encoding="utf-8")
    (directory / "sb10k_de_dev.tsv").write_text(
        "positive\tDas ist super\nnegative\tTotale Abzocke\n", encoding="utf-8"
    )
    (directory / "potts_de_dev.tsv").write_text(
        "neutral\tHeute ist Montag\nmixed\tgut aber teuer\n", encoding="utf-8"
    )
    return directory


def test_a_whole_run_on_a_tiny_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(_tiny_data(tmp_path / "data"))]) == 0
    out = capsys.readouterr().out
    assert "TweetEval EN validation: 3 texts (1 neg / 1 neu / 1 pos)" in out
    assert "PotTS DE dev: 1 texts (0 neg / 1 neu / 0 pos; 1 'mixed' left out)" in out
    lexicon_rows = [line.split() for line in out.splitlines() if line.strip().startswith("lexicon")]
    assert len(lexicon_rows) == 3
    assert lexicon_rows[0][1:3] == ["1.000", "1.000"]  # the lexicon gets these three right
    assert "machine: " in out and "cores" in out


def test_a_missing_folder_or_model_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(tmp_path / "nothing")]) == 2
    assert "cannot read the data" in capsys.readouterr().err
    data = _tiny_data(tmp_path / "data")
    assert main(["--data", str(data), "--model", str(tmp_path / "no-model")]) == 0
    out = capsys.readouterr().out
    assert (
        "unavailable" in out
        and sum(line.strip().startswith("lexicon") for line in out.splitlines()) == 3
    )


def test_the_shared_reference_copy_reads_as_documented() -> None:
    tweeteval, sb10k, potts = load_datasets(DEFAULT_DATA)
    assert (len(tweeteval.texts), len(sb10k.texts), len(potts.texts)) == (2000, 747, 760)
    assert potts.skipped == 32 and sb10k.skipped == 0
    assert [tweeteval.labels.count(c) for c in (NEG, NEU, POS)] == [312, 869, 819]
    assert not any("\\u2019" in t or "&lt;" in t for t in tweeteval.texts + potts.texts)


def test_model_settings_come_from_the_file_and_the_flags_override(tmp_path: Path) -> None:
    import argparse

    from bench.sentiment import model_settings

    settings = tmp_path / "s.yaml"
    settings.write_text("enrich: {model: /m, threads: 1, quantize: true, batch_size: 8}\n")
    flags = {"model": None, "batch_size": None, "max_length": None, "threads": None}
    args = argparse.Namespace(settings=settings, quantize=False, **flags)
    got = model_settings(args)
    assert (got.model, got.threads, got.quantize, got.batch_size) == ("/m", 1, True, 8)
    assert got.max_length == 128  # tweets
    args = argparse.Namespace(settings=None, quantize=True, **{**flags, "threads": 2})
    got = model_settings(args)
    assert (got.model, got.threads, got.quantize) == (None, 2, True)
