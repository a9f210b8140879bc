"""A real HTTP server on 127.0.0.1 that serves the feeds the ingest tests write.

Each path is a `Route`; a test changes a route's fields between polls to make the
"remote" feed change, fail or recover. Every request's headers are recorded per path.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Behaviour = Literal["normal", "hang", "stream", "declare-huge", "trickle"]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: Behaviour = "normal"


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: dict[str, list[dict[str, str]]] = {}
        self.release = threading.Event()
        self.streamed: dict[str, int] = {}
        handler = _handler_for(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        return len(self.requests.get(path, []))

    def last_request(self, path: str) -> dict[str, str]:
        return self.requests[path][-1]

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = self.path
            server.requests.setdefault(path, []).append(
                {k.lower(): v for k, v in self.headers.items()}
            )
            route = server.routes.get(path)
            if route is None:
                self.send_error(404)
                return
            # the client gives up on huge and slow bodies, as it should
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._serve(path, route)

        def _serve(self, path: str, route: Route) -> None:
            if route.behaviour == "hang":
                server.release.wait(30)
                return
            if route.behaviour in {"stream", "trickle", "declare-huge"}:
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                if route.behaviour == "declare-huge":
                    self.send_header("Content-Length", str(10**9))
                self.end_headers()
                self._stream(path, route.behaviour)
                return
            if route.status == 200 and self._not_modified(route):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(route.body)

        def _not_modified(self, route: Route) -> bool:
            etag = self.headers.get("If-None-Match")
            since = self.headers.get("If-Modified-Since")
            if not (etag or since):
                return False
            return (not etag or etag == route.etag) and (not since or since == route.last_modified)

        def _stream(self, path: str, behaviour: str) -> None:
            chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
            sent = 0
            for _ in range(800):  # up to ~50 MB, far beyond any limit in the tests
                if server.release.is_set():
                    return
                if behaviour == "trickle":
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    server.release.wait(0.05)
                else:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                server.streamed[path] = sent

    return Handler
