"""The ``stormwatch`` command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from core.bus import BusError, open_bus
from core.config import ConfigError
from core.settings import SETTINGS_ENV, Settings, load_settings
from core.store import StoreError, open_store
from stormwatch import __version__


class Context:
    def __init__(self, settings_path: Path | None) -> None:
        self.settings_path = settings_path

    def settings(self) -> Settings:
        try:
            return load_settings(self.settings_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


#: Client libraries that log every failed connection attempt; we report failures ourselves.
_CHATTY = ("kafka", "elastic_transport", "urllib3", "elasticsearch")


def setup_logging(verbose: int) -> None:
    """-v: our info; -vv: our debug and the client libraries' warnings."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING if verbose >= 2 else logging.CRITICAL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stormwatch")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=SETTINGS_ENV,
    help=f"Settings YAML (bus, store, ...). Default: ${SETTINGS_ENV}, else all embedded.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, settings_path: Path | None, verbose: int) -> None:
    """stormwatch: hear what the web says about your brand, and be paged when a storm starts.

    Runs embedded (no servers) by default; a settings file switches the bus to Kafka and
    the store to Elasticsearch.
    """
    setup_logging(verbose)
    ctx.obj = Context(settings_path)


@cli.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate the settings, connect to the bus and the store, and say what is reachable."""
    settings = obj.settings()
    where = obj.settings_path or "none (built-in defaults: everything embedded)"
    click.echo(f"settings: {where}")
    failures = 0
    try:
        with open_bus(settings.bus) as bus:
            click.echo(f"bus:      ok    {bus.check()}")
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


def main() -> None:
    cli(prog_name="stormwatch")
