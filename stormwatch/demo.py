"""``stormwatch demo``: the whole pipeline in one process on the embedded bus and store.

A local feed server plays the bundled crisis scenario (stormwatch.scenario); the real
RSS ingester polls it, enrich/rules/alerting/index run as they do in production, alerts
are printed as they fire and written to an outbox folder (and sent to Slack or email
when the settings configure those receivers), and the search page is served.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import click

from alerting.settings import AlertingSettings, OutboxReceiver
from core import topics
from core.bus.embedded import EmbeddedBus
from core.clock import SystemClock
from core.records import Alert, InvalidRecord, decode
from core.stage import StageLoop
from core.store.sqlite import SqliteStore
from core.watchlist import Brand, Feed, Watchlist
from dashboards.settings import DashboardSettings
from ingest.settings import IngestSettings
from rules import EXAMPLES_DIR, format_alert, load_rules
from stormwatch import scenario
from stormwatch.config import App, AppSettings
from stormwatch.feedserver import FeedServer
from stormwatch.wiring import GROUP, STAGES, Call, Runtime, run_workers


def demo_watchlist(feed_url: str) -> Watchlist:
    return Watchlist(
        brands=(
            Brand(
                id="acme",
                name="Acme",
                aliases=("Acme Corp", "ACME Inc"),
                handles=("@acme", "@acme_support"),
                hashtags=("#acme", "#boycottacme"),
                exclude=("Acme Corp careers",),
                competitors=("globex",),
            ),
            Brand(id="globex", name="Globex", hashtags=("#globex",)),
        ),
        feeds=(Feed(name="acme-chatter", url=feed_url, interval=timedelta(seconds=1)),),
    )


def demo_app(base: AppSettings, feed_url: str, state_dir: Path, outbox: Path, port: int) -> App:
    """The demo's configuration: the bundled watchlist and example rules, embedded
    adapters, every receiver the rules name that the settings do not define writing to
    ``outbox``, and the user's Slack/email receivers where they configured them."""
    ruleset = load_rules([EXAMPLES_DIR])
    receivers = dict(base.alerting.receivers)
    receivers.pop("outbox", None)
    for name in sorted(ruleset.receivers | {"outbox"}):
        receivers.setdefault(name, OutboxReceiver(type="outbox", path=outbox))
    dashboards = DashboardSettings(host="127.0.0.1", port=port)
    alerting = AlertingSettings.model_validate(
        {
            **base.alerting.model_dump(exclude={"receivers"}),
            "receivers": receivers,
            "search_url": dashboards.url() + "/?brand={brand}&since=3h",
        }
    )
    settings = base.model_copy(
        update={
            "state_dir": state_dir,
            "alerting": alerting,
            "dashboards": dashboards,
            "ingest": IngestSettings.model_validate(
                {**base.ingest.model_dump(), "first_poll_jitter": 0}
            ),
        }
    )
    return App(settings, demo_watchlist(feed_url), ruleset, "demo")


def _alert_printer(
    bus: EmbeddedBus, echo: Callable[[str], None]
) -> Callable[[threading.Event], None]:
    def run(stop: threading.Event) -> None:
        with bus.consumer(f"{GROUP}.demo-printer", [topics.ALERTS]) as consumer:
            while not stop.is_set():
                for message in consumer.poll(timeout=0.2):
                    try:
                        alert = decode(message.value, Alert)
                    except InvalidRecord:
                        continue
                    colour = "red" if alert.state.value == "firing" else "green"
                    echo(click.style(format_alert(alert), fg=colour, bold=True))
                consumer.commit()

    return run


def _progress(loops: dict[str, StageLoop], released: int, total: int, seconds: float) -> str:
    return (
        f"  [{seconds:5.0f}s] feed {released:4d}/{total}"
        f" · enriched {loops['enrich-match'].processed:4d}"
        f" · rules {loops['rules'].processed:4d}"
        f" · alerts {loops['alerting'].processed:3d}"
        f" · indexed {loops['index'].processed:4d}"
    )


def run_demo(
    base: AppSettings, port: int, duration: float | None, outbox: Path, fast: bool = False
) -> int:
    """Play the scenario through every stage; returns the exit code."""
    clock = SystemClock()
    echo = click.echo
    start = clock.now()
    items = (
        scenario.build(
            start, storm_after=timedelta(seconds=4), storm_duration=timedelta(seconds=15)
        )
        if fast
        else scenario.build(start)
    )
    storm = [i for i in items if i.storm]
    feed = FeedServer(items, clock.now).start()
    state_dir = Path(tempfile.mkdtemp(prefix="stormwatch-demo-"))
    outbox.mkdir(parents=True, exist_ok=True)
    earlier = set(outbox.glob("*.json"))  # an earlier run's pages are not this one's
    app = demo_app(base, feed.feed_url, state_dir, outbox, port)
    bus = EmbeddedBus(default_partitions=4)
    runtime = Runtime(app, clock, bus=bus, store=SqliteStore(state_dir / "store.db"))
    runtime.prepare(STAGES)
    stop = threading.Event()
    workers = [w for stage in STAGES for w in runtime.workers(stage)]
    echo(
        f"stormwatch demo: the brand 'acme' is chatted about normally "
        f"({sum(not i.storm for i in items)} posts in EN/DE), then a storm of "
        f"{len(storm)} angry posts arrives, starting in "
        f"{(storm[0].release - start).total_seconds():.0f}s."
    )
    echo(f"  feed:        {feed.feed_url}")
    echo(f"  search page: {app.settings.dashboards.url()}")
    echo(f"  outbox:      {outbox}")
    crashes: list[str] = []
    threads = run_workers(
        [*workers, Call("demo-printer", _alert_printer(bus, echo))], stop, crashes
    )
    loops = {loop.name: loop for loop in runtime.loops}
    tty = sys.stdout.isatty()
    try:
        while not stop.is_set():
            now = clock.now()
            released = sum(i.release <= now for i in items)
            line = _progress(loops, released, len(items), (now - start).total_seconds())
            echo("\r" + line if tty else line, nl=not tty)
            if duration is not None and (now - start).total_seconds() >= duration:
                break
            if duration is None and now > storm[-1].release + timedelta(seconds=10):
                echo(
                    f"\nThe storm has been paged (see {outbox}). The search page stays up on "
                    f"{app.settings.dashboards.url()} — Ctrl-C to stop."
                )
                duration = float("inf")
            time.sleep(1.0 if tty else 5.0)
    except KeyboardInterrupt:
        pass
    finally:
        echo("")
        stop.set()
        for t in threads:
            t.join(timeout=10)
        feed.stop()
        runtime.close()
        shutil.rmtree(state_dir, ignore_errors=True)
    echo(f"{len(set(outbox.glob('*.json')) - earlier)} notification(s) in {outbox}")
    if crashes:
        echo(f"Error: {'; '.join(crashes)}", err=True)
        return 1
    return 0
