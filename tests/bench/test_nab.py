"""NAB scoring: hand-worked cases, the threshold sweep, baselines on the real copy, and the
Windowed Gaussian detector.

Arithmetic used in the comments: scaled_sigmoid(y) = 2 / (1 + e^(5y)) - 1 = tanh(-2.5 y),
so a window's first row earns tp, and the TP scale is scaled_sigmoid(-1) = tanh(2.5).
"""

from __future__ import annotations

import json
import math
import random
import sys
import types
from datetime import datetime, timedelta
from pathlib import Path

import pytest

# `bench` is not an installed package; until pytest's `pythonpath = ["."]` is set, the repo
# root has to be put on the path by hand.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import spikes  # noqa: E402
from bench.data import shared_data  # noqa: E402
from bench.nab import (  # noqa: E402
    Corpus,
    DataFile,
    Profile,
    WindowedGaussian,
    file_gains,
    load_corpus,
    load_published,
    null_results,
    paired_bootstrap,
    perfect_results,
    probation_rows,
    run_detector,
    scaled_sigmoid,
    score_at_threshold,
    score_corpus,
    window_rows,
)

NAB_DATA = shared_data("nab")
STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)
T0 = datetime(2015, 3, 1)


def one_file(n: int, windows: list[tuple[int, int]]) -> Corpus:
    stamps = tuple(T0 + timedelta(minutes=5 * i) for i in range(n))
    f = DataFile("cat/f.csv", stamps, (0.0,) * n, tuple(windows))
    return Corpus({f.name: f}, {STANDARD.name: STANDARD, LOW_FN.name: LOW_FN})


def detections(n: int, scores: dict[int, float]) -> dict[str, list[float]]:
    return {"cat/f.csv": [scores.get(i, 0.0) for i in range(n)]}


# ---------------------------------------------------------------- hand-worked cases


def test_hand_case_standard_profile() -> None:
    # 60 rows; probation = floor(0.15 * 60) = 9, so rows 0..8 are not scored.
    # One window, rows 20..29 (W = 10). Detections (score 1.0):
    #   row  3: in probation                            ->  0
    #   row 12: before any window: -1 * fp               -> -0.11
    #   row 20: window start, y = -(29-20+1)/10 = -1     -> +1.0 (tp)
    #   row 25: y = -0.5, later than row 20              ->  0 (only the earliest counts)
    #   row 30: y = (30-29)/(10-1) = 1/9: fp*tanh(-2.5/9) -> -0.11 * tanh(5/18) ~ -0.0298
    #   row 59: y = 30/9 > 3: -1 * fp                    -> -0.11
    # raw = 1 - 0.11 - 0.11 - 0.11 * tanh(5/18) ~ 0.7502
    # null = -1 (one missed window), perfect = +1 -> normalised = 100 * (raw + 1) / 2 ~ 87.51
    corpus = one_file(60, [(20, 29)])
    results = detections(60, {3: 1.0, 12: 1.0, 20: 1.0, 25: 1.0, 30: 1.0, 59: 1.0})
    raw = 1.0 - 0.11 - 0.11 - 0.11 * math.tanh(5 / 18)
    got = score_corpus(corpus, results, STANDARD)
    assert got.raw == pytest.approx(raw, abs=1e-12)
    assert got.normalized == pytest.approx(100 * (raw + 1) / 2, abs=1e-9)
    assert got.threshold == 1.0


def test_hand_case_two_windows_low_fn_profile() -> None:
    # 60 rows, probation 9; windows rows 20..29 (W = 10) and 40..44 (W = 5); fn = 2.
    #   row 27: y = -(29-27+1)/10 = -0.3 -> tanh(0.75) / tanh(2.5) ~ 0.6437
    #   row 33: after window 1, y = (33-29)/9 = 4/9 -> 0.11 * tanh(-10/9) ~ -0.0884
    #   window 2 missed                                -> -2
    #   row 50: after window 2, y = (50-44)/(5-1) = 1.5 -> 0.11 * tanh(-3.75) ~ -0.1099
    # raw ~ -1.5546; null = -2 * 2 = -4, perfect = 2 -> normalised = 100 * (raw + 4) / 6 ~ 40.76
    corpus = one_file(60, [(20, 29), (40, 44)])
    results = detections(60, {27: 1.0, 33: 1.0, 50: 1.0})
    raw = math.tanh(0.75) / math.tanh(2.5) - 0.11 * math.tanh(10 / 9) - 2 - 0.11 * math.tanh(3.75)
    got = score_at_threshold(corpus, results, LOW_FN, 1.0)
    assert got.raw == pytest.approx(raw, abs=1e-12)
    assert got.normalized == pytest.approx(100 * (raw + 4) / 6, abs=1e-9)
    assert score_corpus(corpus, results, LOW_FN) == pytest.approx(got)


def test_scaled_sigmoid_landmarks() -> None:
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(-1.0) == pytest.approx(math.tanh(2.5))
    # Beyond the right edge the curve runs on down to y = 3, then is clamped to -1.
    assert scaled_sigmoid(2.5) == pytest.approx(-math.tanh(6.25), abs=1e-12)
    assert scaled_sigmoid(3.0) == pytest.approx(-math.tanh(7.5), abs=1e-12)
    assert scaled_sigmoid(3.0001) == -1.0


# ---------------------------------------------------------------- rules of the scorer


def test_probation_formula_and_exclusion() -> None:
    assert [probation_rows(n) for n in (40, 60, 4032, 5000, 5001, 15902)] == [
        6,
        9,
        604,
        750,
        750,
        750,
    ]
    corpus = one_file(60, [(20, 29)])
    # A detection only at row 5 (probation) changes nothing: the null score stays.
    only_probation = score_at_threshold(corpus, detections(60, {5: 1.0}), STANDARD, 1.0)
    assert only_probation.raw == -1.0
    # The same detection at row 9 (first scored row, before the window) costs fp.
    first_scored = score_at_threshold(corpus, detections(60, {9: 1.0}), STANDARD, 1.0)
    assert first_scored.raw == pytest.approx(-1.11)


def test_window_wholly_in_probation_is_not_scored() -> None:
    # 200 rows -> probation 30; window 5..10 lies inside it, window 100..119 does not.
    corpus = one_file(200, [(5, 10), (100, 119)])
    assert score_corpus(corpus, null_results(corpus), STANDARD).raw == -1.0
    assert score_corpus(corpus, perfect_results(corpus), STANDARD).normalized == 100.0


def test_only_earliest_detection_in_a_window_counts() -> None:
    corpus = one_file(60, [(20, 29)])
    # Row 22 (score 0.6) precedes row 25 (score 1.0): at threshold 0.6 the window earns
    # row 22's credit, y = -(29-22+1)/10 = -0.8 -> tanh(2) / tanh(2.5).
    both = score_at_threshold(corpus, detections(60, {22: 0.6, 25: 1.0}), STANDARD, 0.6)
    assert both.raw == pytest.approx(math.tanh(2.0) / math.tanh(2.5))
    # Row 25 alone earns less: y = -0.5 -> tanh(1.25) / tanh(2.5).
    late = score_at_threshold(corpus, detections(60, {25: 1.0}), STANDARD, 0.6)
    assert late.raw == pytest.approx(math.tanh(1.25) / math.tanh(2.5))
    # More detections later in the same window add nothing.
    many = detections(60, {22: 1.0, 23: 1.0, 27: 1.0, 29: 1.0})
    assert score_at_threshold(corpus, many, STANDARD, 1.0).raw == pytest.approx(both.raw)


def test_sweep_picks_the_optimal_threshold() -> None:
    # Window 40..49. Rows 10, 11 at 0.95 (-0.11 each, no earlier window); row 40 (window
    # start, +1) at 0.9; rows 52..59 at 0.3 (FPs 3..10 rows past a 10-row window).
    #   threshold inf: -1;  0.95: -1 - 0.22 = -1.22;  0.9: 1 - 0.22 = 0.78;
    #   0.3: 0.78 + sum_k 0.11 * tanh(-2.5 k / 9), k = 3..10 ~ 0.78 - 0.70 = 0.08;  0: worse.
    corpus = one_file(60, [(40, 49)])
    scores = {10: 0.95, 11: 0.95, 40: 0.9} | {i: 0.3 for i in range(52, 60)}
    got = score_corpus(corpus, detections(60, scores), STANDARD)
    assert got.threshold == 0.9
    assert got.raw == pytest.approx(0.78)
    at_03 = 0.78 + sum(0.11 * math.tanh(-2.5 * k / 9) for k in range(3, 11))
    assert score_at_threshold(corpus, detections(60, scores), STANDARD, 0.3).raw == (
        pytest.approx(at_03)
    )


def test_sweep_ties_keep_the_higher_threshold() -> None:
    # Row 20 at 0.9 opens the window; row 25 at 0.8 adds nothing, so 0.9 and 0.8 tie.
    corpus = one_file(60, [(20, 29)])
    got = score_corpus(corpus, detections(60, {20: 0.9, 25: 0.8}), STANDARD)
    assert (got.raw, got.threshold) == (1.0, 0.9)


def test_never_firing_wins_when_every_detection_hurts() -> None:
    corpus = one_file(60, [(20, 29)])
    got = score_corpus(corpus, detections(60, {12: 0.7, 40: 0.5}), STANDARD)
    assert (got.raw, got.normalized, got.threshold) == (-1.0, 0.0, math.inf)


def test_incremental_sweep_matches_rescoring_every_threshold() -> None:
    rng = random.Random(7)
    corpus = one_file(300, [(60, 89), (150, 154), (200, 259)])
    for profile in (STANDARD, LOW_FN):
        for _ in range(20):
            results = detections(300, {i: round(rng.random(), 2) for i in range(300)})
            candidates = {math.inf, *results["cat/f.csv"]}
            by_rescoring = max(
                score_at_threshold(corpus, results, profile, t).raw for t in candidates
            )
            assert score_corpus(corpus, results, profile).raw == pytest.approx(by_rescoring)


# ---------------------------------------------------------------- how sure: paired bootstrap


def three_files() -> Corpus:
    """Three 100-row files with one window each (rows 50..59); probation is 15 rows."""
    stamps = tuple(T0 + timedelta(minutes=5 * i) for i in range(100))
    files = {
        n: DataFile(n, stamps, (0.0,) * 100, ((50, 59),)) for n in ("a/x.csv", "a/y.csv", "b/z.csv")
    }
    return Corpus(files, {STANDARD.name: STANDARD, LOW_FN.name: LOW_FN})


def test_file_gains_add_up_to_the_normalised_score() -> None:
    corpus = three_files()
    # x: caught at the window start; y: missed, one FP before; z: caught mid-window
    results = {
        "a/x.csv": [1.0 if i == 50 else 0.0 for i in range(100)],
        "a/y.csv": [0.8 if i == 20 else 0.0 for i in range(100)],
        "b/z.csv": [0.9 if i == 55 else 0.0 for i in range(100)],
    }
    for profile in (STANDARD, LOW_FN):
        gains = file_gains(corpus, results, profile, 0.8)
        # x gains tp + fn over never firing; y loses one FP; every file has room tp + fn
        assert gains[0] == pytest.approx((profile.tp + profile.fn, profile.tp + profile.fn))
        assert gains[1] == pytest.approx((-profile.fp, profile.tp + profile.fn))
        whole = score_at_threshold(corpus, results, profile, 0.8).normalized
        assert 100 * sum(g for g, _ in gains) / sum(r for _, r in gains) == pytest.approx(whole)


def test_bootstrap_of_perfect_against_null_is_exactly_100() -> None:
    corpus = three_files()
    perfect = file_gains(corpus, perfect_results(corpus), STANDARD, 1.0)
    null = file_gains(corpus, null_results(corpus), STANDARD, 1.0)
    assert tuple(paired_bootstrap(perfect, null, resamples=200)) == pytest.approx((100, 100, 100))
    assert tuple(paired_bootstrap(null, null, resamples=200)) == (0.0, 0.0, 0.0)


def test_bootstrap_interval_spans_what_the_files_disagree_on() -> None:
    # a beats b on one file by a whole window and loses on another by one: the estimate is
    # 0, and the draws with the winning file twice (or the losing one) move it either way
    room = STANDARD.tp + STANDARD.fn
    a = [(room, room), (0.0, room), (0.5, room)]
    b = [(0.0, room), (room, room), (0.5, room)]
    d = paired_bootstrap(a, b, resamples=2000, seed=3)
    assert d.estimate == 0.0
    assert d.low < -30 and d.high > 30  # a draw of {x, x, z} gives +66.7, {y, y, z} -66.7
    assert d == paired_bootstrap(a, b, resamples=2000, seed=3)  # the seed fixes the draws
    # a file-wise consistent lead keeps the whole interval above 0
    lead = paired_bootstrap([(room, room)] * 3, [(0.5, room)] * 3, resamples=500)
    assert lead.low == lead.high == lead.estimate == pytest.approx(100 * (room - 0.5) / room)


def test_bootstrap_refuses_mismatched_files_and_bad_settings() -> None:
    one = [(1.0, 2.0)]
    with pytest.raises(ValueError, match="same files"):
        paired_bootstrap(one, one * 2)
    with pytest.raises(ValueError, match="same files"):
        paired_bootstrap(one, [(1.0, 3.0)])
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap(one, one, resamples=0)
    with pytest.raises(ValueError, match="no scored window"):
        paired_bootstrap([(0.0, 0.0)], [(0.0, 0.0)])


def test_scores_outside_unit_interval_are_refused() -> None:
    corpus = one_file(60, [(20, 29)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        score_corpus(corpus, detections(60, {30: 1.5}), STANDARD)
    with pytest.raises(ValueError, match="59 scores for 60 rows"):
        score_corpus(corpus, {"cat/f.csv": [0.0] * 59}, STANDARD)


def test_window_rows_maps_limits_to_inclusive_rows() -> None:
    stamps = [T0 + timedelta(minutes=5 * i) for i in range(10)]
    exact = (stamps[2], stamps[4])
    between = (T0 + timedelta(minutes=27), T0 + timedelta(minutes=41))  # rows 6..8
    assert window_rows(stamps, [exact, between]) == ((2, 4), (6, 8))
    with pytest.raises(ValueError, match="holds no row"):
        window_rows(stamps, [(T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))])
    with pytest.raises(ValueError, match="overlaps"):
        window_rows(stamps, [(stamps[2], stamps[5]), (stamps[4], stamps[6])])


# ---------------------------------------------------------------- the real NAB copy


@pytest.fixture(scope="module")
def nab() -> Corpus:
    return load_corpus(NAB_DATA)


def test_real_copy_loads_with_exact_window_limits(nab: Corpus) -> None:
    labels = json.loads((NAB_DATA / "labels" / "combined_windows.json").read_text())
    assert len(nab.files) == 53
    assert nab.window_count == sum(len(w) for w in labels.values())
    for name, f in nab.files.items():
        spans = [(f.timestamps[a], f.timestamps[b]) for a, b in f.windows]
        want = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in labels[name]]
        assert spans == want, name


@pytest.mark.parametrize("category", [None, "realTweets"])
def test_null_is_0_and_perfect_is_100_on_the_real_copy(nab: Corpus, category: str | None) -> None:
    corpus = nab if category is None else nab.select(category)
    for profile in nab.profiles.values():
        assert score_corpus(corpus, null_results(corpus), profile).normalized == 0.0
        assert score_corpus(corpus, perfect_results(corpus), profile).normalized == (
            pytest.approx(100.0, abs=1e-9)
        )


def test_windowed_gaussian_scores_real_tweets_in_unit_interval(nab: Corpus) -> None:
    tweets = nab.select("realTweets")
    results = run_detector(tweets, WindowedGaussian)
    for scores in results.values():
        assert scores[0] == 0.0
        assert all(0.5 <= s <= 1.0 for s in scores[1:])


# ---------------------------------------------------------------- detectors


def _reference_gaussian(values: list[float], window: int, step: int) -> list[float]:
    """NAB's semantics written out naively: refit on each value while the window grows,
    then on every `step`-th value once it is full; the window holds the newest values."""
    out: list[float] = []
    fitted: list[float] = []
    for i, x in enumerate(values):
        if not fitted:
            out.append(0.0)
        else:
            mean = sum(fitted) / len(fitted)
            std = math.sqrt(sum((v - mean) ** 2 for v in fitted) / len(fitted)) or 1e-6
            out.append(1.0 - 0.5 * math.erfc(abs(x - mean) / std / math.sqrt(2)))
        seen = values[: i + 1]
        if len(seen) <= window:
            fitted = seen
        elif (len(seen) - window) % step == 0:
            fitted = seen[-window:]
    return out


def test_windowed_gaussian_follows_nab_semantics() -> None:
    rng = random.Random(3)
    values = [rng.gauss(10, 2) for _ in range(60)] + [5.0] * 10 + [40.0]
    detector = WindowedGaussian(window=8, step=3)
    got = [detector.update(v, T0) for v in values]
    assert got == pytest.approx(_reference_gaussian(values, 8, 3), abs=1e-12)


def test_windowed_gaussian_has_no_look_ahead() -> None:
    rng = random.Random(5)
    base = [rng.gauss(100, 15) for _ in range(200)]
    for cut in (1, 7, 50, 133):
        changed = base[:cut] + [rng.gauss(500, 50) for _ in range(200 - cut)]
        a, b = WindowedGaussian(window=20, step=5), WindowedGaussian(window=20, step=5)
        first = [a.update(v, T0) for v in base]
        second = [b.update(v, T0) for v in changed]
        assert first[:cut] == second[:cut]
        assert first[cut:] != second[cut:]


def test_run_detector_streams_one_row_at_a_time_with_a_fresh_detector() -> None:
    seen: list[list[tuple[float, datetime]]] = []

    class Spy:
        def __init__(self) -> None:
            self.rows: list[tuple[float, datetime]] = []
            seen.append(self.rows)

        def update(self, value: float, timestamp: datetime) -> float:
            self.rows.append((value, timestamp))
            return 0.0

    stamps = tuple(T0 + timedelta(minutes=i) for i in range(4))
    files = {
        n: DataFile(n, stamps, tuple(float(i + k) for i in range(4)), ())
        for k, n in enumerate(["a/x.csv", "b/y.csv"])
    }
    run_detector(Corpus(files, {}), Spy)
    assert seen == [[(float(i + k), stamps[i]) for i in range(4)] for k in range(2)]


def test_stormwatch_adapter_and_unavailable_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "enrich.velocity", None)
    assert "enrich.velocity halted" in str(spikes.stormwatch_factory())

    monkeypatch.setitem(sys.modules, "enrich.velocity", types.ModuleType("enrich.velocity"))
    assert spikes.stormwatch_factory() == "enrich.velocity has no SpikeDetector"

    class SpikeDetector:
        def update(self, value: float) -> types.SimpleNamespace:
            return types.SimpleNamespace(score=min(value / 10, 1.0))

    module = types.ModuleType("enrich.velocity")
    module.SpikeDetector = SpikeDetector  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "enrich.velocity", module)
    factory = spikes.stormwatch_factory()
    assert callable(factory)
    detector = factory()
    assert [detector.update(v, T0) for v in (2.0, 30.0)] == [0.2, 1.0]


def _nab_tree(root: Path) -> None:
    """A two-file NAB tree (one realTweets file) under ``root``."""
    (root / "config").mkdir(parents=True)
    (root / "config" / "profiles.json").write_text(
        (NAB_DATA / "config" / "profiles.json").read_text()
    )
    labels = {}
    for name in ("realTweets/t.csv", "other/o.csv"):
        (root / "data" / name).parent.mkdir(parents=True)
        rows = [f"{T0 + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},{i % 7}" for i in range(100)]
        (root / "data" / name).write_text("timestamp,value\n" + "\n".join(rows) + "\n")
        labels[name] = [[rows[50].split(",")[0], rows[59].split(",")[0]]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_bench_command_prints_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _nab_tree(tmp_path)
    monkeypatch.setitem(sys.modules, "enrich.velocity", None)

    assert spikes.main(["--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 files, 2 windows; realTweets: 1 files, 1 windows" in out
    assert any(line.split()[:7] == ["null"] + ["0.0"] * 6 for line in out.splitlines())
    assert any(line.startswith("Windowed Gaussian ") for line in out.splitlines())
    assert "stormwatch detector: unavailable (ModuleNotFoundError" in out
    assert "how sure" not in out  # no lead to measure without the detector
    assert "full 58-file corpus" in out
    assert "NAB's published per-row scores" not in out
    table = out[out.index("per category (windows)") :].splitlines()
    assert table[1].split() == ["detector", "other", "(1)", "Tweets", "(1)"]
    assert table[2].split()[:2] == ["Windowed", "Gaussian"]
    assert len(table[2].split()) == 4  # a score per category


@pytest.mark.parametrize(("window", "step"), [(0, 1), (5, 0), (5, 6)])
def test_windowed_gaussian_refuses_bad_sizes(window: int, step: int) -> None:
    with pytest.raises(ValueError, match="window"):
        WindowedGaussian(window=window, step=step)


def test_stormwatch_options_are_read_as_json() -> None:
    assert spikes._option("alpha=0.05") == ("alpha", 0.05)
    assert spikes._option("two_sided=true") == ("two_sided", True)
    assert spikes._option("name=plain") == ("name", "plain")
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        spikes._option("alpha")


# ---------------------------------------------------------------- NAB's published results


def _published(root: Path, detector: str, corpus: Corpus, scores: dict[str, list[float]]) -> None:
    for name, f in corpus.files.items():
        category, base = name.split("/", 1)
        path = root / detector / category / f"{detector}_{base}"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            f"{t:%Y-%m-%d %H:%M:%S},{v},{s},0,0.0,0.0,0.0"
            for t, v, s in zip(f.timestamps, f.values, scores[name], strict=True)
        ]
        head = "timestamp,value,anomaly_score,label,S(t)_standard,S(t)_low_FP,S(t)_low_FN"
        path.write_text(head + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_published_results_are_read_for_the_copys_files_and_scored(tmp_path: Path) -> None:
    corpus = one_file(60, [(20, 29)])
    scores = detections(60, {12: 0.75, 20: 0.5})
    _published(tmp_path, "someDetector", corpus, scores)
    got = load_published(tmp_path, "someDetector", corpus)
    assert got == scores
    # scored as any rows: at threshold 0.5, 1 - 0.11 -> 100 * (0.89 + 1) / 2 = 94.5
    assert score_corpus(corpus, got, STANDARD).normalized == pytest.approx(94.5)


def test_published_results_that_do_not_fit_the_copy_are_refused(tmp_path: Path) -> None:
    corpus = one_file(60, [(20, 29)])
    with pytest.raises(ValueError, match=r"someDetector_f\.csv"):
        load_published(tmp_path, "someDetector", corpus)  # missing
    _published(tmp_path, "shifted", one_file(61, [(20, 29)]), detections(61, {}))
    with pytest.raises(ValueError, match=r"not the rows of data/cat/f\.csv"):
        load_published(tmp_path, "shifted", corpus)
    _published(tmp_path, "negative", corpus, detections(60, {3: -0.5}))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        load_published(tmp_path, "negative", corpus)
    bad = tmp_path / "noscore" / "cat" / "noscore_f.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("timestamp,value\n2015-03-01 00:00:00,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a NAB results file"):
        load_published(tmp_path, "noscore", corpus)


def test_bench_command_scores_published_results_beside_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, results = tmp_path / "nab", tmp_path / "results"
    _nab_tree(data)
    corpus = load_corpus(data)
    # "perfect" fires on the first row of each window; "short" lacks a file
    _published(results, "perfect", corpus, perfect_results(corpus))
    _published(results, "short", corpus.select("realTweets"), null_results(corpus))

    assert spikes.main(["--data", str(data), "--published-results", str(results)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out if line.startswith("perfect ")]
    # whole copy and realTweets, the halves, then per category
    assert rows == [["perfect"] + ["100.0"] * 6] * 2 + [["perfect", "100.0", "100.0"]]
    assert any(line.startswith("short: not scored (") and "short_o.csv" in line for line in out)
    # how sure: the estimate is the table's stormwatch row minus its Windowed Gaussian row
    ours, baseline = (
        next(line[28:].split() for line in out if line.startswith(name))
        for name in ("stormwatch detector", "Windowed Gaussian")
    )
    sure = out[next(i for i, line in enumerate(out) if line.startswith("how sure")) + 2 :][:2]
    assert len(ours) == len(baseline) == 7  # six scores and the run time
    assert len(sure) == 2
    for k, line in enumerate(sure):
        assert line.startswith(("whole copy", "realTweets only"))
        estimates = [float(x) for x in line[36:].replace("[", " ").split()[::3]]
        expected = [float(ours[3 * k + j]) - float(baseline[3 * k + j]) for j in range(3)]
        assert estimates == pytest.approx(expected, abs=0.11)
    # and each published detector's lead over Windowed Gaussian: here 100 minus its scores
    leads = [line for line in out if line.startswith("perfect, ")]
    assert [line.split(",")[1].split()[0] for line in leads] == ["whole", "realTweets"]
    for k, line in enumerate(leads):
        estimates = [float(x) for x in line[36:].replace("[", " ").split()[::3]]
        assert estimates == pytest.approx(
            [100 - float(baseline[3 * k + j]) for j in range(3)], abs=0.11
        )
    with pytest.raises(SystemExit, match="is not a folder"):
        spikes.main(["--data", str(data), "--published-results", str(tmp_path / "none")])
    # an override equal to the default: the comparison with the defaults is exactly 0
    capsys.readouterr()
    assert spikes.main(["--data", str(data), "--stormwatch", "rest=50"]) == 0
    out = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(out) if "with rest=50 minus its defaults" in line)
    assert [line[:28].strip() for line in out[at + 2 : at + 6]] == [
        "whole copy",
        "realTweets only",
        "half A",
        "half B",
    ]
    for line in out[at + 2 : at + 6]:
        assert line[28:].split() == ["+0.0", "[", "+0.0,", "+0.0]"] * 3
    assert spikes.main(["--data", str(data), "--resamples", "0"]) == 0
    assert "how sure" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        spikes.main(["--data", str(data), "--resamples", "-1"])
