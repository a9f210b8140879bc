"""Sentiment quality and speed on labelled tweets, on this machine.

    python bench/sentiment.py [--data DIR] [--model PATH_OR_NAME] [--limit N]
                              [--settings FILE] [--batch-size N] [--max-length N]
                              [--threads N] [--quantize]

Scores three reference sets from DIR (default: ../shared/data/sentiment from the repo root)
with every scorer that can be had: the lexicon fallback always, the transformer when
``--model`` (a local directory or a name in the local Hugging Face cache) or the
``enrich.model`` of ``--settings`` names one. Per data set and scorer it prints
macro-averaged recall (TweetEval's official metric), accuracy (= micro-F1, the figure the
German models publish), the recall of each class and texts/s; then the machine. Progress
goes to stderr. A benchmark, not a test: nothing here is fitted to the data.

Rules that hold for every scorer alike:

* each text is scored with its data set's language (``en`` or ``de``), as the enrich stage
  does once the language is detected;
* PotTS's ``mixed`` texts (both opinions at once) have no place among negative, neutral and
  positive: they are left out of every figure and their count is printed;
* HTML entities are unescaped (``&lt;3`` -> ``<3``) and TweetEval's literal ``\\u2019``
  and ``\\u002c`` escapes decoded: the tweets were stored as the Twitter API returned
  them, while mentions reach the enrich stage as plain text;
* texts go to a scorer 256 at a time, about one poll of the bus;
* ``--limit N`` keeps the first N texts of each set (for quick runs; figures then differ).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the repo root importable so `enrich` and `core` resolve.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import machine
from bench.data import shared_data
from core.records import Sentiment

DEFAULT_DATA = shared_data("sentiment")
CLASSES = (Sentiment.NEGATIVE, Sentiment.NEUTRAL, Sentiment.POSITIVE)
MIXED = "mixed"
POLL = 256  # texts per score() call, about what one poll of the bus hands the stage
TWEETEVAL_LABELS = {"0": Sentiment.NEGATIVE, "1": Sentiment.NEUTRAL, "2": Sentiment.POSITIVE}
PUBLISHED = {
    "tweeteval": "published (test split, macro recall): RoBERTa-base 0.713, "
    "twitter-RoBERTa 0.728, BERTweet 0.734, FastText 0.629, SVM 0.629",
    "sb10k": "published: german-sentiment-bert micro-F1 (= accuracy) 0.74",
    "potts": "published: german-sentiment-bert micro-F1 (= accuracy) 0.68",
}


class DataError(ValueError):
    """A data file that cannot be read as its format says; the message names file:line."""


@dataclass(frozen=True)
class Dataset:
    """Labelled texts of one language; ``skipped`` counts texts left out (``mixed``)."""

    key: str
    title: str
    language: str
    texts: list[str]
    labels: list[Sentiment]
    skipped: int = 0

    def limited(self, limit: int | None) -> Dataset:
        if limit is None:
            return self
        return Dataset(
            self.key,
            self.title,
            self.language,
            self.texts[:limit],
            self.labels[:limit],
            self.skipped,
        )


def read_lines(path: Path) -> list[str]:
    """The lines of a text file, decoded as UTF-8 (a BOM is dropped), falling back to
    cp1252 for files written by older Windows tools; any line ending; no final empty line.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so a stray one
        # cannot stop a benchmark run.
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    # str.splitlines() would also split at U+2028, form feeds and the like inside a tweet.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def clean(text: str) -> str:
    """The text as a mention would carry it: HTML entities and literal ``\\uXXXX``
    escapes (TweetEval keeps some, such as ``\\u002c`` for a comma) decoded, ends
    stripped."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return html.unescape(text).strip()


def read_tweeteval(text_file: Path, label_file: Path) -> Dataset:
    """TweetEval: one tweet per line, and its label (0 negative, 1 neutral, 2 positive) on
    the same line of ``label_file``."""
    texts, labels = read_lines(text_file), read_lines(label_file)
    if len(texts) != len(labels):
        raise DataError(f"{text_file}: {len(texts)} texts but {label_file}: {len(labels)} labels")
    out: list[Sentiment] = []
    for n, label in enumerate(labels, 1):
        found = TWEETEVAL_LABELS.get(label.strip())
        if found is None:
            raise DataError(f"{label_file}:{n}: label {label.strip()!r} is not 0, 1 or 2")
        out.append(found)
    return Dataset("tweeteval", "TweetEval EN validation", "en", [clean(t) for t in texts], out)


def read_tsv(path: Path, key: str, title: str, language: str) -> Dataset:
    """``label TAB text`` per line; the text may hold more TABs (only the first splits).
    Labels negative/neutral/positive (any case); ``mixed`` lines are counted and left out;
    blank lines are skipped; anything else is a DataError naming the line."""
    texts: list[str] = []
    labels: list[Sentiment] = []
    skipped = 0
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab:
            raise DataError(f"{path}:{n}: no TAB between label and text")
        label = label.strip().lower()
        if label == MIXED:
            skipped += 1
            continue
        try:
            labels.append(Sentiment(label))
        except ValueError:
            raise DataError(f"{path}:{n}: unknown label {label!r}") from None
        texts.append(clean(text))
    return Dataset(key, title, language, texts, labels, skipped)


def load_datasets(directory: Path) -> list[Dataset]:
    """The three reference sets of ``directory`` (the shared data layout)."""
    return [
        read_tweeteval(
            directory / "tweeteval_en_val_text.txt", directory / "tweeteval_en_val_labels.txt"
        ),
        read_tsv(directory / "sb10k_de_dev.tsv", "sb10k", "SB10k DE dev", "de"),
        read_tsv(directory / "potts_de_dev.tsv", "potts", "PotTS DE dev", "de"),
    ]


@dataclass
class Scores:
    """A confusion matrix over negative/neutral/positive: ``counts[gold][predicted]``."""

    counts: dict[Sentiment, dict[Sentiment, int]] = field(
        default_factory=lambda: {g: dict.fromkeys(CLASSES, 0) for g in CLASSES}
    )

    @classmethod
    def of(cls, gold: Iterable[Sentiment], predicted: Iterable[Sentiment]) -> Scores:
        scores = cls()
        for g, p in zip(gold, predicted, strict=True):
            scores.counts[g][p] += 1
        return scores

    @property
    def total(self) -> int:
        return sum(sum(row.values()) for row in self.counts.values())

    def recall(self, label: Sentiment) -> float | None:
        """Share of the gold ``label`` texts predicted as ``label``; None if there are none."""
        row = self.counts[label]
        support = sum(row.values())
        return row[label] / support if support else None

    @property
    def macro_recall(self) -> float:
        """Mean recall over the classes that occur in the gold labels (0 when none do)."""
        recalls = [r for r in (self.recall(c) for c in CLASSES) if r is not None]
        return sum(recalls) / len(recalls) if recalls else 0.0

    @property
    def accuracy(self) -> float:
        total = self.total
        return sum(self.counts[c][c] for c in CLASSES) / total if total else 0.0


@dataclass(frozen=True)
class Run:
    scores: Scores
    texts_per_second: float


Progress = Callable[[int, int], None]


def evaluate(
    scorer: Any, dataset: Dataset, batch: int = 64, progress: Progress | None = None
) -> Run:
    """Score ``dataset`` in batches of ``batch`` texts with ``scorer`` (a SentimentScorer)
    and compare with its labels; the speed counts scoring time only (not loading)."""
    predicted: list[Sentiment] = []
    elapsed = 0.0
    n = len(dataset.texts)
    for start in range(0, n, batch):
        chunk = dataset.texts[start : start + batch]
        began = time.perf_counter()
        results = scorer.score(chunk, [dataset.language] * len(chunk))
        elapsed += time.perf_counter() - began
        predicted.extend(r.label for r in results)
        if progress is not None:
            progress(len(predicted), n)
    return Run(Scores.of(dataset.labels, predicted), n / elapsed if elapsed else float("inf"))


def header() -> str:
    cells = "".join(f"{c:>7}" for c in ("macroR", "acc", "R-neg", "R-neu", "R-pos"))
    return f"  {'scorer':<34}{cells}{'texts/s':>10}"


def row(name: str, run: Run) -> str:
    s = run.scores
    recalls = "".join(
        f"{r:7.3f}" if r is not None else f"{'-':>7}" for r in (s.recall(c) for c in CLASSES)
    )
    return (
        f"  {name[:33]:<34}{s.macro_recall:7.3f}{s.accuracy:7.3f}{recalls}"
        f"{run.texts_per_second:10.1f}"
    )


def describe(dataset: Dataset) -> str:
    support = {c: dataset.labels.count(c) for c in CLASSES}
    extra = f"; {dataset.skipped} 'mixed' left out" if dataset.skipped else ""
    return (
        f"{dataset.title}: {len(dataset.texts)} texts ({support[Sentiment.NEGATIVE]} neg / "
        f"{support[Sentiment.NEUTRAL]} neu / {support[Sentiment.POSITIVE]} pos{extra})"
    )


def _progress(label: str) -> Progress:
    """Progress on stderr: redrawn in place on a terminal, else a line every ~5 s."""
    tty = sys.stderr.isatty()
    every = 0.2 if tty else 5.0
    last = time.monotonic()

    def show(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < every:
            return
        last = now
        text = f"  {label}: {done}/{total}"
        if tty:
            print(f"\r{text}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        elif done < total:
            print(text, file=sys.stderr, flush=True)

    return show


def model_settings(args: argparse.Namespace) -> Any:
    """The `EnrichSettings` the transformer is built from: those of ``--settings`` (the
    ``enrich:`` section) if given, else the defaults; ``--model``, ``--batch-size``,
    ``--max-length``, ``--threads`` and ``--quantize`` override them."""
    import yaml

    from enrich.settings import EnrichSettings

    section: dict[str, Any] = {}
    if args.settings is not None:
        data = yaml.safe_load(args.settings.read_text(encoding="utf-8")) or {}
        section = dict(data.get("enrich") or {})
    for key in ("model", "batch_size", "max_length", "threads"):
        if getattr(args, key) is not None:
            section[key] = getattr(args, key)
    if args.quantize:
        section["quantize"] = True
    section.setdefault("max_length", 128)  # tweets; the stage default (256) suits articles
    return EnrichSettings.model_validate(section)


def scorers(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(name, scorer) for the lexicon and, when one is named, the transformer; a model
    that cannot be loaded is reported and left out (the bench never falls back silently)."""
    from enrich.sentiment import LexiconScorer, TransformerScorer

    settings = model_settings(args)
    out: list[tuple[str, Any]] = [("lexicon", LexiconScorer(settings.lexicon_neutral))]
    if settings.model:
        began = time.perf_counter()
        try:
            scorer = TransformerScorer(
                settings.model,
                device=settings.device,
                batch_size=settings.batch_size,
                max_length=settings.max_length,
                labels=settings.labels,
                threads=settings.threads,
                quantize=settings.quantize,
            )
        except Exception as exc:  # any load failure only disables this scorer
            print(f"model {settings.model!r} unavailable: {type(exc).__name__}: {exc}")
        else:
            loaded = time.perf_counter() - began
            print(
                f"model {settings.model!r} loaded in {loaded:.1f}s "
                f"(batch {settings.batch_size}, max_length {settings.max_length}, "
                f"{settings.device})"
            )
            label = Path(settings.model).name + (" int8" if settings.quantize else "")
            out.append((label, scorer))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data folder")
    parser.add_argument("--model", help="local model directory or cached model name")
    parser.add_argument("--settings", type=Path, help="settings file: its enrich section")
    parser.add_argument("--limit", type=int, help="first N texts of each set only")
    parser.add_argument("--batch-size", type=int, help="model batch size (32)")
    parser.add_argument("--max-length", type=int, help="model tokens per text (128)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--quantize", action="store_true", help="dynamic int8 (Linear)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        datasets = [d.limited(args.limit) for d in load_datasets(args.data)]
    except (OSError, DataError) as exc:
        print(f"cannot read the data: {exc}", file=sys.stderr)
        return 2
    print(f"data: {args.data}")
    try:
        chosen = scorers(args)
    except (OSError, ValueError) as exc:  # an unreadable or invalid settings file
        print(f"cannot use the settings: {exc}", file=sys.stderr)
        return 2
    for dataset in datasets:
        print(f"\n{describe(dataset)}")
        print(header())
        for name, scorer in chosen:
            progress = _progress(f"{name} on {dataset.key}")
            run = evaluate(scorer, dataset, batch=POLL, progress=progress)
            print(row(name, run), flush=True)
        print(f"  {PUBLISHED[dataset.key]}")
    print(f"\nmachine: {machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
