"""Every source kind at once, against local servers speaking each platform's protocol
(tests/e2e/sources_world.py): in production mode (``stormwatch run ingest`` on real
Kafka, then ``stormwatch sources status``) and in the embedded demo (found through the
search API).

Each producing source is seeded with posts naming Acme, and must deliver exactly those:
a source that silently produces nothing, or produces a post twice, fails the test. One
rate-limited source (429 + Retry-After) and one stream whose server is down must show
as failing in the status while every other source is healthy.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import topics
from core.bus.kafka import KafkaBus
from core.records import Mention, decode
from core.settings import KafkaSettings
from tests.e2e.sources_world import ENV, POSTS, RSS_FEED, SourcesWorld

pytestmark = pytest.mark.timeout(180)

HEALTHY = {"poll": "ok", "stream": "connected"}
"""The STATE column of a healthy source, per MODE."""
UNHEALTHY = {"poll": "failing (", "stream": "reconnecting ("}
"""How the STATE column of a failing source starts, per MODE."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A ``python -m stormwatch`` process, its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stormwatch", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **ENV, "PYTHONUNBUFFERED": "1"},
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return f"--- {self.log.name}\n{self.output()[-4000:]}"

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed after 30 s: a test failure elsewhere)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"did not stop within 30s of SIGTERM\n{self.tail()}") from None


def wait_for(
    what: str,
    condition: Callable[[], bool],
    timeout: float,
    proc: Process,
    seen: Callable[[], object] = lambda: "",
) -> None:
    """Poll ``condition`` until it holds; fail at once if ``proc`` exits, saying what
    was ``seen`` last."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.proc.poll() is not None:
            problem = f"exited ({proc.proc.returncode})"
        elif time.monotonic() > deadline:
            problem = f"timed out after {timeout:.0f}s"
        else:
            time.sleep(0.5)
            continue
        pytest.fail(f"{problem} waiting for {what}\nlast seen: {seen()}\n{proc.tail()}")


@pytest.fixture
def world() -> Iterator[SourcesWorld]:
    with SourcesWorld() as w:
        yield w


# -- production mode ------------------------------------------------------------------------


def raw_mentions(bus: KafkaBus) -> list[Mention]:
    out = []
    for message in bus.read_topic(topics.RAW):
        mention = decode(message.value, Mention)
        assert message.key == mention.id.encode(), "mentions.raw is keyed by mention id"
        out.append(mention)
    return out


def sources_status(settings: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """``stormwatch sources status`` as a process: its output and its rows by NAME."""
    done = subprocess.run(
        [sys.executable, "-m", "stormwatch", "--settings", str(settings), "sources", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # columns are separated by two spaces or more, and no cell is empty ("-", "never")
    header, *lines = [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines()]
    assert header == [
        "NAME",
        "KIND",
        "MODE",
        "STATE",
        "LAST SUCCESS",
        "ITEMS/MIN",
        "LAG",
        "LAST ERROR",
    ]
    rows = {}
    for cells in lines:
        assert len(cells) == len(header), done.stdout
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return done.stdout, rows


def settled(world: SourcesWorld, rows: dict[str, dict[str, str]]) -> bool:
    """Every producing source healthy, every broken one failing."""
    healthy = all(
        rows.get(name, {}).get("STATE") == HEALTHY[e.mode] for name, e in world.producing.items()
    )
    failing = all(
        rows.get(name, {}).get("STATE", "").startswith(UNHEALTHY[mode])
        for name, mode in world.failing.items()
    )
    return healthy and failing and rows.get(RSS_FEED, {}).get("STATE") == "ok"


def test_run_ingest_with_every_source_on_kafka(
    world: SourcesWorld, kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"e2e-sources-{uuid.uuid4().hex[:8]}."
    (tmp_path / "watchlist.yaml").write_text(world.watchlist_yaml())
    settings = world.write_settings(
        tmp_path / "stormwatch.yaml",
        bus={
            "adapter": "kafka",
            "kafka": {
                "bootstrap_servers": [kafka_bootstrap],
                "topic_prefix": prefix,
                "partitions": 3,
            },
        },
        state_dir="state",
        watchlist="watchlist.yaml",
    )
    bus = KafkaBus(KafkaSettings(bootstrap_servers=(kafka_bootstrap,), topic_prefix=prefix))
    expected = {name: e.count for name, e in world.producing.items()} | {RSS_FEED: POSTS}
    ingest = Process(["--settings", str(settings), "-v", "run", "ingest"], tmp_path / "ingest.log")
    try:
        seen: Counter[str] = Counter()

        def every_source_delivered() -> bool:
            seen.clear()
            seen.update(m.source_name for m in raw_mentions(bus))
            return all(seen[name] >= n for name, n in expected.items())

        wait_for(
            f"mentions from every source on mentions.raw: {expected}",
            every_source_delivered,
            60,
            ingest,
            lambda: dict(seen),
        )

        # sources status, from another process, while ingest runs
        last = [""]

        def status_settled() -> bool:
            last[0], rows = sources_status(settings)
            return settled(world, rows)

        wait_for(
            "every source's health in `sources status`",
            status_settled,
            20,
            ingest,
            lambda: "\n" + last[0],
        )
        table, rows = sources_status(settings)
        for name, e in world.producing.items():
            row = rows[name]
            assert (row["KIND"], row["MODE"], row["LAST ERROR"]) == (e.kind, e.mode, "-"), table
            assert row["LAST SUCCESS"].endswith("s ago"), table  # seconds ago
            assert row["LAG"] != "-", table  # the newest item's age is known
        assert rows["hn-limited"]["STATE"].startswith("failing (1), next in 59m"), table
        assert "429" in rows["hn-limited"]["LAST ERROR"], table
        assert "refused" in rows["mastodon-down"]["LAST ERROR"].lower(), table
        assert (
            rows["hn-limited"]["LAST SUCCESS"] == rows["mastodon-down"]["LAST SUCCESS"] == "never"
        )
    finally:
        code = ingest.stop()
        bus.close()
    assert code == 0, ingest.tail()
    # stopped: no stream may still claim a connection
    table, rows = sources_status(settings)
    streams = [n for n, e in world.producing.items() if e.mode == "stream"]
    assert all(rows[n]["STATE"] != "connected" for n in streams), table

    # Exactly the seeded posts, each once, from the right kind: nothing lost, nothing
    # doubled, no post of the firehose that names no brand, nothing from a broken source.
    mentions = raw_mentions(bus)
    assert Counter(m.source_name for m in mentions) == Counter(expected), ingest.tail()
    assert len({m.id for m in mentions}) == len(mentions)
    kinds = {name: e.kind for name, e in world.producing.items()} | {RSS_FEED: "rss"}
    for m in mentions:
        assert m.source == kinds[m.source_name], m
        assert "acme" in f"{m.title} {m.text}".lower(), m
    log = ingest.output()
    assert "Traceback" not in log, ingest.tail()
    assert not [secret for secret in ENV.values() if secret in log], "a credential was logged"


# -- the embedded demo ----------------------------------------------------------------------


def search(api: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{api}/api/search", params={"since": "7d", "size": 0, **params}, timeout=10)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def test_the_demo_runs_every_configured_source(world: SourcesWorld, tmp_path: Path) -> None:
    settings = world.write_settings(tmp_path / "stormwatch.yaml")
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    demo = Process(
        [
            "--settings",
            str(settings),
            "demo",
            "--fast",
            "--duration",
            "35",
            "--port",
            str(port),
            "--outbox",
            str(tmp_path / "outbox"),
        ],
        tmp_path / "demo.log",
    )
    try:
        # The facet lists the top 10 terms only, and there are more sources: ask per source.
        indexed: dict[str, int] = {}

        def every_source_indexed() -> bool:
            try:
                for name, e in world.producing.items():
                    if indexed.get(name, 0) < e.count:
                        indexed[name] = search(api, source_name=name)["total"]
            except httpx.HTTPError:  # not serving yet
                return False
            return all(indexed[name] >= e.count for name, e in world.producing.items())

        wait_for(
            "every source's mentions on the demo's search API",
            every_source_indexed,
            30,
            demo,
            lambda: indexed,
        )
        for name, e in world.producing.items():
            found = search(api, source_name=name, brand="acme")
            assert found["total"] == e.count, (name, found["total"])
            assert found["facets"]["source"] == [{"term": e.kind, "count": e.count}], name
        for name in world.failing:
            assert search(api, source_name=name)["total"] == 0
        demo.proc.wait(60)  # --duration ends it
    finally:
        code = demo.stop()
    assert code == 0, demo.tail()
    log = demo.output()
    assert "Traceback" not in log, demo.tail()
    assert not [secret for secret in ENV.values() if secret in log], "a credential was logged"
