"""Fixtures of the ingest tests: a real feed server, a real API server for the platform
fakes, a closed port, a manual clock, and a harness that builds services."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.bus.embedded import EmbeddedBus
from core.clock import ManualClock
from tests.ingest.apiserver import ApiServer
from tests.ingest.documents import START
from tests.ingest.feedserver import FeedServer
from tests.ingest.harness import Harness


@pytest.fixture
def server() -> Iterator[FeedServer]:
    s = FeedServer()
    yield s
    s.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def bus() -> EmbeddedBus:
    return EmbeddedBus()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ingest.db"


@pytest.fixture
def api(clock: ManualClock) -> Iterator[ApiServer]:
    s = ApiServer()
    s.now = clock.now()
    yield s
    s.stop()


@pytest.fixture
def harness(state_path: Path, clock: ManualClock, http: httpx.Client) -> Iterator[Harness]:
    h = Harness(state_path, clock, http)
    yield h
    h.close()
