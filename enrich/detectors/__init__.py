"""Components of stormwatch's streaming anomaly detector (`NoveltyDetector`)."""

from enrich.detectors.gate import EpisodeGate
from enrich.detectors.novelty import NoveltyDetector, NoveltyScore, NoveltySettings
from enrich.detectors.rank import TrailingRank
from enrich.detectors.seasonal import DailyProfile
from enrich.detectors.transitions import TransitionNovelty

__all__ = [
    "DailyProfile",
    "EpisodeGate",
    "NoveltyDetector",
    "NoveltyScore",
    "NoveltySettings",
    "TrailingRank",
    "TransitionNovelty",
]
