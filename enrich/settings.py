"""Settings of the enrich stage (the ``enrich:`` section of the settings file).

Example (every key is optional; these are the defaults unless noted)::

    enrich:
      model: cardiffnlp/twitter-xlm-roberta-base-sentiment   # default: none (the lexicon)
      device: cpu
      batch_size: 32
      max_length: 256
      threads: null         # CPU threads for the model (null: torch's default)
      quantize: false       # int8 linear layers on CPU: several times faster
      labels: {"1 star": negative, "3 stars": neutral}        # only to override the guess
      languages: [en, de, fr, es, it, nl, pt]
      language_min_letters: 6
      language_min_confidence: 0.7
      lexicon_neutral: 0.05
      max_chars: 100000
      processes: 0          # child processes for matching/language/sentiment
      reach: {followers: 1.0, likes: 1.0, replies: 1.0, shares: 20.0}
      velocity:
        bucket: 1m
        window: 5m
        half_life: 4h
        warmup: 1h
        retention: 30m
        min_baseline: 0.5
        max_future: 5m
        settle: 15m
        clip: null
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import Duration
from core.records import Sentiment

DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@cache
def known_languages() -> frozenset[str]:
    """The ISO 639-1 codes the bundled py3langid model knows (loads it once)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    labels: list[str] = LanguageIdentifier.from_model_file(MODEL_FILE).labels
    return frozenset(labels)


class ReachSettings(_Model):
    """Weights of the reach estimate: ``sum(weight * figure)`` over the reported figures.

    ``shares`` is weighted by an assumed audience per share, since the resharers' own
    follower counts are not reported.
    """

    followers: float = Field(default=1.0, ge=0)
    likes: float = Field(default=1.0, ge=0)
    replies: float = Field(default=1.0, ge=0)
    shares: float = Field(default=20.0, ge=0)


class VelocitySettings(_Model):
    """How a brand's mention stream is turned into spike figures (`enrich.velocity`)."""

    bucket: Duration = timedelta(minutes=1)
    """Event-time resolution: mentions are counted per bucket; the detector steps per bucket."""
    window: Duration = timedelta(minutes=5)
    """The sliding window whose count is compared with the baseline (a whole number of
    buckets)."""
    half_life: Duration = timedelta(hours=4)
    """After this much event time, the baseline has forgotten half of what it learnt."""
    warmup: Duration = timedelta(hours=1)
    """Event time a brand's detector learns before it scores (figures read 0 until then;
    the z-score and Poisson surprise, which learn only settled windows, ``settle`` more)."""
    retention: Duration = timedelta(minutes=30)
    """How long buckets and mention ids are kept: a late mention older than this is not
    counted, a duplicate older than this is not recognised."""
    min_baseline: float = Field(default=0.5, gt=0)
    """Floor of the expected mentions per window, so one mention of a silent brand is not
    a spike."""
    max_future: Duration = timedelta(minutes=5)
    """A mention dated later than the clock plus this (a wrong time zone at the source)
    counts as published now + this."""
    settle: Duration = timedelta(minutes=15)
    """The EWMA baseline learns a window's count only once it closed this long ago, so
    mentions read this late still count in what it learns: a backlog is read one
    partition's batch at a time, bringing one brand's mentions of the same minutes in
    several passes, and a baseline taught the first pass's part of each window calls the
    full count a spike (0: learn each window as it closes)."""
    clip: float | None = Field(default=None, gt=0)
    """If set, a window count more than ``clip`` deviations above the baseline teaches the
    baseline only that much, so a long spike stays visible longer; but a lasting change of
    level is then learnt slowly (None: learn every value as it is)."""

    @field_validator("bucket", "window", "half_life", "retention")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 1:
            raise ValueError("must be at least 1s")
        return v

    @field_validator("max_future", "settle")
    @classmethod
    def _not_negative(cls, v: timedelta) -> timedelta:
        if v < timedelta(0):
            raise ValueError("must not be negative")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ratio = self.window / self.bucket
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"window ({self.window}) must be a multiple of bucket ({self.bucket})")
        if round(ratio) > 10_000:
            raise ValueError("window / bucket must be at most 10000 buckets")
        if self.retention < self.window:
            raise ValueError(
                f"retention ({self.retention}) must be at least the window ({self.window})"
            )
        return self

    @property
    def buckets_per_window(self) -> int:
        return round(self.window / self.bucket)

    @property
    def alpha(self) -> float:
        """The EWMA weight of one bucket step, from the half-life."""
        steps = max(self.half_life / self.bucket, 1e-9)
        return float(1.0 - 0.5 ** (1.0 / steps))

    @property
    def warmup_steps(self) -> int:
        return max(0, round(self.warmup / self.bucket))


class EnrichSettings(_Model):
    """Settings of the enrich stage; see the module docstring for the YAML shape."""

    model: str | None = None
    """Sentiment model: a Hugging Face model name (already in the local cache) or a local
    directory; None: the built-in English/German lexicon. Never downloaded at run time."""
    device: str = "cpu"
    """Where the model runs: ``cpu``, ``cuda``, ``cuda:1``, ``mps``."""
    batch_size: int = Field(default=32, ge=1, le=4096)
    max_length: int = Field(default=256, ge=8, le=8192)
    """Tokens per text the model sees (longer texts are truncated)."""
    threads: int | None = Field(default=None, ge=1, le=256)
    """CPU threads for the model (None: torch's default)."""
    quantize: bool = False
    """Dynamic int8 quantisation of the model's linear layers (CPU only; several times
    faster on CPU at a small cost in accuracy)."""
    labels: dict[str, Sentiment] = Field(default_factory=dict)
    """Model label -> sentiment, for labels the built-in guess does not know or gets wrong
    (it knows negative/neutral/positive, LABEL_0..2 and 1-5 star labels)."""
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    """Languages the detector chooses among; anything else reads as one of these or und."""
    language_min_letters: int = Field(default=6, ge=0)
    """Texts with fewer letters (after removing links, handles, hashtags) are ``und``."""
    language_min_confidence: float = Field(default=0.7, ge=0, le=1)
    """Below this probability the language is ``und``."""
    lexicon_neutral: float = Field(default=0.05, ge=0, lt=1)
    """Lexicon scores within +-this are neutral."""
    max_chars: int = Field(default=100_000, ge=100, le=1_000_000)
    """Only this many characters of a mention (title + text) are matched and scored."""
    processes: int = Field(default=0, ge=0, le=64)
    """Child processes for the match step's text work (matching, language, sentiment);
    0: in the stage's own thread. 1 or more lets it run beside the other stages of the
    process on another core (each child loads the models again: memory)."""
    reach: ReachSettings = ReachSettings()
    velocity: VelocitySettings = VelocitySettings()

    @field_validator("model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("empty model name (leave it out for the lexicon)")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", v):
            raise ValueError(f"{v!r} is not a device such as cpu, cuda, cuda:1 or mps")
        return v

    @model_validator(mode="after")
    def _quantize_on_cpu(self) -> Self:
        if self.quantize and self.device != "cpu":
            raise ValueError("quantize works on device cpu only")
        return self

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one language is needed")
        unknown = sorted(set(v) - known_languages())
        if unknown:
            raise ValueError(f"unknown language codes {unknown} (ISO 639-1, such as en, de)")
        return tuple(dict.fromkeys(v))
