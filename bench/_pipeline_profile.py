"""Where the embedded pipeline's time goes: each stage drained under cProfile, its time
split into the parts that matter (cumulative microseconds per input record)."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Sequence
from pathlib import Path

from bench import _pipeline_replay as replay
from core import topics
from core.records import Mention
from stormwatch.config import App

# (label, file suffix, function name): cumulative time of every function that matches.
PARTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "enrich-match": (
        ("decode Mention (JSON + validation)", "core/records.py", "decode"),
        ("language detection (py3langid)", "enrich/language.py", "detect"),
        ("brand matching (spaCy)", "enrich/matcher.py", "match_many"),
        ("sentiment (lexicon / model)", "enrich/sentiment.py", "score"),
        ("encode EnrichedMention", "core/records.py", "encode"),
        ("produce to the bus", "core/bus/embedded.py", "_append"),
    ),
    "enrich-velocity": (
        ("decode EnrichedMention", "core/records.py", "decode"),
        ("velocity figures", "enrich/velocity.py", "observe"),
        ("copy record with velocity", "pydantic/main.py", "model_copy"),
        ("encode EnrichedMention", "core/records.py", "encode"),
        ("produce to the bus", "core/bus/embedded.py", "_append"),
    ),
    "rules": (
        ("decode EnrichedMention", "core/records.py", "decode"),
        ("rules engine on_mention", "rules/engine.py", "on_mention"),
        ("  keyword phrase search", "rules/text.py", "find"),
        ("  window bisect (key=...)", "~", "<built-in method _bisect.bisect_right>"),
        ("  rule state evaluation", "rules/lifecycle.py", "_evaluate"),
        ("ticker (resolutions)", "rules/engine.py", "tick"),
    ),
    "index": (
        ("decode EnrichedMention / Alert", "core/records.py", "decode"),
        ("mention -> document", "core/store/documents.py", "mention_doc"),
        ("SQLite bulk write (FTS5)", "core/store/sqlite.py", "index_mentions"),
    ),
}
SHARED = (
    ("of all the above: record id re-derivation", "core/records.py", "_derive_id"),
    ("  of which canonical_url()", "core/urls.py", "canonical_url"),
)


def cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    """Cumulative seconds of the outermost call of ``name`` in files ending in
    ``suffix`` (the largest, so nested calls of the same name are not added twice)."""
    found = [
        ct
        for (file, _, func), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
        if func == name and file.endswith(suffix)
    ]
    return max(found, default=0.0)


def top(stats: pstats.Stats, n: int) -> list[tuple[str, float, int]]:
    """The ``n`` functions with the most own time: (where, seconds, calls)."""
    rows = [
        (f"{Path(file).name}:{line}({func})", tt, nc)
        for (file, line, func), (_, nc, tt, _, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    return sorted(rows, key=lambda r: -r[1])[:n]


def profile(app: App, folder: Path, mentions: Sequence[Mention], top_n: int = 0) -> list[str]:
    """Lines of a per-stage breakdown (and the ``top_n`` functions by own time)."""
    pipe = replay.build(app, folder, mentions[0].published_at)
    lines: list[str] = []
    try:
        replay.preload(pipe.bus, mentions)
        expected = {"enrich-match": len(mentions)}
        for stage, parts in PARTS.items():
            sources = {
                "enrich-velocity": (topics.MATCHED,),
                "rules": (topics.ENRICHED,),
                "index": (topics.ENRICHED, topics.ALERTS),
            }.get(stage, ())
            if sources:
                expected[stage] = sum(len(pipe.bus.read_topic(t)) for t in sources)
            profiler = cProfile.Profile()
            profiler.enable()
            seconds = replay.drain(pipe.loops[stage], expected[stage])
            profiler.disable()
            stats = pstats.Stats(profiler)
            n = expected[stage]
            lines.append(
                f"  {stage}: {n} records, {seconds / n * 1e6:6.0f} us/record under the profiler"
            )
            for label, suffix, name in (*parts, *SHARED):
                us = cumulative(stats, suffix, name) / n * 1e6
                share = 100 * cumulative(stats, suffix, name) / seconds
                lines.append(f"    {label:<44} {us:6.0f} us  {share:4.0f} %")
            for where, tt, calls in top(stats, top_n):
                lines.append(
                    f"      own time {tt / n * 1e6:6.1f} us/record  {calls:>8} calls  {where}"
                )
    finally:
        pipe.close()
    return lines
