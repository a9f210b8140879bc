"""Spike detection quality on the Numenta Anomaly Benchmark, on this machine.

    python bench/spikes.py [--data DIR] [--stormwatch KEY=VALUE ...] [--published-results DIR]
                           [--resamples N]

Runs each detector point by point (streaming, a fresh detector per file, no look-ahead)
over every file of the NAB copy in DIR (default: ../shared/data/nab from the repo root)
and prints, per profile, the normalised NAB score over the whole copy and over realTweets
alone (the threshold is optimised separately on each), the wall time per detector, the
held-out check (the same scores on two halves of the files, split by the parity of
sha256(file name): the detector's hyper-parameters were chosen by cross-validation over
these halves, docs/spikes.md), how sure the stormwatch detector's lead over Windowed
Gaussian is (a 95 % interval from a paired bootstrap over files, ``--resamples`` draws),
and NAB's published scores, which are over NAB's full 58-file corpus and so compare only
roughly with this 53-file copy. With ``--stormwatch`` overrides it also prints how sure
their difference from the defaults is (the same bootstrap): whether a change is a gain or
the luck of a few files.

Detectors: NAB's Windowed Gaussian; the stormwatch detector (``NoveltyDetector`` from
``enrich.detectors``, one configuration for every file: the defaults of
``NoveltySettings``; ``--stormwatch history_charge=0 --stormwatch two_sided=false`` overrides
fields, JSON values); and, for reference, the two readings the enrich stage computes for
mention counts: the rises-only novelty variant and the EWMA z-score/Poisson detector
(``enrich.velocity.SpikeDetector``) behind ``Velocity``. With ``--published-results``
(the ``results/`` folder of a NAB checkout) it also scores every published detector's
per-row scores on this copy's files, with the same scorer. A benchmark, not a test.
Scoring: ``bench/nab.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the repo root importable so `bench.nab` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import machine
from bench.data import shared_data
from bench.nab import (
    PROFILES,
    Corpus,
    Detector,
    DetectorFactory,
    WindowedGaussian,
    file_gains,
    load_corpus,
    load_published,
    null_results,
    paired_bootstrap,
    run_detector,
    score_at_threshold,
    score_corpus,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = shared_data("nab")
SUBSET = "realTweets"

# Published NAB v1.1 scores (standard / low FP / low FN) over all 58 files.
PUBLISHED = [
    ("ARTime", 74.9, 65.1, 80.4),
    ("Numenta HTM", 70.0, 62.0, 75.0),
    ("CAD OSE", 69.9, 67.0, 73.2),
    ("earthgecko Skyline", 58.2, 46.2, 63.9),
    ("KNN CAD", 58.0, 43.4, 64.8),
    ("Relative Entropy", 54.6, 47.6, 58.8),
    ("Random Cut Forest", 51.7, 38.4, 59.7),
    ("Twitter ADVec", 47.1, 33.6, 53.5),
    ("Windowed Gaussian", 39.6, 20.9, 47.4),
    ("Etsy Skyline", 35.7, 27.1, 44.5),
]


class _SpikeAdapter:
    """Presents stormwatch's ``SpikeDetector.update(value) -> SpikeScore`` as a Detector."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def update(self, value: float, timestamp: datetime) -> float:
        return float(self._inner.update(value).score)


class _NoveltyAdapter:
    """Presents ``NoveltyDetector.update(value, when) -> NoveltyScore`` as a Detector."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def update(self, value: float, timestamp: datetime) -> float:
        return float(self._inner.update(value, timestamp).score)


Scored = dict[str, list[float]]
"""A detector's score per row, per file."""


def stormwatch_factory(**options: Any) -> DetectorFactory | str:
    """The stormwatch detector's factory, or why it cannot be had (imported lazily, so
    the bench runs without ``enrich``): ``enrich.velocity``'s calibrated
    ``NoveltyDetector(NoveltySettings(**options))`` per file, or, in a build without it,
    its ``SpikeDetector(**options)``."""
    try:
        module = importlib.import_module("enrich.velocity")
    except Exception as exc:  # any import failure only disables this detector
        return f"{type(exc).__name__}: {exc}"
    novelty = getattr(module, "NoveltyDetector", None)
    if novelty is not None:
        return novelty_factory(**options)
    cls = getattr(module, "SpikeDetector", None)
    if cls is None:
        return "enrich.velocity has no SpikeDetector"

    def factory() -> Detector:
        return _SpikeAdapter(cls(**options))

    return factory


def novelty_factory(**options: Any) -> DetectorFactory | str:
    """``enrich.detectors.NoveltyDetector(NoveltySettings(**options))`` per file, or why
    it cannot be had."""
    try:
        module = importlib.import_module("enrich.detectors.novelty")
        settings = module.NoveltySettings(**options)
    except Exception as exc:  # an import or settings failure only disables this detector
        return f"{type(exc).__name__}: {exc}"

    def factory() -> Detector:
        return _NoveltyAdapter(module.NoveltyDetector(settings))

    return factory


def ewma_factory(**options: Any) -> DetectorFactory | str:
    """``enrich.velocity.SpikeDetector(**options)`` per file (the pipeline's z-score and
    Poisson surprise), or why it cannot be had."""
    try:
        cls = importlib.import_module("enrich.velocity").SpikeDetector
    except Exception as exc:  # any import failure only disables this detector
        return f"{type(exc).__name__}: {exc}"

    def factory() -> Detector:
        return _SpikeAdapter(cls(**options))

    return factory


def half(name: str) -> str:
    """The held-out half of a file: "A" if sha256 of its name (e.g.
    ``realTweets/Twitter_volume_AAPL.csv``) is even, else "B"."""
    return "A" if int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 0 else "B"


def halves(corpus: Corpus) -> tuple[Corpus, Corpus]:
    parts = {h: {k: f for k, f in corpus.files.items() if half(k) == h} for h in "AB"}
    return Corpus(parts["A"], corpus.profiles), Corpus(parts["B"], corpus.profiles)


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--stormwatch wants KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _row(name: str, scopes: tuple[Corpus, Corpus], results: Scored, seconds: str) -> str:
    cells = []
    for scope in scopes:
        for profile in PROFILES:
            cells.append(f"{score_corpus(scope, results, scope.profiles[profile])[1]:6.1f}")
    return f"{name:<28}{' '.join(cells[:3])}   {' '.join(cells[3:])}   {seconds:>8}"


def _print_published(
    results: Path, corpus: Corpus, parts: tuple[Corpus, Corpus, Corpus], header: str
) -> list[tuple[str, Scored]]:
    """Score NAB's published per-row results on this copy, with this bench's scorer;
    returns the detectors it could score, with their rows."""
    tweets, part_a, part_b = parts
    if not results.is_dir():
        raise SystemExit(f"--published-results: {results} is not a folder")
    print(
        f"\nNAB's published per-row scores ({results}), scored here on this copy "
        "(threshold optimised per scope, as above)"
    )
    print(f"{'detector':<28}{'whole copy':^20}   {SUBSET + ' only':^20}")
    print(f"{'':<28}{header}")
    scored: list[tuple[str, Scored]] = []
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        try:
            results_of = load_published(results, folder.name, corpus)
        except ValueError as exc:
            print(f"{folder.name}: not scored ({exc})")
            continue
        print(_row(folder.name, (corpus, tweets), results_of, ""))
        scored.append((folder.name, results_of))
    if scored:
        print(f"{'':<28}{'half A':^20}   {'half B':^20}")
        print(f"{'':<28}{header}")
        for name, results_of in scored:
            print(_row(name, (part_a, part_b), results_of, ""))
    return scored


def _print_categories(corpus: Corpus, scored: list[tuple[str, Scored]]) -> None:
    """Standard-profile score per category, each detector at its whole-copy threshold:
    where a detector gains and loses. Categories without a window are left out."""
    profile = corpus.profiles[PROFILES[0]]
    every = {c: corpus.select(c) for c in sorted({f.category for f in corpus.files.values()})}
    named = [(c, part) for c, part in every.items() if part.window_count]
    parts = [part for _, part in named]
    print(
        f"\nper category (windows), {profile.name} profile, each detector at its whole-copy "
        "threshold"
    )
    labels = [f"{c.removeprefix('real')[:11]} ({part.window_count})" for c, part in named]
    print(f"{'detector':<28}" + "".join(f"{label:>17}" for label in labels))
    for name, results in scored:
        threshold = score_corpus(corpus, results, profile).threshold
        cells = [score_at_threshold(p, results, profile, threshold).normalized for p in parts]
        print(f"{name:<28}" + "".join(f"{cell:17.1f}" for cell in cells))


def _print_sureness(
    title: str, rows: list[tuple[str, Corpus, tuple[Scored, Scored]]], resamples: int
) -> None:
    """Per row (label, scope, pair): the pair's first detector minus its second in each
    profile, with the 95 % interval of a paired bootstrap over the scope's files
    (`bench.nab.paired_bootstrap`)."""
    print(
        f"\nhow sure: {title}, with a 95 % interval (files drawn with replacement "
        f"{resamples:,} times, the same draw for both; thresholds optimised per scope)"
    )
    names = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}
    print(f"{'':<36}" + "".join(f"{names.get(p, p):^24}" for p in PROFILES))
    for label, scope, pair in rows:
        if not scope.window_count:
            print(f"{label:<36}(no window to score)")
            continue
        cells = []
        for name in PROFILES:
            profile = scope.profiles[name]
            gains = [
                file_gains(scope, results, profile, score_corpus(scope, results, profile).threshold)
                for results in pair
            ]
            d = paired_bootstrap(*gains, resamples=resamples)
            cells.append(f"{d.estimate:+6.1f} [{d.low:+6.1f}, {d.high:+6.1f}]")
        print(f"{label:<36}" + "".join(f"{cell:^24}" for cell in cells))


def _print_published_leads(
    published: list[tuple[str, Scored]], baseline: Scored | None, corpus: Corpus, resamples: int
) -> None:
    """How sure each published detector's lead over this bench's Windowed Gaussian is, on
    the whole copy and on realTweets: the yardstick for what a "clear" lead can be."""
    if not resamples or baseline is None:
        return
    tweets = corpus.select(SUBSET)
    _print_sureness(
        "each published detector minus this bench's Windowed Gaussian",
        [
            (f"{name}, {label}", scope, (results, baseline))
            for name, results in published
            for label, scope in (("whole copy", corpus), (SUBSET, tweets))
        ],
        resamples,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB tree")
    parser.add_argument(
        "--stormwatch",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="NoveltySettings field of the stormwatch detector (value read as JSON)",
    )
    parser.add_argument(
        "--published-results",
        type=Path,
        metavar="DIR",
        help="the results/ folder of a NAB checkout: also score each published detector's "
        "per-row scores on this copy's files (the held-back files are not read)",
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=2000,
        metavar="N",
        help="bootstrap draws for the 'how sure' intervals: the stormwatch detector's lead "
        "over Windowed Gaussian, overrides against the defaults, and each published "
        "detector's lead over Windowed Gaussian (default 2000; 0: none)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.resamples < 0:
        parser.error("--resamples must not be negative")
    options = dict(_option(text) for text in args.stormwatch)
    corpus = load_corpus(args.data)
    tweets = corpus.select(SUBSET)
    part_a, part_b = halves(corpus)
    print(
        f"NAB copy {args.data}: {len(corpus.files)} files, {corpus.window_count} windows; "
        f"{SUBSET}: {len(tweets.files)} files, {tweets.window_count} windows"
    )
    print("normalised score: 0 = never fires, 100 = first row of every window, no FP;")
    print(f"threshold optimised per profile on the whole copy, and again on {SUBSET} alone\n")
    header = f"{'  std  lowFP  lowFN':<20}   {'  std  lowFP  lowFN':<20}"
    print(f"{'detector':<28}{'whole copy':^20}   {SUBSET + ' only':^20}   {'run s':>8}")
    print(f"{'':<28}{header}")
    print(_row("null", (corpus, tweets), null_results(corpus), "-"))

    detectors: list[tuple[str, DetectorFactory | str]] = [
        ("Windowed Gaussian", WindowedGaussian),
        ("stormwatch detector", stormwatch_factory(**options)),
        ("  ref: novelty rises-only", novelty_factory(**{**options, "two_sided": False})),
        ("  ref: EWMA z/Poisson", ewma_factory()),
    ]
    scored: list[tuple[str, Scored]] = []
    for name, factory in detectors:
        if isinstance(factory, str):
            print(f"{name}: unavailable ({factory})")
            continue
        start = time.perf_counter()
        try:
            results = run_detector(corpus, factory)
        except Exception as exc:  # a half-built detector must not hide the other rows
            print(f"{name}: unavailable ({type(exc).__name__}: {exc})")
            continue
        print(_row(name, (corpus, tweets), results, f"{time.perf_counter() - start:.1f}"))
        scored.append((name, results))

    print(
        f"\nheld-out check: half A = {len(part_a.files)} files, half B = {len(part_b.files)} "
        "(parity of sha256(file name)), threshold optimised on each half"
    )
    print(f"{'detector':<28}{'half A':^20}   {'half B':^20}")
    print(f"{'':<28}{header}")
    for name, results in scored:
        print(_row(name, (part_a, part_b), results, ""))

    rows = dict(scored)
    ours = rows.get("stormwatch detector")
    if args.resamples and ours is not None and "Windowed Gaussian" in rows:
        pair = (ours, rows["Windowed Gaussian"])
        _print_sureness(
            "stormwatch detector minus Windowed Gaussian",
            [("whole copy", corpus, pair), (f"{SUBSET} only", tweets, pair)],
            args.resamples,
        )
    defaults = novelty_factory()
    if args.resamples and ours is not None and options and not isinstance(defaults, str):
        pair = (ours, run_detector(corpus, defaults))
        _print_sureness(
            "stormwatch detector with " + " ".join(args.stormwatch) + " minus its defaults",
            [
                ("whole copy", corpus, pair),
                (f"{SUBSET} only", tweets, pair),
                ("half A", part_a, pair),
                ("half B", part_b, pair),
            ],
            args.resamples,
        )

    if args.published_results is not None:
        published = _print_published(
            args.published_results, corpus, (tweets, part_a, part_b), header
        )
        scored += published
        _print_published_leads(published, rows.get("Windowed Gaussian"), corpus, args.resamples)
    _print_categories(corpus, scored)

    print("\npublished (NAB's full 58-file corpus, not this copy):")
    for name, std, low_fp, low_fn in PUBLISHED:
        print(f"  {name:<20}{std:6.1f} {low_fp:6.1f} {low_fn:6.1f}")
    print(f"\nmachine: {machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
