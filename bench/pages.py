"""How often spike rules page on real brand-mention volumes, and whether at the incidents.

    python bench/pages.py [--data DIR] [--processes N] [--files AAPL,IBM]

NAB's realTweets files (``../shared/data/nab``) are real counts of tweets naming five
companies, every 5 minutes for about two months, with 16 labelled incidents. Each count
becomes that many mentions spread evenly over its 5 minutes (2.9 million in all), and
each mention goes through the enrich stage's velocity step (`enrich.velocity
.VelocityTracker`, default `VelocitySettings`, event time only) and the rules engine
(`rules.replay.replay_ordered`: the engine as `stormwatch rules test --replay` runs it)
with several ``spike`` rules side by side: the example rule of
``rules/examples/crisis.yaml`` as shipped (on every brand) and the variants of
`VARIANTS`. A page is a firing alert (one per episode: cooldown and resolution as
configured).

Per rule it prints: pages after NAB's probation (the first 15 % of a file, at most 750
readings: 2.6 days here, while the baselines learn), how many of them fall in a labelled
window (NAB's windows, about two days around each incident), how many windows got a
page, pages outside the windows per brand and week (an upper bound on false pages: NAB
labels the incidents it knows, not every real burst), how many incidents got a page from
an hour before to two hours after the labelled instant, how many a rule paging as often
at random times would have (so a rule that pages all the time does not look sharp), and
the median minutes from the incident to that page. A benchmark of behaviour, not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repo root importable so `bench` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench.cli import machine
from bench.data import shared_data
from bench.nab import DataFile, load_corpus, probation_rows
from core.records import EnrichedMention, Mention
from enrich.settings import VelocitySettings
from enrich.stage import with_velocity
from enrich.velocity import VelocityTracker
from rules import EXAMPLES_DIR
from rules.replay import replay_ordered
from rules.schema import RuleSet
from rules.types import Rule
from rules.types.spike import SpikeRule

DEFAULT_DATA = shared_data("nab")
CATEGORY = "realTweets"
STEP = timedelta(minutes=5)
"""The interval of NAB's realTweets counts."""
WEEK = timedelta(days=7)
EXAMPLE = "acme-spike"
"""The spike rule of rules/examples/crisis.yaml."""
VARIANTS = """
- {name: zscore-4-or-surprise-6, type: spike, brands: "*", min_zscore: 4, min_surprise: 6,
   min_count: 10}
- {name: zscore-3, type: spike, brands: "*", min_zscore: 3}
- {name: novelty-2.0, type: spike, brands: "*", min_novelty: 2.0, min_count: 10}
- {name: zscore-4-and-novelty-1.7, type: spike, brands: "*", min_zscore: 4, min_novelty: 1.7,
   match: all, min_count: 10}
"""
"""Rules beside the example: the example before it used the novelty reading (an EWMA
z-score or a Poisson surprise), the rule type's minimum before that (``min_zscore: 3``,
``min_count: 5``), a higher novelty minimum (1.7, the example's, is the detector's best
threshold on realTweets, docs/spikes.md, so the example's figures here are in-sample;
2.0 is a round number), and a z-score and a novelty minimum that must both be reached."""


def rules() -> RuleSet:
    """The example spike rule, on every brand, first; then `VARIANTS`."""
    example_file = yaml.safe_load((EXAMPLES_DIR / "crisis.yaml").read_text(encoding="utf-8"))
    [shipped] = [r for r in example_file["rules"] if r["name"] == EXAMPLE]
    shipped = {**shipped, "name": "example", "brands": "*", "receivers": []}
    chosen: list[Rule] = [SpikeRule.model_validate(r) for r in [shipped, *yaml.safe_load(VARIANTS)]]
    return RuleSet(tuple(chosen))


def mentions(f: DataFile, brand: str) -> Iterator[EnrichedMention]:
    """Each count as that many mentions, evenly spread over its 5 minutes, with the
    velocity the enrich stage puts on it."""
    tracker = VelocityTracker(VelocitySettings())
    for row, (start, count) in enumerate(zip(f.timestamps, f.values, strict=True)):
        n = int(count)
        for i in range(n):
            at = start + STEP * ((i + 0.5) / n)
            m = Mention(
                source="nab",
                source_name=f.name,
                source_id=f"{row}:{i}",
                published_at=at,
                fetched_at=at,
            )
            yield with_velocity(
                tracker, EnrichedMention(mention=m, brand=brand, enriched_at=at), None
            )


@dataclass
class FilePages:
    name: str
    mentions: int
    seconds: float
    weeks: float
    """Of the file after probation."""
    windows: list[tuple[datetime, datetime]]
    incidents: list[datetime]
    pages: dict[str, list[datetime]] = field(default_factory=dict)
    """Rule -> the times of its pages after probation."""
    early: dict[str, int] = field(default_factory=dict)
    """Rule -> its pages in probation: a new brand's first days, no incident labelled."""


def run_file(data: Path, name: str) -> FilePages:
    f = load_corpus(data).files[name]
    stamps = [t.replace(tzinfo=UTC) for t in f.timestamps]
    f = DataFile(f.name, tuple(stamps), f.values, f.windows)
    labels = json.loads((data / "labels" / "combined_labels.json").read_text(encoding="utf-8"))
    incidents = [datetime.fromisoformat(t).replace(tzinfo=UTC) for t in labels[name]]
    after = stamps[probation_rows(len(stamps))]
    brand = Path(name).stem.rsplit("_", 1)[-1].lower()
    ruleset = rules()
    pages: dict[str, list[datetime]] = {r.name: [] for r in ruleset.rules}
    early = dict.fromkeys(pages, 0)
    count = 0

    def counted(stream: Iterator[EnrichedMention]) -> Iterator[EnrichedMention]:
        nonlocal count
        for em in stream:
            count += 1
            yield em

    started = time.perf_counter()
    for alert in replay_ordered(ruleset, counted(mentions(f, brand)), drain=False):
        if alert.state.value != "firing":
            continue
        if alert.at >= after:
            pages[alert.rule].append(alert.at)
        else:
            early[alert.rule] += 1
    seconds = time.perf_counter() - started
    windows = [(stamps[a], stamps[b]) for a, b in f.windows]
    weeks = (stamps[-1] + STEP - after) / WEEK
    return FilePages(name, count, seconds, weeks, windows, incidents, pages, early)


@dataclass
class Tally:
    pages: int = 0
    inside: int = 0
    windows: int = 0
    caught: int = 0
    weeks: float = 0.0
    """Brand-weeks: the files' weeks after probation, added up."""
    incidents: int = 0
    chance: float = 0.0
    """Incidents a rule paging as often, at random times, would have paged within `NEAR`."""
    delays: list[float] = field(default_factory=list)
    """Minutes from each labelled incident to its first page within `NEAR` of it."""

    def add(self, fp: FilePages, times: Sequence[datetime]) -> None:
        self.pages += len(times)
        self.weeks += fp.weeks
        self.inside += sum(any(a <= t <= b for a, b in fp.windows) for t in times)
        for a, b in fp.windows:
            self.windows += 1
            self.caught += any(a <= t <= b for t in times)
        before, after = NEAR
        per_span = len(times) / fp.weeks * ((before + after) / WEEK)
        for incident in fp.incidents:
            self.incidents += 1
            self.chance += 1 - math.exp(-per_span)
            near = [t for t in times if incident - before <= t <= incident + after]
            if near:
                self.delays.append((min(near) - incident) / timedelta(minutes=1))

    @property
    def outside_per_week(self) -> float:
        return (self.pages - self.inside) / self.weeks if self.weeks else float("nan")

    def row(self, label: str) -> str:
        delay = f"{statistics.median(self.delays):+.0f} min" if self.delays else "-"
        return (
            f"  {label:<26} {self.pages:>6} {self.inside:>11} {self.caught:>6} of {self.windows:<3}"
            f" {self.outside_per_week:>18.1f} {len(self.delays):>8} of {self.incidents:<3}"
            f" {self.chance:>9.1f} {delay:>12}"
        )


NEAR = (timedelta(hours=1), timedelta(hours=2))
"""A page this long before to this long after a labelled incident is a page for it."""
HEADER = (
    f"  {'rule':<26} {'pages':>6} {'in a window':>11} {'windows paged':>13}"
    f" {'outside/brand/week':>18} {'incidents paged':>15} {'by chance':>9} {'median delay':>12}"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the NAB copy")
    p.add_argument("--processes", type=int, default=2, help="files run in parallel")
    p.add_argument(
        "--files",
        default="",
        help="comma-separated tickers (AAPL,AMZN,FB,GOOG,IBM); default: all five",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not (args.data / "labels").is_dir():
        print(f"no NAB copy at {args.data} (--data)", file=sys.stderr)
        return 2
    names = [n for n in load_corpus(args.data).select(CATEGORY).files]
    if args.files:
        wanted = {t.strip().upper() for t in args.files.split(",") if t.strip()}
        names = [n for n in names if Path(n).stem.rsplit("_", 1)[-1] in wanted]
        if not names:
            print(f"no realTweets file for {args.files!r}", file=sys.stderr)
            return 2
    print(f"machine: {machine()}")
    ruleset = rules()
    print(f"== spike rules on NAB realTweets ({len(names)} files), mention by mention")
    for r in ruleset.rules:
        assert isinstance(r, SpikeRule)
        minimums = {k: getattr(r, k) for k in ("min_zscore", "min_surprise", "min_novelty")}
        shown = ", ".join(f"{k} {v:g}" for k, v in minimums.items() if v is not None)
        print(f"  {r.name}: {shown} ({r.match}), min_count {r.min_count}, window {r.window}")
    started = time.perf_counter()
    workers = max(1, args.processes)
    print(f"  {len(names)} files in {workers} processes (all five: about 3 minutes on 2 cores)")
    results: list[FilePages] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_file, args.data, n) for n in names]
        for fut in as_completed(futures):
            fp = fut.result()
            results.append(fp)
            rate = fp.mentions / fp.seconds if fp.seconds else 0.0
            print(
                f"  {Path(fp.name).stem}: {fp.mentions:,} mentions in {fp.seconds:.0f}s"
                f" ({rate:,.0f}/s), {fp.weeks:.1f} weeks after probation",
                flush=True,
            )
    results.sort(key=lambda fp: names.index(fp.name))
    print()
    print(HEADER)
    for r in ruleset.rules:
        total = Tally()
        for fp in results:
            total.add(fp, fp.pages[r.name])
        print(total.row(r.name))
    print("\n  per file (pages / in a window / windows paged):")
    for fp in results:
        cells = []
        for r in ruleset.rules:
            t = Tally()
            t.add(fp, fp.pages[r.name])
            cells.append(f"{r.name} {t.pages}/{t.inside}/{t.caught}")
        print(f"  {Path(fp.name).stem:<22} " + "   ".join(cells))
    days = ", ".join(
        f"{r.name} {sum(fp.early[r.name] for fp in results) / len(results):.1f}"
        for r in ruleset.rules
    )
    print(f"\n  pages per brand in its first days (NAB's probation, 2.6 days here): {days}")
    print(f"\n(total run time {time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
