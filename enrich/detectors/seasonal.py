"""Is this value unusual for this time of day? A daily profile learnt online.

Many series (mention volumes above all) follow the clock: a count that is ordinary at
noon is a burst at 3 a.m. `DailyProfile` keeps one exponentially weighted average per
time-of-day slot (the slot width is the series' step, inferred from the first two
timestamps) and one scale of the residuals (an EW root mean square over all slots), and
reports the residual of a value in units of that scale. A series without a daily rhythm
costs nothing but a slightly noisier residual; one with it gains a baseline that follows
the clock.
"""

from __future__ import annotations

import math
from datetime import datetime

_DAY_S = 86_400.0


class DailyProfile:
    """Time-of-day baseline: ``slot_alpha`` is the weight of today's value in its slot
    (0.1: a slot forgets half of what it learnt in about a week), ``scale_alpha`` the
    weight of one residual in the shared scale.

    Contract: `residual` is pure and None until the slot of ``when`` has been learnt at
    least once (and a scale exists); timestamps must be timezone-consistent (naive or
    aware, as given) and the step is fixed by the first two distinct ones, at least 1 s
    and at most a day (coarser series get one slot: no profile).
    """

    def __init__(self, slot_alpha: float = 0.1, scale_alpha: float = 0.01) -> None:
        if not (0 < slot_alpha <= 1 and 0 < scale_alpha <= 1):
            raise ValueError("slot_alpha and scale_alpha must be in (0, 1]")
        self.slot_alpha = slot_alpha
        self.scale_alpha = scale_alpha
        self._step: float | None = None
        self._first: datetime | None = None
        self._slots: dict[int, float] = {}
        self._mean_square = 0.0
        self._residuals = 0

    def _slot(self, when: datetime) -> int | None:
        if self._step is None:
            return None
        seconds = when.hour * 3600 + when.minute * 60 + when.second + when.microsecond / 1e6
        return int(seconds // self._step)

    def residual(self, x: float, when: datetime) -> float | None:
        """``(x - slot average) / scale``, signed; None while it cannot be told."""
        slot = self._slot(when)
        if slot is None or self._residuals < 2:
            return None
        expected = self._slots.get(slot)
        if expected is None:
            return None
        return (x - expected) / max(math.sqrt(self._mean_square), 1e-12)

    def learn(self, x: float, when: datetime) -> None:
        if self._step is None:
            if self._first is None:
                self._first = when
                return
            gap = (when - self._first).total_seconds()
            if gap <= 0:
                return
            self._step = min(max(gap, 1.0), _DAY_S)
        slot = self._slot(when)
        assert slot is not None
        expected = self._slots.get(slot)
        if expected is None:
            self._slots[slot] = x
            return
        # plain mean while few residuals exist, then the EW weight takes over
        a = max(self.scale_alpha, 1.0 / (self._residuals + 1))
        self._mean_square += a * ((x - expected) ** 2 - self._mean_square)
        self._residuals += 1
        self._slots[slot] = expected + self.slot_alpha * (x - expected)
