"""The README's main command: the embedded demo fires the crisis alerts and serves them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(180)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_demo_pages_the_storm_and_serves_the_search_page(tmp_path: Path) -> None:
    port, outbox = free_port(), tmp_path / "outbox"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stormwatch",
            "demo",
            "--fast",
            "--duration",
            "45",
            "--port",
            str(port),
            "--outbox",
            str(outbox),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    api = f"http://127.0.0.1:{port}"
    found: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                hits = httpx.get(f"{api}/api/search", params={"q": "boycott", "since": "6h"}).json()
                alerts = httpx.get(f"{api}/api/alerts", params={"since": "6h"}).json()
                if hits["total"] and alerts["total"] >= 3:
                    found = {"hits": hits, "alerts": alerts, "page": httpx.get(api).text}
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        out, _ = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert found, f"the search page never showed the storm\n{out}"
    assert "<title>stormwatch" in str(found["page"])
    fired = {line.split()[5] for line in out.splitlines() if "FIRING" in line}
    assert {"acme-crisis-words", "acme-negative-share", "acme-volume", "acme-spike"} <= fired, out
    assert f"search page: http://127.0.0.1:{port}" in out
    notes = [json.loads(p.read_text()) for p in outbox.glob("*.json")]
    assert notes, "notifications are written to the outbox"
    assert all(n.get("alert", n).get("brand") == "acme" for n in notes), notes[0]
