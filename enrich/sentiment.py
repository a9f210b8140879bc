"""Sentiment scorers: a transformers model when one is configured, else a lexicon.

Every scorer keeps the `SentimentScorer` contract: ``score(texts, languages)`` returns one
`SentimentResult` per text, in order, with a label and a score in [-1, 1] (negative to
positive). Results depend only on the text (and its language for the lexicon): the same
batch scores the same every time.

`load_scorer` never downloads anything: a model is read from a local directory or the
local Hugging Face cache, and ``transformers``/``torch`` are imported only then (they are
the optional ``stormwatch[transformers]`` extra).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from core.records import Sentiment
from enrich.lexicon import GermanLexicon, load_german
from enrich.sentiment_text import for_lexicon
from enrich.settings import EnrichSettings

log = logging.getLogger(__name__)


class SentimentResult(NamedTuple):
    label: Sentiment
    score: float
    """P(positive) - P(negative) for a model; the compound score for the lexicon."""


class SentimentScorer(Protocol):
    name: str
    """What scores: ``lexicon`` or the model's name or path (for logs and `stormwatch check`)."""

    def score(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[SentimentResult]:
        """One result per text, in order; ``languages`` (ISO codes, ``und``) may guide it."""
        ...


def label_for(score: float, neutral: float) -> Sentiment:
    """Positive above ``neutral``, negative below ``-neutral``, else neutral."""
    if score > neutral:
        return Sentiment.POSITIVE
    if score < -neutral:
        return Sentiment.NEGATIVE
    return Sentiment.NEUTRAL


class LexiconScorer:
    """English through VADER, German through the built-in lexicon (`enrich.lexicon`).

    Routing by language: ``en`` -> VADER; ``de`` -> German; unknown (``und``/None) -> both,
    keeping the stronger opinion; any other language -> emoji and emoticons only, since
    neither lexicon knows its words (mostly neutral, honestly so). Texts are first cleaned
    by `enrich.sentiment_text.for_lexicon` (quotes, HTML entities, "soooo", #CamelCase).

    ``neutral`` is the one band for every language: 0.05 is VADER's published threshold,
    and bench/sentiment.py shows it at the optimum of TweetEval (see docs/sentiment.md).
    """

    name = "lexicon"

    def __init__(self, neutral: float = 0.05, german: GermanLexicon | None = None) -> None:
        from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
            SentimentIntensityAnalyzer,
        )

        self._vader = SentimentIntensityAnalyzer()
        self._german = german or load_german()
        self._neutral = neutral

    def score(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[SentimentResult]:
        langs: Sequence[str | None] = languages if languages is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        out = []
        for text, lang in zip(texts, langs, strict=True):
            value = self.compound(text, lang)
            out.append(SentimentResult(label_for(value, self._neutral), value))
        return out

    def compound(self, text: str, language: str | None) -> float:
        """The lexicon score in [-1, 1] of ``text`` (cleaned by `for_lexicon`) in ``language``."""
        text = for_lexicon(text)
        if language == "en":
            return self._english(text)
        if language == "de":
            return self._german.score(text)
        if language in (None, "und"):
            english, german = self._english(text), self._german.score(text)
            return german if abs(german) > abs(english) else english
        return self._german.emoji_score(text)

    def _english(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])


_STARS = re.compile(r"^([1-5])\s*stars?$")
_GENERIC = re.compile(r"^label_(\d+)$")
_STAR_SENTIMENT = {
    1: Sentiment.NEGATIVE,
    2: Sentiment.NEGATIVE,
    3: Sentiment.NEUTRAL,
    4: Sentiment.POSITIVE,
    5: Sentiment.POSITIVE,
}


def label_map(
    id2label: Mapping[int, str], override: Mapping[str, Sentiment] | None = None
) -> dict[str, Sentiment]:
    """Model label -> sentiment, from ``override`` first, then by convention.

    Conventions: names containing neg/neu/pos; ``LABEL_0..2`` (negative, neutral, positive)
    and ``LABEL_0..1`` (negative, positive); ``1 star`` .. ``5 stars`` (1-2 negative,
    3 neutral, 4-5 positive). Raises ValueError naming a label it cannot place, or when no
    label is negative or none positive.
    """
    override = override or {}
    folded = {k.lower(): v for k, v in override.items()}
    n = len(id2label)
    out: dict[str, Sentiment] = {}
    for label in id2label.values():
        low = label.lower().strip()
        stars, generic = _STARS.match(low), _GENERIC.match(low)
        if label in override or low in folded:
            out[label] = override.get(label) or folded[low]
        elif "neg" in low:
            out[label] = Sentiment.NEGATIVE
        elif "neu" in low:
            out[label] = Sentiment.NEUTRAL
        elif "pos" in low:
            out[label] = Sentiment.POSITIVE
        elif stars:
            out[label] = _STAR_SENTIMENT[int(stars.group(1))]
        elif generic and n in (2, 3) and int(generic.group(1)) < n:
            order = (Sentiment.NEGATIVE, Sentiment.POSITIVE) if n == 2 else tuple(Sentiment)
            out[label] = order[int(generic.group(1))]
        else:
            raise ValueError(
                f"model label {label!r} is not negative, neutral or positive; "
                "map it under enrich.labels"
            )
    values = set(out.values())
    if Sentiment.NEGATIVE not in values or Sentiment.POSITIVE not in values:
        raise ValueError(f"model labels {sorted(out)} have no negative or no positive class")
    return out


_HANDLE = re.compile(r"(?<![\w@])@\w+")
_LINK = re.compile(r"\bhttps?://\S+|\bwww\.\S+")


def model_text(text: str) -> str:
    """The text a model sees: user handles become ``@user`` and links ``http``, the
    placeholders the Twitter sentiment models (TweetEval, XLM-T) were trained with; handles
    and links carry no opinion and would only spend tokens."""
    return _LINK.sub("http", _HANDLE.sub("@user", text))


class TransformerScorer:
    """A local sequence-classification model (transformers + torch), read from disk only.
    Label = the class (negative/neutral/positive) with the highest summed probability;
    score = P(positive) - P(negative).

    Texts are tokenised once, sorted by length and batched, so a batch pads to similar
    lengths (on tweets several times faster than batching in arrival order); results come
    back in the caller's order and do not depend on the batch a text lands in (up to float
    rounding). ``threads`` sets torch's CPU threads for the whole process; ``quantize``
    converts the Linear layers to dynamic int8 (CPU only: faster, slightly different
    figures; measure with bench/sentiment.py).

    Raises on construction when the model cannot be loaded (`load_scorer` catches that).
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 256,
        labels: Mapping[str, Sentiment] | None = None,
        threads: int | None = None,
        quantize: bool = False,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise RuntimeError(
                f"transformers is not installed ({exc}); install stormwatch[transformers]"
            ) from exc
        if quantize and device != "cpu":
            raise ValueError(f"int8 quantisation runs on the CPU only, not on {device}")
        if threads is not None:
            torch.set_num_threads(threads)
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
        classifier = AutoModelForSequenceClassification.from_pretrained(
            model, local_files_only=True
        )
        id2label = {int(k): str(v) for k, v in (classifier.config.id2label or {}).items()}
        mapping = label_map(id2label, labels)
        self._classes = [mapping[id2label[i]] for i in range(len(id2label))]
        classifier.eval().to(device)
        if quantize:
            classifier = _quantized(classifier)
        self._torch: Any = torch
        self._tokenizer: Any = tokenizer
        self._model: Any = classifier
        self._device = device
        self._batch_size = batch_size
        # A model cannot read past its position embeddings, whatever the settings say.
        limit = getattr(tokenizer, "model_max_length", None)
        self._max_length = min(max_length, limit) if isinstance(limit, int) else max_length
        self.name = model

    def score(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> list[SentimentResult]:
        if not texts:
            return []
        encoded = self._tokenizer(
            [model_text(t) for t in texts], truncation=True, max_length=self._max_length
        )
        ids: list[list[int]] = encoded["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out: list[SentimentResult | None] = [None] * len(ids)
        with self._torch.inference_mode():
            for start in range(0, len(order), self._batch_size):
                batch = order[start : start + self._batch_size]
                padded = self._tokenizer.pad(
                    {key: [encoded[key][i] for i in batch] for key in encoded},
                    return_tensors="pt",
                ).to(self._device)
                probs = self._model(**padded).logits.float().softmax(-1).cpu().tolist()
                for i, row in zip(batch, probs, strict=True):
                    out[i] = self._result(row)
        return [r for r in out if r is not None]

    def _result(self, probs: list[float]) -> SentimentResult:
        totals = dict.fromkeys(Sentiment, 0.0)
        for sentiment, p in zip(self._classes, probs, strict=True):
            totals[sentiment] += p
        label = max(totals, key=lambda s: totals[s])
        value = totals[Sentiment.POSITIVE] - totals[Sentiment.NEGATIVE]
        return SentimentResult(label, max(-1.0, min(1.0, value)))


def _quantized(model: Any) -> Any:
    import warnings

    import torch

    with warnings.catch_warnings():
        # torch announces the move of eager quantisation to torchao; the call still works
        # and the notice would be repeated into every worker's log.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8
        )


def check_model(settings: EnrichSettings) -> str:
    """What `load_scorer` would make of ``settings.model``, without loading its weights:
    one line naming its labels and where each goes. Raises (ImportError, OSError,
    ValueError) with the reason the lexicon would be used instead."""
    if settings.model is None:
        return "no model configured: the English/German lexicon"
    from transformers import AutoConfig  # the optional extra: ImportError without it

    config = AutoConfig.from_pretrained(settings.model, local_files_only=True)
    id2label = {int(k): str(v) for k, v in (config.id2label or {}).items()}
    mapping = label_map(id2label, settings.labels)
    unknown = sorted(set(settings.labels or {}) - set(mapping))
    if unknown:
        raise ValueError(f"enrich.labels names {unknown[0]!r}, which the model does not have")
    labels = ", ".join(f"{k} -> {v.value}" for k, v in mapping.items())
    return f"model {settings.model}: {labels}"


def load_scorer(settings: EnrichSettings) -> SentimentScorer:
    """The transformer scorer when ``settings.model`` is set and loads; otherwise the
    lexicon scorer, after ONE warning saying why the model could not be used."""
    if settings.model is None:
        log.info("sentiment: no model configured, using the English/German lexicon")
        return LexiconScorer(settings.lexicon_neutral)
    try:
        return TransformerScorer(
            settings.model,
            device=settings.device,
            batch_size=settings.batch_size,
            max_length=settings.max_length,
            labels=settings.labels,
            threads=settings.threads,
            quantize=settings.quantize,
        )
    # Loading fails in library-specific ways (OSError for a missing model, ValueError
    # for a bad config, ImportError, RuntimeError for a device...); each means "use the
    # lexicon", and the reason goes into the one warning.
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        log.warning(
            "sentiment: model %r cannot be used (%s: %s); using the English/German lexicon",
            settings.model,
            type(exc).__name__,
            reason,
        )
        return LexiconScorer(settings.lexicon_neutral)
