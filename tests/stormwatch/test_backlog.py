"""A burst that reached the bus while the pipeline was down pages when it comes back.

Every stage restarts with a backlog: the rules stage empties its input long before the
match step has read the burst, so "caught up" with its own topic must not mean "now is
the wall clock" (that put the burst outside every window). The stages are the shipped
ones, wired as `stormwatch run` wires them, on the embedded bus and the system clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import topics
from core.bus.embedded import EmbeddedBus
from core.records import Alert, AlertState, Mention, decode, encode
from stormwatch.config import load_app
from stormwatch.wiring import Runtime, run_workers

pytestmark = pytest.mark.timeout(120)

SETTINGS = """
state_dir: state
watchlist: watchlist.yaml
rules: [rules.yaml]
bus: {adapter: embedded, embedded: {partitions: 3}}
store: {adapter: embedded, embedded: {path: state/store.db}}
alerting:
  receivers: {outbox: {type: outbox, path: outbox}}
  default_receivers: [outbox]
"""
WATCHLIST = "brands:\n  - {id: acme, name: Acme}\n"
RULES = """
rules:
  - {name: acme-volume, type: volume, brands: [acme], window: 10m, threshold: 30}
"""


def mention(n: int, when: datetime) -> Mention:
    return Mention(
        source="rss",
        source_name="news",
        url=f"https://news.example.com/acme/{n}",
        title=f"Acme recall {n}",
        text="Acme recalls its kettles after reports of fires in three countries.",
        published_at=when,
        fetched_at=when,
    )


def test_a_burst_backlogged_while_the_pipeline_was_down_pages_at_its_own_time(
    tmp_path: Path,
) -> None:
    for name, text in (
        ("stormwatch.yaml", SETTINGS),
        ("watchlist.yaml", WATCHLIST),
        ("rules.yaml", RULES),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    app = load_app(tmp_path / "stormwatch.yaml")
    bus = EmbeddedBus(default_partitions=3)
    start = datetime.now(UTC) - timedelta(minutes=40)
    with bus.producer() as producer:  # 40 burst mentions over 4 minutes, 40 minutes ago
        for n in range(40):
            m = mention(n, start + timedelta(seconds=6 * n))
            producer.send(topics.RAW, encode(m), m.id.encode())
        producer.flush()

    runtime = Runtime(app, bus=bus)
    runtime.prepare(["enrich", "rules", "alerting"])
    workers = [w for stage in ("enrich", "rules", "alerting") for w in runtime.workers(stage)]
    stop = threading.Event()
    threads = run_workers(workers, stop)
    try:
        deadline = time.monotonic() + 90
        alerts: list[Alert] = []
        pages: list[Path] = []
        while not pages and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.2)
            alerts = [decode(m.value, Alert) for m in bus.read_topic(topics.ALERTS)]
            pages = sorted((tmp_path / "outbox").glob("*firing*.txt"))
        matched = sum(loop.processed for loop in runtime.loops if loop.name == "rules")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        runtime.close()
    assert alerts, f"no alert after the rules stage handled {matched} of 40 mentions"
    fired = alerts[0]
    assert fired.state is AlertState.FIRING and fired.rule == "acme-volume"
    # at the time of the storm (the partitions are read in turn, so the 30th mention
    # counted may be a later one of the burst), not of the restart
    assert start + timedelta(seconds=6 * 29) <= fired.at <= start + timedelta(seconds=6 * 39)
    # and the page says that it comes late, and when the alert fired
    assert pages, "the alert fired but was not paged"
    page = pages[0].read_text(encoding="utf-8")
    assert (
        "Late:      sent 3" in page and f"after it fired at {fired.at:%Y-%m-%dT%H:%M:%SZ}" in page
    )
