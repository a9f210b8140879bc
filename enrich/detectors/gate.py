"""One report per episode: after a reading is reported, stay quiet unless it gets worse.

An anomaly is an episode, not a point: a burst of mentions stays high for a while, and a
detector that reports every point of it pages the on-call team again and again (and, on
NAB, pays a false positive for each report after the labelled window). `EpisodeGate`
reports a surprise only if no report was made in the last ``rest`` steps, or if it beats
the last report by ``margin`` orders of magnitude (the episode got clearly worse). It
needs no threshold: what counts as a report for a user is decided downstream, the gate
only keeps the loudest point of each episode.
"""

from __future__ import annotations


class EpisodeGate:
    """Contract: `admits` is pure; `step` advances one time step and says whether
    ``surprise`` was reported (and, if so, remembers it)."""

    def __init__(self, rest: int = 100, margin: float = 0.4) -> None:
        if rest < 0 or margin < 0:
            raise ValueError("rest and margin must not be negative")
        self.rest = rest
        self.margin = margin
        self._last = 0.0
        self._since = rest + 1  # nothing reported yet

    def admits(self, surprise: float) -> bool:
        """Whether ``surprise`` would be reported at the next step."""
        return self._since + 1 > self.rest or surprise > self._last + self.margin

    def step(self, surprise: float) -> bool:
        reported = self.admits(surprise)
        self._since += 1
        if reported:
            self._last = surprise
            self._since = 0
        return reported

    def skip(self) -> None:
        """A step with no reading (a gap): time passes, nothing is reported."""
        self._since += 1
