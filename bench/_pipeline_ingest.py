"""Ingest throughput: one large RSS feed served on 127.0.0.1, polled once by the real
`ingest.IngestService` (fetch, feedparser, normalisation, dedup state, produce to the
embedded bus), beside `ingest.parse_feed` alone on the same document."""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench._pipeline_stream import synthetic_stream
from core.bus.embedded import EmbeddedBus
from core.clock import SystemClock
from core.watchlist import Brand, Feed, Watchlist
from ingest import IngestService, IngestSettings, parse_feed
from stormwatch.feedserver import render_rss
from stormwatch.scenario import Item


def big_feed(n: int, seed: int) -> bytes:
    """An RSS document of ``n`` items from the synthetic stream, published in the last
    ``n`` minutes (inside ingest's dedup retention)."""
    now = datetime.now(UTC)
    items = [
        Item(
            id=f"item-{i}",
            title=m.text[:60],
            text=m.text,
            author=m.author or "someone",
            language="en",
            published_at=now - timedelta(minutes=i),
            release=now,
            storm=False,
        )
        for i, m in enumerate(synthetic_stream(n, seed=seed))
    ]
    return render_rss("bench feed", "http://127.0.0.1/bench", items)


class _Server:
    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/feed.rss"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass(frozen=True)
class IngestRate:
    items: int
    megabytes: float
    produced: int
    poll_seconds: float
    parse_seconds: float


def measure(n: int, seed: int = 5) -> IngestRate:
    body = big_feed(n, seed)
    t0 = time.perf_counter()
    parsed, _ = parse_feed(
        body, feed_name="bench", base_url="http://127.0.0.1/", fetched_at=datetime.now(UTC)
    )
    parse_seconds = time.perf_counter() - t0
    server = _Server(body)
    feed = Feed(
        name="bench",
        url=server.url,
        interval=timedelta(hours=1),
        timeout=timedelta(minutes=5),
        max_bytes=max(len(body) * 2, 1024),
    )
    watchlist = Watchlist(brands=(Brand(id="acme", name="Acme"),), feeds=(feed,))
    settings = IngestSettings(first_poll_jitter=timedelta(0))
    bus = EmbeddedBus()
    with tempfile.TemporaryDirectory() as tmp, httpx.Client() as http:
        service = IngestService(
            watchlist, settings, bus.producer(), Path(tmp) / "ingest.db", SystemClock(), http
        )
        try:
            t0 = time.perf_counter()
            produced = service.poll_due()
            poll_seconds = time.perf_counter() - t0
        finally:
            service.close()
            server.stop()
    assert len(parsed) == n, f"parsed {len(parsed)} of {n} items"
    return IngestRate(n, len(body) / 1e6, len(produced), poll_seconds, parse_seconds)
