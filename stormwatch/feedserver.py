"""A local RSS server that plays a scenario: each item appears once its release time has
passed. Used by the embedded demo and by the end-to-end tests (a feed that turns angry).
Answers conditional GETs (ETag) like a well-behaved publisher."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from stormwatch.scenario import Item

_CET = timezone(timedelta(hours=1))


def render_rss(title: str, link: str, items: Sequence[Item]) -> bytes:
    entries = []
    for it in sorted(items, key=lambda i: i.published_at, reverse=True):
        # German posts carry a +0100 offset, English ones UTC: ingest must keep both.
        when = it.published_at.astimezone(_CET if it.language == "de" else UTC)
        entries.append(
            "<item>"
            f"<title>{escape(it.title)}</title>"
            f"<link>{escape(link)}/posts/{it.id}?utm_source=rss</link>"
            f'<guid isPermaLink="false">{it.id}</guid>'
            f"<author>{escape(it.author)}@example.com ({escape(it.author)})</author>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            f"<description>{escape('<p>' + escape(it.text) + '</p>')}</description>"
            "</item>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(title)}</description>{''.join(entries)}"
        "</channel></rss>"
    )
    return body.encode("utf-8")


class FeedServer:
    """Serves ``/feed.rss`` on 127.0.0.1 with the items released by ``now()``."""

    def __init__(
        self,
        items: Sequence[Item],
        now: Callable[[], datetime],
        title: str = "Acme chatter",
        port: int = 0,
        limit: int = 500,
    ) -> None:
        self.items = list(items)
        self._now = now
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if self.path.split("?")[0] != "/feed.rss":
                    self.send_error(404)
                    return
                now = server._now()
                released = [i for i in server.items if i.release <= now][-limit:]
                body = render_rss(title, server.url, released)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="feedserver", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def feed_url(self) -> str:
        return f"{self.url}/feed.rss"

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
