"""How soon the enrich stage's spike figures flag a surge, and how often calm traffic trips them.

    python bench/surge.py [--rates 20,5,1] [--seeds 3] [--novelty 1.3,1.7]

One brand's mentions as a Poisson stream through `enrich.velocity.VelocityTracker` with
the default `VelocitySettings` (1-minute buckets, 5-minute windows), event time only:
a calm week at a constant rate, then one more calm day (the false alarms: hours of that
day in which some mention's reading reaches a threshold), then the rate doubles, ramped
linearly over 15 minutes (the surge: minutes from the start of the ramp until a mention's
reading first reaches the threshold, within two hours). Each reading is what a ``spike``
rule sees on that mention: ``Velocity.novelty`` (``min_novelty``), ``zscore``
(``min_zscore``, default 3) and the Poisson ``surprise`` (``min_surprise``). A benchmark
of behaviour, not a test; the figures back docs/spikes.md ("What a score means for a
user").
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repo root importable so `bench` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import floats, machine
from core.records import Velocity
from enrich.settings import VelocitySettings
from enrich.velocity import VelocityTracker

START = datetime(2026, 1, 5, tzinfo=UTC)
WEEK = timedelta(days=7)
DAY = timedelta(days=1)
RAMP = timedelta(minutes=15)
WATCH = timedelta(hours=2)


@dataclass(frozen=True)
class Check:
    """One ``spike`` rule minimum: a `Velocity` field and its threshold."""

    label: str
    field: str
    threshold: float

    @property
    def name(self) -> str:
        return f"{self.label} >= {self.threshold:g}"

    def reached(self, v: Velocity) -> bool:
        return float(getattr(v, self.field)) >= self.threshold


def checks(novelty: list[float], zscore: float, surprise: float) -> list[Check]:
    return [
        *(Check("novelty", "novelty", t) for t in novelty),
        Check("z-score", "zscore", zscore),
        Check("Poisson surprise", "surprise", surprise),
    ]


def arrivals(
    rng: random.Random, rate: Callable[[float], float], peak: float, end: float
) -> Iterator[float]:
    """Event times (seconds from START) of a Poisson process of ``rate(t)`` per second
    up to ``end``, by thinning one of rate ``peak`` (>= every ``rate(t)``)."""
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return
        if rng.random() * peak < rate(t):
            yield t


@dataclass
class Outcome:
    calm_hours: dict[str, int]
    """Hours of the calm day in which the check was reached on some mention."""
    flagged_after: dict[str, float | None]
    """Minutes from the ramp's start to the first mention that reaches the check."""


def run(per_minute: float, seed: int, tests: list[Check]) -> Outcome:
    base = per_minute / 60.0
    calm_end = (WEEK + DAY).total_seconds()
    ramp = RAMP.total_seconds()

    def rate(t: float) -> float:
        if t < calm_end:
            return base
        return base * (1.0 + min(1.0, (t - calm_end) / ramp))

    tracker = VelocityTracker(VelocitySettings())
    rng = random.Random(seed)
    week = WEEK.total_seconds()
    calm: dict[str, set[int]] = {c.name: set() for c in tests}
    flagged: dict[str, float | None] = {c.name: None for c in tests}
    end = calm_end + WATCH.total_seconds()
    for i, t in enumerate(arrivals(rng, rate, 2.0 * base, end)):
        v = tracker.observe("brand", f"m{i}", START + timedelta(seconds=t), negative=False)
        if t < week:
            continue
        for c in tests:
            if not c.reached(v):
                continue
            if t < calm_end:
                calm[c.name].add(int((t - week) // 3600))
            elif flagged[c.name] is None:
                flagged[c.name] = (t - calm_end) / 60.0
    return Outcome({k: len(v) for k, v in calm.items()}, flagged)


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f} to {high:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", type=floats, default=[20.0, 5.0, 1.0], help="calm mentions per minute (20,5,1)"
    )
    parser.add_argument("--seeds", type=int, default=3, help="runs per rate (3)")
    parser.add_argument(
        "--novelty",
        type=floats,
        default=[1.3, 1.7],
        help="novelty thresholds (1.3,1.7: the best single NAB thresholds, docs/spikes.md)",
    )
    parser.add_argument("--zscore", type=float, default=3.0, help="z-score threshold (3)")
    parser.add_argument(
        "--surprise", type=float, default=6.0, help="Poisson surprise threshold (6)"
    )
    args = parser.parse_args(argv)
    if not args.rates or any(r <= 0 for r in args.rates) or args.seeds < 1:
        parser.error("--rates wants positive numbers and --seeds at least 1")
    tests = checks(args.novelty, args.zscore, args.surprise)
    print(
        "A calm week, one more calm day (hours of 24 with a reading at or above the "
        "threshold), then the rate doubles over 15 minutes (minutes until flagged; '-' not "
        f"within {WATCH.total_seconds() / 3600:g} hours); {args.seeds} seeds per rate\n"
    )
    print(f"{'per minute':>10}  {'check':<26}{'flagged after (min)':>30}{'calm hours':>14}")
    started = time.perf_counter()
    for per_minute in args.rates:
        outcomes = [run(per_minute, seed, tests) for seed in range(args.seeds)]
        for c in tests:
            minutes = [o.flagged_after[c.name] for o in outcomes]
            after = ", ".join("-" if m is None else f"{m:.0f}" for m in minutes)
            hours = _span([float(o.calm_hours[c.name]) for o in outcomes])
            label = f"{per_minute:g}" if c is tests[0] else ""
            print(f"{label:>10}  {c.name:<26}{after:>30}{hours:>14}")
    print(f"\nmachine: {machine()}; {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
