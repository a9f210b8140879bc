"""A real HTTP/1.1 server on 127.0.0.1 for the platform fakes of the ingest tests.

A route is a function of the `Request` returning a `Reply` (JSON or any body) or a
`Streamed` response: chunked transfer encoding written piece by piece, as Mastodon's
streaming server and X's filtered stream do. A streamed response that ends with
``drop=True`` closes the socket without the final chunk (a dropped connection); else it
ends cleanly. The ``Date`` header is the fake's ``now`` (the tests' clock), so rate-limit
resets given as epochs are measured deterministically.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Streamed:
    chunks: Iterable[bytes]
    content_type: str
    drop: bool = False
    """End by closing the socket mid-body (no final chunk)."""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Request], Reply | Streamed]


class ApiServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.release = threading.Event()
        self.now: datetime = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def calls(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return format_datetime(server.now.astimezone(UTC), usegmt=True)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            server.requests.append(request)
            route = server.routes.get(parts.path)
            answer = route(request) if route else Reply({"error": "not found"}, 404)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if isinstance(answer, Streamed):
                    self._stream(answer)
                else:
                    self._reply(answer)

        def _reply(self, reply: Reply) -> None:
            body = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _stream(self, streamed: Streamed) -> None:
            self.send_response(200)
            self.send_header("Content-Type", streamed.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            for name, value in streamed.headers.items():
                self.send_header(name, value)
            self.end_headers()
            for chunk in streamed.chunks:
                if server.release.is_set():
                    break
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
            if streamed.drop:
                self.close_connection = True
                self.wfile.flush()
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler
