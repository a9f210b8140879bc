"""Instruments of bench/pipeline.py: the Slack stand-in that timestamps arrivals,
percentiles, and peak memory of a process."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_WORD = re.compile(r"[a-z]+")


class SlackReceiver:
    """A stand-in for Slack's incoming webhook on 127.0.0.1: answers ``ok`` and records,
    for each watched word (a probe brand id) found in a payload, when the first payload
    naming it arrived (``time.time()``, the end point of the latency measurement)."""

    def __init__(self, watch: Iterable[str]) -> None:
        self.watch = set(watch)
        self.first: dict[str, float] = {}
        self.payloads = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.record(body, arrived)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T0/B0/bench"

    def record(self, body: bytes, arrived: float) -> None:
        found = self.words(body) & self.watch
        with self._lock:
            self.payloads += 1
            for word in found:
                self.first.setdefault(word, arrived)

    def reset(self) -> None:
        """Forget what arrived so far (before a new measurement)."""
        with self._lock:
            self.first.clear()
            self.payloads = 0

    @staticmethod
    def words(body: bytes) -> set[str]:
        try:
            text = json.dumps(json.loads(body), ensure_ascii=False).lower()
        except ValueError:
            text = body.decode("utf-8", "replace").lower()
        return set(_WORD.findall(text))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks
    (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> str:
    """``p50 / p95 / p99 / max`` of seconds, printed in milliseconds."""
    if not values:
        return "no values"
    ps = [percentile(values, p) * 1000 for p in (50, 95, 99)]
    return (
        f"p50 {ps[0]:7.1f} ms  p95 {ps[1]:7.1f} ms  p99 {ps[2]:7.1f} ms  "
        f"max {max(values) * 1000:7.1f} ms"
    )


def status_kb(pid: int | str, field: str) -> int | None:
    """A ``kB`` field (``VmHWM``, ``VmRSS``) of /proc/<pid>/status; None where unreadable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return parse_status_kb(text, field)


def parse_status_kb(text: str, field: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(field + ":"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
    return None


def reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def mib(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:,.0f} MiB"


def peak_rss(since_reset: bool) -> str:
    """This process's peak RSS, saying so where it could not be reset (`reset_peak`): then
    it is the peak since the process started, earlier runs included."""
    peak = mib(status_kb("self", "VmHWM"))
    return peak if since_reset else f"{peak} (since the process started: no reset here)"
