"""Has the series ever moved like this? First-order transition novelty on coarse levels.

In the spirit of the contextual anomaly detector (CAD OSE) and of HTM's first-order
sequence memory: each value is put on a coarse *level*, and the surprise of a step is how
unexpected its level is after the previous one, under counts of the transitions seen so
far. A new extreme, a level the series never sat at, or a jump between levels that never
followed each other (a flat stretch in a series that always oscillates, an oscillation in
one that never did) is surprising; a pattern that recurs, even a large periodic spike,
soon is not.

Levels are geometric around the running median, in units of the inter-quartile range
(IQR): level 0 is within ``width`` IQRs of the median, level +-k within ``width * base**k``
(so a spike 2x, 4x, 8x further out is a new level each time), which keeps the number of
levels small (tens) for any scale or tail. The caller supplies the median and IQR (from a
`TrailingRank` of the values), learnt from the past only.
"""

from __future__ import annotations

import math


class TransitionNovelty:
    """Online first-order model of level transitions with additive smoothing.

    ``P(level | previous) = (n(previous -> level) + prior * P0(level)) / (n(previous) +
    prior)``, where ``P0`` is the (Krichevsky-Trofimov smoothed) frequency of the level
    itself, so an unseen transition to a common level is mildly surprising and one to an
    unseen level very. Counts are halved whenever ``memory`` transitions have been
    counted since the last halving, so old habits fade (an exponential forgetting with a
    horizon of about ``memory`` steps).

    Contract: `surprise` is pure; it is ``-log10`` of that probability, finite and > 0.
    """

    def __init__(
        self, width: float = 0.5, base: float = 2.0, prior: float = 1.0, memory: int = 10_000
    ) -> None:
        if width <= 0 or base <= 1 or prior <= 0 or memory < 10:
            raise ValueError("width and prior must be positive, base > 1, memory >= 10")
        self.width = width
        self._log_base = math.log(base)
        self.prior = prior
        self.memory = memory
        self._levels: dict[int, float] = {}
        self._pairs: dict[tuple[int, int], float] = {}
        self._total = 0.0
        self._since_halving = 0
        self._previous: int | None = None

    def level(self, x: float, median: float, iqr: float) -> int:
        """The level of ``x`` given the location and spread of the values so far."""
        unit = iqr * self.width
        if not unit > 0:
            unit = 1e-12  # a constant series: any departure is a far level
        d = (x - median) / unit
        if abs(d) < 1:
            return 0
        # floor of log_base |d|, clamped so absurd values still give a finite level
        k = 1 + int(min(math.log(abs(d)) / self._log_base, 1000.0))
        return k if d > 0 else -k

    def surprise(self, level: int) -> float:
        """-log10 P(``level`` | the previous level learnt)."""
        kinds = len(self._levels) + 1  # the levels seen, plus "a new one"
        p0 = (self._levels.get(level, 0.0) + 0.5) / (self._total + 0.5 * kinds)
        prev = self._previous
        if prev is None:
            return -math.log10(p0)
        after = self._levels.get(prev, 0.0)
        p = (self._pairs.get((prev, level), 0.0) + self.prior * p0) / (after + self.prior)
        return -math.log10(p)

    @property
    def size(self) -> tuple[int, int]:
        """How many levels and transitions are remembered."""
        return len(self._levels), len(self._pairs)

    def learn(self, level: int) -> None:
        self._levels[level] = self._levels.get(level, 0.0) + 1.0
        self._total += 1.0
        if self._previous is not None:
            pair = (self._previous, level)
            self._pairs[pair] = self._pairs.get(pair, 0.0) + 1.0
        self._previous = level
        self._since_halving += 1
        if self._since_halving >= self.memory:
            self._halve()

    def _halve(self) -> None:
        # forget gradually; drop what has faded below one observation so memory stays
        # bounded by the levels and transitions of the recent past
        self._levels = {k: v / 2 for k, v in self._levels.items() if v >= 1.0}
        self._pairs = {k: v / 2 for k, v in self._pairs.items() if v >= 1.0}
        self._total = math.fsum(self._levels.values())
        self._since_halving = 0
