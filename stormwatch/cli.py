"""The ``stormwatch`` command."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.bus import BusError, open_bus
from core.bus.embedded import BusInUse
from core.config import ConfigError, read_text
from core.records import EnrichedMention, InvalidRecord, Mention, decode
from core.settings import SETTINGS_ENV
from core.store import StoreError, open_store
from core.watchlist import load_watchlist
from stormwatch import __version__
from stormwatch.config import App, AppSettings, load_app, load_app_settings, rule_files

if TYPE_CHECKING:
    from rules import RuleSet

#: Client libraries that log every failed connection attempt; we report failures ourselves.
_CHATTY = ("kafka", "elastic_transport", "urllib3", "elasticsearch", "httpx", "httpcore")


def setup_logging(verbose: int) -> None:
    """Default: warnings; -v: our info; -vv: our debug and the client libraries' warnings."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING if verbose >= 2 else logging.CRITICAL)


class Context:
    def __init__(self, settings_path: Path | None) -> None:
        self.settings_path = settings_path

    def settings(self) -> AppSettings:
        try:
            return load_app_settings(self.settings_path)[0]
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def app(self) -> App:
        try:
            return load_app(self.settings_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def rules(self) -> RuleSet:
        """The settings' rules, loaded without a watchlist."""
        from rules import load_rules

        try:
            settings, base = load_app_settings(self.settings_path)
            return load_rules(rule_files(settings.rules, base, str(self.settings_path)))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stormwatch")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=SETTINGS_ENV,
    help=f"Settings YAML (bus, store, watchlist, rules, receivers...). Default: ${SETTINGS_ENV}, "
    "else everything embedded.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, settings_path: Path | None, verbose: int) -> None:
    """stormwatch: hear what the web says about your brand, and be paged when a storm starts.

    Start with `stormwatch demo`. In production each stage runs as its own process
    (`stormwatch run ingest|enrich|rules|alerting|index|dashboards`) on Kafka and
    Elasticsearch, as the settings file says.
    """
    setup_logging(verbose)
    ctx.obj = Context(settings_path)


@cli.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate the settings (and the watchlist and rules they name), connect to the bus
    and the store, and say what is reachable. Exit 1 if anything is not."""
    settings = obj.settings()
    where = obj.settings_path or "none (built-in defaults: everything embedded)"
    click.echo(f"settings: {where}")
    if settings.watchlist is not None:
        app = obj.app()
        click.echo(
            f"watchlist: {len(app.watchlist.brands)} brand(s), {len(app.watchlist.feeds)} feed(s)"
        )
        click.echo(f"rules:    {len(app.rules.rules)} rule(s)")
    elif settings.rules:  # still checked: the stages that run them would refuse them
        click.echo(f"rules:    {len(obj.rules().rules)} rule(s)")
        click.echo("watchlist: none configured (ingest, enrich and rules need one)")
    failures = 0
    if settings.enrich.model is not None:
        from enrich.sentiment import check_model

        try:
            click.echo(f"sentiment: ok  {check_model(settings.enrich)}")
        except Exception as exc:  # as load_scorer: any failure means "the lexicon instead"
            failures += 1
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            click.echo(f"sentiment: FAIL  enrich.model: {reason} (the lexicon would be used)")
    try:
        with open_bus(settings.bus) as bus:
            click.echo(f"bus:      ok    {bus.check()}")
    except BusInUse:  # the running install holds it: that is a healthy bus
        path = settings.bus.embedded.path
        click.echo(f"bus:      ok    embedded bus {path}: in use by a running stormwatch")
    except BusError as exc:
        failures += 1
        click.echo(f"bus:      FAIL  {exc}")
    try:
        with open_store(settings.store) as store:
            click.echo(f"store:    ok    {store.check()}")
    except StoreError as exc:
        failures += 1
        click.echo(f"store:    FAIL  {exc}")
    if failures:
        sys.exit(1)


@cli.command()
@click.option("--port", default=8080, show_default=True, help="Port of the search page.")
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Stop after this many seconds (default: keep serving after the storm until Ctrl-C).",
)
@click.option(
    "--outbox",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("stormwatch-demo/outbox"),
    show_default=True,
    help="Folder the demo's notifications are written to.",
)
@click.option("--fast", is_flag=True, help="A shorter storm (about 20 seconds in all).")
@click.pass_obj
def demo(obj: Context, port: int, duration: float | None, outbox: Path, fast: bool) -> None:
    """Replay a crisis through the whole pipeline, embedded, in one process.

    A made-up brand's normal chatter in English and German, then a surge of angry posts:
    watch the alerts fire, find them in the outbox and on the search page. Receivers of
    type slack or email in --settings are used as well.
    """
    from stormwatch.demo import run_demo

    sys.exit(run_demo(obj.settings(), port, duration, outbox, fast))


@cli.command()
@click.argument("stages", nargs=-1, required=True)
@click.pass_obj
def run(obj: Context, stages: tuple[str, ...]) -> None:
    """Run stages as this process, until SIGTERM or Ctrl-C.

    STAGES: ingest, enrich, rules, alerting, index, dashboards (one or more). On Kafka,
    start several processes of a stage to share its work through the consumer group; the
    embedded bus serves one process (run the stages together, or dashboards alone beside
    them).
    """
    from stormwatch.wiring import STAGES, Runtime, run_workers

    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise click.UsageError(f"unknown stage {unknown[0]!r}; stages: {', '.join(STAGES)}")
    app = obj.app()
    try:
        runtime = Runtime(app, need_bus=set(stages) != {"dashboards"})
        runtime.prepare(stages)
        workers = [w for s in stages for w in runtime.workers(s)]
    except (BusError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # e.g. a state_dir that cannot be made
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    crashes: list[str] = []
    threads = run_workers(workers, stop, crashes)
    click.echo(f"running {', '.join(stages)} ({len(workers)} worker(s)); SIGTERM to stop", err=True)
    if "dashboards" in stages:
        click.echo(f"search page on {app.settings.dashboards.url()}", err=True)
    while not stop.is_set():
        stop.wait(1.0)
    for t in threads:
        t.join(timeout=30)
    runtime.close()
    if crashes:  # a service manager restarts on a failure exit, not on 0
        raise click.ClickException("; ".join(crashes))


@cli.group()
def rules() -> None:
    """Check rule files and see what they would fire."""


@rules.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_check(files: tuple[Path, ...]) -> None:
    """Validate rule files (or folders of them): exit 1 with file:line: reason on error."""
    from rules import load_rules

    try:
        ruleset = load_rules(files)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for rule in ruleset.rules:
        to = ", ".join(rule.receivers) or "default receivers"
        click.echo(f"ok  {rule.name} ({rule.type}, {rule.severity}) -> {to}")


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--replay",
    "sample",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="JSON Lines of mentions (raw Mention or EnrichedMention records) to replay.",
)
@click.option(
    "--watchlist",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Watchlist to match raw mentions against (default: the settings' watchlist).",
)
@click.pass_obj
def rules_test(obj: Context, files: tuple[Path, ...], sample: Path, watchlist: Path | None) -> None:
    """Replay a sample through the rules and show what would fire and whom it would reach."""
    from enrich.stage import enrich_mentions
    from rules import format_alert, load_rules, replay

    try:
        ruleset = load_rules(files)
        settings = obj.settings()
        raw, enriched = _read_sample(sample)
        if raw:
            wl_path = watchlist or settings.watchlist
            if wl_path is None:
                raise click.UsageError(
                    "the sample has raw mentions: give --watchlist to match them"
                )
            enriched += enrich_mentions(raw, load_watchlist(wl_path), settings.enrich)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    alerts = replay(ruleset, enriched)
    click.echo(
        f"replayed {len(enriched)} brand mention(s) from {sample} "
        f"({len(raw)} raw mention(s) enriched first)"
    )
    for alert in alerts:
        click.echo(format_alert(alert))
    firing = sum(a.state.value == "firing" for a in alerts)
    click.echo(f"{firing} alert(s) would fire, {len(alerts) - firing} resolve")


def _read_sample(path: Path) -> tuple[list[Mention], list[EnrichedMention]]:
    raw: list[Mention] = []
    enriched: list[EnrichedMention] = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            body: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(str(path), n, "", f"not JSON: {exc.msg}") from None
        kind = body.get("kind") if isinstance(body, dict) else None
        try:
            if kind == "enriched_mention":
                enriched.append(decode(line, EnrichedMention))
            else:
                raw.append(decode(line, Mention))
        except InvalidRecord as exc:
            raise ConfigError(str(path), n, "", str(exc)) from None
    return raw, enriched


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editors and CI checks)."""
    from rules import rules_json_schema

    click.echo(json.dumps(rules_json_schema(), indent=2))


@cli.group()
def sources() -> None:
    """See how each source (feeds, search feeds, social APIs) is doing, or try one."""


def _ingest_service(obj: Context) -> tuple[Any, App]:
    from core.bus.embedded import EmbeddedBus
    from core.clock import SystemClock
    from ingest import IngestService

    app = obj.app()
    s = app.settings
    s.state_dir.mkdir(parents=True, exist_ok=True)
    # A bus that goes nowhere: these commands never produce.
    producer = EmbeddedBus().producer()
    service = IngestService(
        app.watchlist, s.ingest, producer, s.state_dir / s.ingest.state_file, SystemClock()
    )
    return service, app


@sources.command("status")
@click.pass_obj
def sources_status(obj: Context) -> None:
    """Per source: state, last success, last error, items per minute and lag, as the
    ingest process last recorded them in the state directory."""
    from datetime import UTC, datetime

    from ingest.health import format_status

    service, _ = _ingest_service(obj)
    with service:
        click.echo(format_status(service.status(), now=datetime.now(UTC)))


@sources.command("test")
@click.argument("name")
@click.option("--seconds", default=5.0, show_default=True, help="How long to read a stream.")
@click.option("--limit", default=20, show_default=True, help="Most mentions to show.")
@click.pass_obj
def sources_test(obj: Context, name: str, seconds: float, limit: int) -> None:
    """Fetch once from one configured source and print the normalised mentions, without
    producing them or moving its cursor."""
    from ingest import SourceError

    service, _ = _ingest_service(obj)
    with service:
        try:
            mentions = service.poll_once(name, seconds=seconds, limit=limit)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        except SourceError as exc:
            raise click.ClickException(f"{name}: {exc}") from None
    for m in mentions[:limit]:
        click.echo(json.dumps(m.model_dump(mode="json"), ensure_ascii=False))
    click.echo(f"{len(mentions)} mention(s) from {name}", err=True)


def main() -> None:
    cli(prog_name="stormwatch")
