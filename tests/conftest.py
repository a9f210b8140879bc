"""Fixtures shared by every tier.

Tests that need real servers take ``kafka_bootstrap`` or ``es_url``. The addresses come
from ``STORMWATCH_TEST_KAFKA`` / ``STORMWATCH_TEST_ES`` (``bash deploy/local/servers.sh
env`` prints them). Without them a test is skipped locally, but fails under ``CI=true``:
CI never passes by skipping the tests that matter.
"""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest


def _missing(env: str) -> None:
    msg = (
        f"{env} is not set: run `bash deploy/local/servers.sh start` and "
        "`eval $(bash deploy/local/servers.sh env)` (the README's test command does both)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a real server is missing: {msg}")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    addr = os.environ.get("STORMWATCH_TEST_KAFKA")
    if not addr:
        _missing("STORMWATCH_TEST_KAFKA")
        raise AssertionError("unreachable")
    host, _, port = addr.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        pytest.fail(f"STORMWATCH_TEST_KAFKA={addr} is set but not reachable: {exc}")
    return addr


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("STORMWATCH_TEST_ES")
    if not url:
        _missing("STORMWATCH_TEST_ES")
        raise AssertionError("unreachable")
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=10) as resp:
            resp.read()
    except OSError as exc:
        pytest.fail(f"STORMWATCH_TEST_ES={url} is set but not reachable: {exc}")
    return url
