from __future__ import annotations

import random
from datetime import timedelta

import pytest

from core.config import ConfigError, parse_yaml, validate
from ingest.settings import BackoffSettings, IngestSettings


def load(text: str) -> IngestSettings:
    data, lines = parse_yaml(text, "stormwatch.yaml")
    return validate(IngestSettings, data, "stormwatch.yaml", lines)


def test_defaults_and_yaml_durations() -> None:
    assert load("") == IngestSettings()
    s = load(
        """
concurrency: 4
first_poll_jitter: 10s
backoff:
  initial: 30s
  max: 2h
  jitter: 0.5
seen_retention: 7d
state_file: feeds.db
"""
    )
    assert s.concurrency == 4
    assert s.first_poll_jitter == timedelta(seconds=10)
    assert s.backoff == BackoffSettings(
        initial=timedelta(seconds=30), max=timedelta(hours=2), jitter=0.5
    )
    assert s.seen_retention == timedelta(days=7)
    assert s.state_file == "feeds.db"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("concurrency: 0\n", 1, "concurrency: Input should be greater than or equal to 1"),
        ("backoff:\n  initial: 2h\n  max: 1h\n", 1, "backoff: Value error, backoff.max must not"),
        ("backoff:\n  jitter: 1.5\n", 2, "backoff.jitter: Input should be less than or equal"),
        ("\n\nstate_file: ../ingest.db\n", 3, "state_file: Value error, '../ingest.db': a file"),
        ("first_poll_jitter: soon\n", 1, "first_poll_jitter: Value error, 'soon' is not a dur"),
        ("retries: 3\n", 1, "retries: unknown setting"),
    ],
)
def test_invalid_settings_name_file_line_and_reason(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(text)
    assert str(err.value).startswith(f"stormwatch.yaml:{line}: {message}")


def test_backoff_doubles_from_the_larger_of_initial_and_interval_up_to_the_cap() -> None:
    exact = BackoffSettings(initial=timedelta(minutes=1), max=timedelta(minutes=10), jitter=0)
    rng = random.Random(1)
    minute = timedelta(minutes=1)
    assert [exact.delay(n, timedelta(seconds=10), rng) for n in range(1, 7)] == [
        minute * m for m in (1, 2, 4, 8, 10, 10)
    ]
    # a failing feed is never polled more often than its interval ...
    assert exact.delay(1, timedelta(minutes=5), rng) == timedelta(minutes=5)
    # ... and a feed polled less often than the cap waits one interval at most
    assert exact.delay(9, timedelta(hours=2), rng) == timedelta(hours=2)
    assert exact.delay(10_000, minute, rng) == timedelta(minutes=10)
    with pytest.raises(ValueError):
        exact.delay(0, minute, rng)


def test_jitter_only_shortens_a_wait_and_varies() -> None:
    b = BackoffSettings(initial=timedelta(minutes=1), max=timedelta(hours=1), jitter=0.25)
    rng = random.Random(7)
    waits = [b.delay(3, timedelta(seconds=30), rng).total_seconds() for _ in range(50)]
    assert all(180 <= w <= 240 for w in waits)
    assert len(set(waits)) > 40
    # ... but never below the feed's interval ("never polled more often than it")
    at_interval = [b.delay(1, timedelta(minutes=5), rng) for _ in range(20)]
    assert set(at_interval) == {timedelta(minutes=5)}
