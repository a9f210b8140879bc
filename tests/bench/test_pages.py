"""bench/pages.py on a small NAB-shaped copy made here: one calm series with one burst."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.data import shared_data
from bench.pages import Tally, main, run_file

START = datetime(2015, 3, 2)
ROWS = 3 * 288  # three days of 5-minute counts
BURST = (720, 726)  # rows of the burst: half an hour, in the afternoon of day three
NAME = "realTweets/Twitter_volume_ACME.csv"


def stamp(row: int) -> str:
    return (START + timedelta(minutes=5 * row)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A NAB tree with one file: about 20 mentions every 5 minutes, 200 in the burst,
    labelled at its start, with a window of a day around it."""
    rng = random.Random(3)
    root = tmp_path / "nab"
    (root / "data" / "realTweets").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "config").mkdir()
    real_profiles = shared_data("nab") / "config" / "profiles.json"
    shutil.copy(real_profiles, root / "config" / "profiles.json")
    lines = ["timestamp,value"]
    for row in range(ROWS):
        count = 200 if BURST[0] <= row < BURST[1] else rng.randint(15, 25)
        lines.append(f"{stamp(row)},{count}")
    (root / "data" / NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    window = [[stamp(BURST[0] - 144), stamp(BURST[0] + 143)]]
    (root / "labels" / "combined_windows.json").write_text(json.dumps({NAME: window}))
    (root / "labels" / "combined_labels.json").write_text(json.dumps({NAME: [stamp(BURST[0])]}))
    return root


def test_the_example_rule_pages_the_burst_within_minutes_and_the_tally_adds_up(copy: Path) -> None:
    result = run_file(copy, NAME)
    assert result.mentions == sum(
        int(line.split(",")[1]) for line in (copy / "data" / NAME).read_text().splitlines()[1:]
    )
    [(start, end)] = result.windows
    [incident] = result.incidents
    assert incident == datetime.fromisoformat(stamp(BURST[0])).replace(tzinfo=UTC)
    pages = result.pages["example"]
    assert any(timedelta(0) <= p - incident <= timedelta(minutes=5) for p in pages), pages
    after_probation = START.replace(tzinfo=UTC) + timedelta(minutes=5 * 129)
    assert all(p >= after_probation for p in pages), "pages during probation are not counted"

    tally = Tally()
    tally.add(result, pages)
    inside = sum(start <= p <= end for p in pages)
    assert (tally.pages, tally.inside, tally.caught, tally.windows) == (len(pages), inside, 1, 1)
    assert len(tally.delays) == 1 and 0 <= tally.delays[0] <= 5
    weeks = (ROWS - 129) * timedelta(minutes=5) / timedelta(days=7)
    assert tally.outside_per_week == pytest.approx((len(pages) - inside) / weeks)


def test_main_prints_a_row_per_rule(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(copy), "--processes", "1"]) == 0
    out = capsys.readouterr().out
    assert "Twitter_volume_ACME:" in out and "outside/brand/week" in out
    assert "pages per brand in its first days" in out
    for rule in ("example", "zscore-4-or-surprise-6", "zscore-3", "novelty-2.0"):
        assert f"\n  {rule} " in out, out


def test_main_refuses_a_missing_copy_and_an_unknown_ticker(tmp_path: Path, copy: Path) -> None:
    assert main(["--data", str(tmp_path / "none")]) == 2
    assert main(["--data", str(copy), "--files", "NOPE"]) == 2
