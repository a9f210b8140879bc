"""How rare is a value among the recent past? An empirical tail with a Pareto extension.

`TrailingRank` keeps the last ``window`` values in sorted order and answers
``log10 P(X >= x)`` (or the two-sided version) from their ranks: a calibrated, per-series
probability that needs no model of the series' distribution. Inside the range seen the
answer is the empirical frequency (with one pseudo-count, so it is never 0); beyond the
most extreme value seen, where counting has nothing to say, the tail is extended as a
Pareto (power-law) tail whose index is Hill's estimate from the top ``tail_fraction`` of
the window, so a value ten times past the record scores far higher than one just past it.

Costs: ``O(log window)`` to score, ``O(window)`` memory move to learn (a C ``memmove``
over an ``array('d')``: microseconds at 10,000 values).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right, insort

_LOG10_2 = math.log10(2.0)
_FALLBACK_INDEX = 5.0
"""Tail index used while too few distinct extremes exist to estimate one (a light tail:
going past the record by a factor of 2 costs 1.5 orders of magnitude)."""


def hill_index(deviations: list[float]) -> float:
    """Hill's estimate of the Pareto tail index from the largest deviations (all > 0
    wanted; others are ignored), ``_FALLBACK_INDEX`` when it cannot be estimated."""
    positive = [d for d in deviations if d > 0]
    if len(positive) < 3:
        return _FALLBACK_INDEX
    floor = min(positive)
    spread = math.fsum(math.log(d / floor) for d in positive)
    return len(positive) / spread if spread > 0 else _FALLBACK_INDEX


class TrailingRank:
    """Tail probability of a value against the last ``window`` values learnt.

    ``two_sided=False``: ``log10 P(X >= x)``; ``two_sided=True``: ``log10 (2 * min(P(X >=
    x), P(X <= x)))``, capped at 0. The Pareto extensions measure how far past the record
    ``x`` is from the window's median (``from_median=True``, the default for two-sided:
    right for raw series values) or from 0 (right for a non-negative statistic such as a
    surprise or an absolute residual, the default for one-sided).

    Contract: `log10_sf` is pure (asking does not learn); it answers 0.0 (no evidence)
    until ``min_count`` values were learnt; it never returns a positive number or NaN for
    a finite ``x``. The tail indices are refitted every ``refit_every`` values learnt.
    """

    def __init__(
        self,
        window: int,
        *,
        two_sided: bool,
        from_median: bool | None = None,
        tail_fraction: float = 0.02,
        min_count: int = 50,
        refit_every: int = 50,
    ) -> None:
        if window < 10 or min_count < 1 or refit_every < 1:
            raise ValueError("window must be at least 10, min_count and refit_every positive")
        if not 0 < tail_fraction < 0.5:
            raise ValueError("tail_fraction must be in (0, 0.5)")
        self.window = window
        self.two_sided = two_sided
        self.from_median = two_sided if from_median is None else from_median
        self.tail_fraction = tail_fraction
        self.min_count = min_count
        self.refit_every = refit_every
        self._sorted: array[float] = array("d")
        self._ring: array[float] = array("d")  # arrival order, oldest at _head once full
        self._head = 0
        self._since_fit = refit_every
        self._median = 0.0
        self._upper_index = _FALLBACK_INDEX
        self._lower_index = _FALLBACK_INDEX

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def ready(self) -> bool:
        return len(self._sorted) >= self.min_count

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the window (nearest rank); raises if it is empty."""
        if not self._sorted:
            raise ValueError("no values yet")
        return self._sorted[min(len(self._sorted) - 1, max(0, int(q * len(self._sorted))))]

    def log10_sf(self, x: float) -> float:
        """log10 of the tail probability of ``x`` (see the class docstring)."""
        n = len(self._sorted)
        if n < self.min_count:
            return 0.0
        values = self._sorted
        at_or_above = n - bisect_left(values, x)
        if not self.two_sided:
            if at_or_above:
                return math.log10((at_or_above + 1) / (n + 1))
            return self._beyond(n, x - self._median, values[-1] - self._median, self._upper_index)
        at_or_below = bisect_right(values, x)
        if at_or_above and at_or_below:
            return min(0.0, _LOG10_2 + math.log10((min(at_or_above, at_or_below) + 1) / (n + 1)))
        if not at_or_above:
            return _LOG10_2 + self._beyond(
                n, x - self._median, values[-1] - self._median, self._upper_index
            )
        return _LOG10_2 + self._beyond(
            n, self._median - x, self._median - values[0], self._lower_index
        )

    @staticmethod
    def _beyond(n: int, deviation: float, record: float, index: float) -> float:
        """Past the record: the empirical 1/(n+1) times the Pareto factor."""
        base = -math.log10(n + 1)
        if record <= 0 or deviation <= record:
            # a record of 0 deviation (a constant window): any departure is new; take a
            # fixed factor rather than an infinite one so scores stay ordered and finite
            return base - (index * _LOG10_2 if deviation > record else 0.0)
        return base - index * math.log10(deviation / record)

    def add(self, x: float) -> None:
        """Learn ``x`` (finite values only: the caller filters gaps)."""
        if len(self._ring) < self.window:
            self._ring.append(x)
        else:
            old = self._ring[self._head]
            self._ring[self._head] = x
            self._head = (self._head + 1) % self.window
            del self._sorted[bisect_left(self._sorted, old)]
        insort(self._sorted, x)
        self._since_fit += 1
        if self._since_fit >= self.refit_every and len(self._sorted) >= self.min_count:
            self._fit()

    def _fit(self) -> None:
        values = self._sorted
        n = len(values)
        k = max(5, int(self.tail_fraction * n))
        self._median = values[n // 2] if self.from_median else 0.0
        if self.two_sided:
            self._lower_index = hill_index([self._median - v for v in values[:k]])
        self._upper_index = hill_index([v - self._median for v in values[n - k :]])
        self._since_fit = 0
