"""Numenta Anomaly Benchmark (NAB) scoring, written from NAB's published method.

Contract: ``load_corpus(root)`` reads a NAB tree (``data/<category>/<file>.csv`` with
``timestamp,value``, ``labels/combined_windows.json``, ``config/profiles.json``);
``run_detector`` streams every file through a fresh detector, point by point; and
``score_corpus(corpus, results, profile)`` returns ``(raw, normalized, threshold)`` for one
threshold per profile, chosen over every file of ``corpus`` (pass ``corpus.select(...)``
to optimise on a category alone). Normalised: 0 = a detector that never fires, 100 = one
detection on the first row of every window and nothing else.

No NAB code is copied. Each decision below cites NAB at commit ea702d7 (numenta/NAB):

- Windows map to row indices: the first row inside ``[start, end]`` to the last row of
  the unbroken run of rows inside it. NAB demands exact timestamp matches
  (``nab/labeler.py`` getWindows) and takes the first row equal to each limit
  (``list.index`` in ``calcSweepScore``). NAB's timestamps are not strictly increasing
  (repeated 03:00 rows at a DST change in four files, one step back in
  machine_temperature), but no window touches those rows and all 98 windows of this copy
  match rows exactly, so both readings give the same spans here.
- Probation: the first ``min(floor(0.15 * n), 0.15 * 5000)`` rows are not scored, the same
  float expression as ``Sweeper._getProbationaryLength`` (``nab/sweeper.py``); row ``i``
  is scored iff ``i >= probation``.
- ``scaled_sigmoid(y) = -1 if y > 3 else 2 * sigmoid(-5 y) - 1`` (``scaledSigmoid``).
- Row ``i`` in window ``[L, R]`` of width ``W = R - L + 1``: ``y = -(R - i + 1) / W``,
  credit ``scaled_sigmoid(y) * tp / scaled_sigmoid(-1)``, so row ``L`` earns exactly ``tp``
  and credit falls towards the right edge. A window counts its best credit, which is its
  earliest detection (``calcScoreByThreshold`` keeps the max per window).
- Row ``i`` outside every window: ``-fp`` before the first window; after a window ending
  at ``R_prev`` with width ``W_prev``: ``fp * scaled_sigmoid((i - R_prev) / (W_prev - 1))``
  (``calcSweepScore``). NAB divides by zero when ``W_prev == 1``; we read that as an
  infinite distance (credit ``-fp``). No window here is narrower than 29 rows.
- Each window with at least one scored row starts at ``-fn``
  (``_prepareScoreByThresholdParts``); a window lying wholly in probation is not scored
  at all, and one straddling it keeps its full width for ``y``. NAB's normaliser
  (``nab/runner.py`` normalize) still counts such a window in ``perfect``; we leave it out
  of both ``null`` and ``perfect`` so the perfect detector always scores 100. No window of
  this copy touches probation, so the figures are NAB's.
- Threshold: a row is a detection iff ``score >= threshold``; every distinct score is a
  candidate plus "never fire" (``math.inf``, NAB's 1.1), and ties go to the highest
  threshold, as ``nab/optimizer.py`` (stable sort of the sweep, best first) does.
- ``normalized = 100 * (raw - null) / (perfect - null)``, ``null = -fn * windows``,
  ``perfect = tp * windows`` (``runner.normalize``).

Cross-checked once against NAB's own output (not a test: it needs the NAB repository):
fed NAB's published per-row scores of numenta, ARTime, knncad, contextOSE and
windowedGaussian, ``score_at_threshold`` matches NAB's per-file scores in
``results/<detector>/*_scores.csv`` to 5e-12 on all 53 files and three profiles;
``score_corpus`` finds the same best score and threshold as NAB's sweeper on this copy and
on realTweets; ``WindowedGaussian`` reproduces NAB's windowedGaussian scores to 1e-12.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

PROBATION_PERCENT = 0.15
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


@dataclass(frozen=True)
class Profile:
    """One NAB cost profile (``config/profiles.json``; tnWeight is unused by NAB)."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class DataFile:
    """One series: ``name`` is its path under ``data/``; windows are inclusive row spans."""

    name: str
    timestamps: tuple[datetime, ...]
    values: tuple[float, ...]
    windows: tuple[tuple[int, int], ...]

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]


@dataclass(frozen=True)
class Corpus:
    """The labelled files, keyed by ``DataFile.name``, in label-file order."""

    files: Mapping[str, DataFile]
    profiles: Mapping[str, Profile]

    def select(self, category: str) -> Corpus:
        """The files of one category (e.g. ``realTweets``); raises if there are none."""
        chosen = {k: f for k, f in self.files.items() if f.category == category}
        if not chosen:
            raise ValueError(f"no files in category {category!r}")
        return Corpus(chosen, self.profiles)

    @property
    def window_count(self) -> int:
        return sum(len(f.windows) for f in self.files.values())


class CorpusScore(NamedTuple):
    raw: float
    normalized: float  # NaN when the corpus has no scored window
    threshold: float  # math.inf: never firing scored best


class Detector(Protocol):
    """A streaming detector: sees each row once, in order, and answers in [0, 1]."""

    def update(self, value: float, timestamp: datetime) -> float: ...


DetectorFactory = Callable[[], Detector]


def probation_rows(n: int) -> int:
    """How many leading rows of an ``n``-row file are not scored."""
    return int(min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000))


def scaled_sigmoid(y: float) -> float:
    """NAB's reward curve: ~+0.987 at y = -1, 0 at y = 0, -1 beyond y = 3."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def window_rows(
    timestamps: Sequence[datetime], limits: Iterable[tuple[datetime, datetime]]
) -> tuple[tuple[int, int], ...]:
    """Map ``(start, end)`` limits onto inclusive row spans: from the first row inside the
    limits to the last row of the unbroken run of rows inside them. Spans must come in
    order, be disjoint and hold at least one row each."""
    spans: list[tuple[int, int]] = []
    for start, end in limits:
        rows = (i for i, t in enumerate(timestamps) if start <= t <= end)
        left = next(rows, None)
        if left is None:
            raise ValueError(f"window {start}..{end} holds no row")
        right = left
        while right + 1 < len(timestamps) and start <= timestamps[right + 1] <= end:
            right += 1
        if spans and left <= spans[-1][1]:
            raise ValueError(f"window {start}..{end} overlaps or precedes the one before")
        spans.append((left, right))
    return tuple(spans)


def _read_series(path: Path) -> tuple[tuple[datetime, ...], tuple[float, ...]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "timestamp,value":
        raise ValueError(f"{path}: expected a 'timestamp,value' header")
    stamps: list[datetime] = []
    values: list[float] = []
    for line in lines[1:]:
        if line.strip():
            stamp, value = line.split(",")
            stamps.append(datetime.fromisoformat(stamp))
            values.append(float(value))
    return tuple(stamps), tuple(values)


def load_profiles(path: Path) -> dict[str, Profile]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Profile(name, float(c["tpWeight"]), float(c["fpWeight"]), float(c["fnWeight"]))
        for name, body in raw.items()
        for c in [body["CostMatrix"]]
    }


def load_corpus(root: Path) -> Corpus:
    """Read a NAB tree; every data CSV must be labelled and every labelled file present."""
    labels: dict[str, list[list[str]]] = json.loads(
        (root / "labels" / "combined_windows.json").read_text(encoding="utf-8")
    )
    on_disk = {p.relative_to(root / "data").as_posix() for p in root.glob("data/*/*.csv")}
    if unlabelled := sorted(on_disk - labels.keys()):
        raise ValueError(f"data files without labels: {unlabelled}")
    files: dict[str, DataFile] = {}
    for name, limits in labels.items():
        stamps, values = _read_series(root / "data" / name)
        parsed = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in limits]
        files[name] = DataFile(name, stamps, values, window_rows(stamps, parsed))
    return Corpus(files, load_profiles(root / "config" / "profiles.json"))


def load_published(results: Path, detector: str, corpus: Corpus) -> dict[str, list[float]]:
    """NAB's published per-row scores of ``detector`` for the files of ``corpus`` only
    (``results/<detector>/<category>/<detector>_<file>.csv``, column ``anomaly_score``, as
    in NAB's ``results/`` folder). Raises ``ValueError`` naming the file when one is
    missing or its rows are not the file's rows, so a partial result never scores."""
    out: dict[str, list[float]] = {}
    for name, f in corpus.files.items():
        category, base = name.split("/", 1)
        path = results / detector / category / f"{detector}_{base}"
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from exc
        try:
            stamps = tuple(datetime.fromisoformat(r["timestamp"]) for r in rows)
            scores = [float(r["anomaly_score"]) for r in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a NAB results file ({exc})") from exc
        if stamps != f.timestamps:
            raise ValueError(f"{path}: its rows are not the rows of data/{name}")
        _check(f, scores)
        out[name] = scores
    return out


def _row_credits(f: DataFile, profile: Profile) -> tuple[list[float], list[int]]:
    """Per scored row (from probation on): its credit if detected, and its window number
    within the file (-1 outside windows)."""
    n = len(f.timestamps)
    credit: list[float] = []
    window: list[int] = []
    max_tp = scaled_sigmoid(-1.0)
    prev: tuple[int, int] | None = None  # (right edge, width) of the last window passed
    k = 0
    for i in range(n):
        while k < len(f.windows) and f.windows[k][1] < i:
            left, right = f.windows[k]
            prev, k = (right, right - left + 1), k + 1
        inside = k < len(f.windows) and f.windows[k][0] <= i
        if inside:
            left, right = f.windows[k]
            y = -(right - i + 1) / (right - left + 1)
            c, w = scaled_sigmoid(y) * profile.tp / max_tp, k
        elif prev is None or prev[1] == 1:
            c, w = -profile.fp, -1
        else:
            c, w = profile.fp * scaled_sigmoid((i - prev[0]) / (prev[1] - 1)), -1
        credit.append(c)
        window.append(w)
    start = probation_rows(n)
    return credit[start:], window[start:]


def _scored_windows(f: DataFile) -> int:
    start = probation_rows(len(f.timestamps))
    return sum(1 for _, right in f.windows if right >= start)


def null_and_perfect(corpus: Corpus, profile: Profile) -> tuple[float, float]:
    windows = sum(_scored_windows(f) for f in corpus.files.values())
    return -profile.fn * windows, profile.tp * windows


def _check(f: DataFile, scores: Sequence[float]) -> None:
    if len(scores) != len(f.timestamps):
        raise ValueError(f"{f.name}: {len(scores)} scores for {len(f.timestamps)} rows")
    if not all(0.0 <= s <= 1.0 for s in scores):
        raise ValueError(f"{f.name}: anomaly scores must lie in [0, 1]")


def _points(
    corpus: Corpus, results: Mapping[str, Sequence[float]], profile: Profile
) -> tuple[list[float], list[float], list[int]]:
    """Scored rows of the whole corpus: score, credit, corpus-wide window id (-1: none)."""
    scores: list[float] = []
    credits: list[float] = []
    windows: list[int] = []
    base = 0
    for name, f in corpus.files.items():
        file_scores = results[name]
        _check(f, file_scores)
        credit, window = _row_credits(f, profile)
        scores.extend(file_scores[len(file_scores) - len(credit) :])
        credits.extend(credit)
        windows.extend(w + base if w >= 0 else -1 for w in window)
        base += len(f.windows)
    return scores, credits, windows


def _normalize(raw: float, corpus: Corpus, profile: Profile) -> float:
    null, perfect = null_and_perfect(corpus, profile)
    if perfect == null:
        return math.nan  # no scored window: nothing to normalise against
    return 100.0 * (raw - null) / (perfect - null)


def score_at_threshold(
    corpus: Corpus, results: Mapping[str, Sequence[float]], profile: Profile, threshold: float
) -> CorpusScore:
    """Score with a given threshold (a row is a detection iff its score >= threshold)."""
    scores, credits, windows = _points(corpus, results, profile)
    best: dict[int, float] = {}
    fp_total = 0.0
    for s, c, w in zip(scores, credits, windows, strict=True):
        if s < threshold:
            continue
        if w < 0:
            fp_total += c
        else:
            best[w] = max(best.get(w, -profile.fn), c)
    null, _ = null_and_perfect(corpus, profile)
    raw = null + fp_total + sum(v + profile.fn for v in best.values())
    return CorpusScore(raw, _normalize(raw, corpus, profile), threshold)


def score_corpus(
    corpus: Corpus, results: Mapping[str, Sequence[float]], profile: Profile
) -> CorpusScore:
    """The best score over all thresholds (one for the whole of ``corpus``).

    One pass over the rows sorted by falling score: lowering the threshold past a score
    switches those rows on, which adds FP credits and raises a window's best credit.
    """
    scores, credits, windows = _points(corpus, results, profile)
    order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    total, _ = null_and_perfect(corpus, profile)
    best_raw, best_threshold = total, math.inf
    best: dict[int, float] = {}
    pos = 0
    while pos < len(order):
        threshold = scores[order[pos]]
        while pos < len(order) and scores[order[pos]] == threshold:
            j = order[pos]
            w, c = windows[j], credits[j]
            if w < 0:
                total += c
            else:
                old = best.get(w, -profile.fn)
                if c > old:
                    total += c - old
                    best[w] = c
            pos += 1
        # Strictly better only: on a tie the higher threshold stays, as in NAB.
        if total > best_raw:
            best_raw, best_threshold = total, threshold
    return CorpusScore(best_raw, _normalize(best_raw, corpus, profile), best_threshold)


class Difference(NamedTuple):
    """Detector ``a``'s normalised score minus ``b``'s, with a percentile interval."""

    estimate: float
    low: float
    high: float


def file_gains(
    corpus: Corpus, results: Mapping[str, Sequence[float]], profile: Profile, threshold: float
) -> list[tuple[float, float]]:
    """Per file, at one threshold: what the detector gains over never firing (``raw -
    null``) and what a perfect detector gains (``perfect - null``). Over any set of files
    the normalised score is ``100 * sum(gains) / sum(perfect gains)``."""
    out = []
    for name, f in corpus.files.items():
        one = Corpus({name: f}, corpus.profiles)
        null, perfect = null_and_perfect(one, profile)
        raw = score_at_threshold(one, results, profile, threshold).raw
        out.append((raw - null, perfect - null))
    return out


def paired_bootstrap(
    a: Sequence[tuple[float, float]],
    b: Sequence[tuple[float, float]],
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Difference:
    """How much a difference between two detectors owes to which files were labelled.

    ``a`` and ``b`` are `file_gains` of two detectors on the same files. The files are
    drawn with replacement ``resamples`` times (the same draw for both; a draw without a
    scored window is drawn again) and the interval is the central ``level`` of the
    differences of the normalised scores. Thresholds stay where they were optimised on
    all the files, so the interval leaves out how a threshold would move with the files.
    """
    if len(a) != len(b) or any(x[1] != y[1] for x, y in zip(a, b, strict=False)):
        raise ValueError("the two detectors must be scored on the same files")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError("resamples must be positive and level in (0, 1)")
    room = sum(r for _, r in a)
    if room <= 0:
        raise ValueError("no scored window in these files")
    estimate = 100.0 * (sum(g for g, _ in a) - sum(g for g, _ in b)) / room
    rng = random.Random(seed)
    n = len(a)
    differences: list[float] = []
    while len(differences) < resamples:
        draw = [rng.randrange(n) for _ in range(n)]
        total = sum(a[i][1] for i in draw)
        if total > 0:
            gained = sum(a[i][0] - b[i][0] for i in draw)
            differences.append(100.0 * gained / total)
    differences.sort()
    tail = (1.0 - level) / 2.0
    low = differences[int(tail * resamples)]
    high = differences[min(resamples - 1, math.ceil((1.0 - tail) * resamples) - 1)]
    return Difference(estimate, low, high)


def run_detector(corpus: Corpus, factory: DetectorFactory) -> dict[str, list[float]]:
    """Stream each file through a fresh detector, one row at a time, in time order."""
    results: dict[str, list[float]] = {}
    for name, f in corpus.files.items():
        detector = factory()
        out = [detector.update(v, t) for t, v in zip(f.timestamps, f.values, strict=True)]
        _check(f, out)
        results[name] = out
    return results


def null_results(corpus: Corpus) -> dict[str, list[float]]:
    """The detector that never fires: 0 everywhere."""
    return {name: [0.0] * len(f.timestamps) for name, f in corpus.files.items()}


def perfect_results(corpus: Corpus) -> dict[str, list[float]]:
    """1 on the first row of each window, 0 elsewhere."""
    out = null_results(corpus)
    for name, f in corpus.files.items():
        for left, _ in f.windows:
            out[name][left] = 1.0
    return out


class WindowedGaussian:
    """NAB's windowed-Gaussian baseline, reimplemented
    (``nab/detectors/gaussian/windowedGaussian_detector.py``).

    Score of a value: ``1 - Q(|x - mean| / std)`` (Q the Gaussian tail), using the mean
    and population std of the values seen *before* it, so it lies in [0.5, 1]; the first
    value scores 0. The window grows to ``window`` values (refitted on every value), then
    slides in steps of ``step`` values (refitted only when a step completes). A zero std
    reads as 1e-6, as in NAB. Defaults are NAB's tuned 6400 / 100.
    """

    def __init__(self, window: int = 6400, step: int = 100) -> None:
        if window < 1 or not 1 <= step <= window:
            raise ValueError("need window >= 1 and 1 <= step <= window")
        self._window: deque[float] = deque(maxlen=window)
        self._pending: list[float] = []
        self._step = step
        self._mean = 0.0
        self._m2 = 0.0  # Welford's sum of squared deviations while the window grows
        self._std = 1.0

    def update(self, value: float, timestamp: datetime | None = None) -> float:
        score = 0.0
        if self._window:
            z = abs(value - self._mean) / self._std
            score = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
        if len(self._window) < (self._window.maxlen or 0):
            # Welford: stable for byte counts near 1e8, unlike a running sum of squares.
            self._window.append(value)
            delta = value - self._mean
            self._mean += delta / len(self._window)
            self._m2 += delta * (value - self._mean)
            self._set_std(self._m2 / len(self._window))
        else:
            self._pending.append(value)
            if len(self._pending) == self._step:
                self._window.extend(self._pending)  # the deque drops the oldest values
                self._pending.clear()
                self._mean = math.fsum(self._window) / len(self._window)
                self._set_std(
                    math.fsum((x - self._mean) ** 2 for x in self._window) / len(self._window)
                )
        return score

    def _set_std(self, variance: float) -> None:
        std = math.sqrt(max(variance, 0.0))
        self._std = std if std > 0.0 else 1e-6
