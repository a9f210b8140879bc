"""A Jetstream fake: a real WebSocket server (``websockets``, in a thread) serving
``/subscribe?wantedCollections=..&cursor=<time_us>`` with events in Jetstream's JSON:
every stored event at or after the cursor, in order, then per connection what its
`Plan` says (drop the connection abruptly, close it cleanly, or stay open)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request as WsRequest
from websockets.http11 import Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.ingest.harness import iso


@dataclass
class Plan:
    send: int
    """Events to send on this connection (from the cursor on)."""
    then: Literal["drop", "close", "stay"] = "drop"


class FakeJetstream:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.plans: list[Plan] = []
        self.cursors: list[int | None] = []
        self.collections: list[list[str]] = []
        self.release = threading.Event()
        self.refuse: list[tuple[int, dict[str, str]]] = []
        """Handshakes to answer with this HTTP status and headers instead (a 429)."""
        self._server: Server = serve(self._handle, "127.0.0.1", 0, process_request=self._gate)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/subscribe"

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()

    def post(
        self, time_us: int, text: str, n: int, created: datetime, **record: Any
    ) -> dict[str, Any]:
        event = {
            "did": f"did:plc:poster{n:04d}",
            "time_us": time_us,
            "kind": "commit",
            "commit": {
                "rev": f"3lrev{n:04d}",
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": f"3lpost{n:04d}",
                "record": {
                    "$type": "app.bsky.feed.post",
                    "createdAt": iso(created),
                    "langs": ["en"],
                    "text": text,
                    **record,
                },
                "cid": f"bafyreipost{n}",
            },
        }
        self.events.append(event)
        return event

    def other(self, time_us: int, kind: str = "identity") -> None:
        """A non-post event (identity, account, a like) that still moves the cursor."""
        if kind == "like":
            self.events.append(
                {
                    "did": "did:plc:liker",
                    "time_us": time_us,
                    "kind": "commit",
                    "commit": {
                        "rev": "r",
                        "operation": "create",
                        "collection": "app.bsky.feed.like",
                        "rkey": "3llike",
                        "record": {"$type": "app.bsky.feed.like"},
                        "cid": "c",
                    },
                }
            )
        else:
            self.events.append(
                {
                    "did": "did:plc:someone",
                    "time_us": time_us,
                    "kind": kind,
                    kind: {
                        "did": "did:plc:someone",
                        "handle": "someone.bsky.social",
                        "seq": 1,
                        "time": "2026-06-02T15:00:00.000Z",
                    },
                }
            )

    def _gate(self, ws: ServerConnection, request: WsRequest) -> Response | None:
        if not self.refuse:
            return None
        status, headers = self.refuse.pop(0)
        response = ws.respond(status, "Too Many Requests\n")
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        self.cursors.append(cursor)
        self.collections.append(query.get("wantedCollections", []))
        plan = self.plans.pop(0) if self.plans else Plan(send=10**6, then="stay")
        pending = [e for e in self.events if cursor is None or e["time_us"] >= cursor]
        for event in pending[: plan.send]:
            ws.send(json.dumps(event))
        if plan.then == "drop":
            ws.socket.shutdown(socket.SHUT_RDWR)  # no close frame: a broken connection
        elif plan.then == "close":
            ws.close()
        else:
            while not self.release.wait(0.05):
                if ws.state.name == "CLOSED":
                    return
