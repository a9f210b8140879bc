from __future__ import annotations

from datetime import timedelta

import pytest

from core.config import ConfigError, parse_yaml, validate
from core.records import Sentiment
from enrich.settings import EnrichSettings, VelocitySettings


def load(text: str) -> EnrichSettings:
    data, lines = parse_yaml(text, "stormwatch.yaml")
    return validate(EnrichSettings, data, "stormwatch.yaml", lines)


def test_defaults_need_no_file() -> None:
    settings = load("")
    assert settings.model is None and settings.device == "cpu"
    assert {"en", "de", "fr", "es", "it", "nl", "pt"} <= set(settings.languages)
    assert settings.velocity.buckets_per_window == 5
    assert 0 < settings.velocity.alpha < 1


def test_the_documented_shape_loads() -> None:
    settings = load(
        """
model: /models/sentiment
device: cuda:1
batch_size: 64
labels: {"1 star": negative, "5 stars": positive}
languages: [de, en]
reach: {shares: 5}
velocity:
  bucket: 30s
  window: 2m
  half_life: 2h
  warmup: 10m
  retention: 1h
  settle: 5m
  clip: 5
"""
    )
    assert settings.labels == {"1 star": Sentiment.NEGATIVE, "5 stars": Sentiment.POSITIVE}
    assert settings.languages == ("de", "en") and settings.reach.shares == 5
    v = settings.velocity
    assert v.window == timedelta(minutes=2) and v.buckets_per_window == 4
    assert v.warmup_steps == 20 and v.settle == timedelta(minutes=5)
    # half-life of 2h at 30s steps: 240 steps halve the weight
    assert (1 - v.alpha) ** 240 == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("velocity:\n  bucket: 1m\n  window: 150s\n", "stormwatch.yaml:1: velocity: "),
        ("velocity:\n  window: 150s\n", "must be a multiple of bucket"),
        ("velocity:\n  window: 1h\n", "retention"),
        ("\nvelocity:\n  bucket: soon\n", "stormwatch.yaml:3: velocity.bucket: "),
        ("languages: [en, xx]\n", "stormwatch.yaml:1: languages: Value error, unknown language"),
        ("languages: []\n", "at least one language"),
        ("device: gpu\n", "stormwatch.yaml:1: device: "),
        ("model: '  '\n", "empty model name"),
        ("labels: {LABEL_0: angry}\n", "stormwatch.yaml:1: labels.LABEL_0: "),
        ("batch_size: 0\n", "batch_size"),
        ("sentiment: lexicon\n", "sentiment: unknown setting"),
    ],
)
def test_bad_settings_name_file_line_and_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(text)
    assert message in str(info.value)


def test_velocity_settings_are_frozen() -> None:
    settings = VelocitySettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.bucket = timedelta(seconds=5)  # type: ignore[misc]
