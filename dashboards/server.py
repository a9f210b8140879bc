"""Serving the search app with uvicorn, stoppable from another thread."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette


class WebServer:
    """uvicorn in a background thread; `start` returns once it listens."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="dashboards", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the search server did not start (is the port in use?)")
            time.sleep(0.02)

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("not listening")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
