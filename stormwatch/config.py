"""The whole configuration: core settings (bus, store) plus every stage's section, in one
YAML file, validated at once with file, line and reason on any error.

Example (``examples/stormwatch.yaml`` is a complete one)::

    bus: {adapter: kafka, kafka: {bootstrap_servers: ["kafka:9092"]}}
    store: {adapter: elasticsearch, elasticsearch: {hosts: ["http://es:9200"]}}
    state_dir: /var/lib/stormwatch
    watchlist: watchlist.yaml          # relative paths are relative to this file's folder
    rules: [rules/*.yaml]
    enrich: {model: /models/twitter-xlm-roberta-sentiment}
    alerting:
      receivers:
        oncall-slack: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
    dashboards: {host: 0.0.0.0, port: 8080, public_url: https://stormwatch.example.com}
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from alerting.settings import AlertingSettings
from core.config import ConfigError, load_model, resolve_paths
from core.settings import SETTINGS_ENV, Settings
from core.watchlist import Watchlist, load_watchlist
from dashboards.settings import DashboardSettings
from enrich.settings import EnrichSettings
from ingest.settings import IngestSettings
from rules import RuleSet, load_rules


class AppSettings(Settings):
    state_dir: Path = Path(".stormwatch")
    """Local state: ingest's dedup database, and the embedded bus and store files unless
    ``bus.embedded.path`` / ``store.embedded.path`` say otherwise (``bus.db``,
    ``store.db``), so a restart keeps what was fetched: ingest's dedup database would
    otherwise skip the mentions a bus or store in memory lost."""
    watchlist: Path | None = None
    rules: tuple[str, ...] = Field(default=())
    """Rule files or glob patterns."""
    ingest: IngestSettings = IngestSettings()
    enrich: EnrichSettings = EnrichSettings()
    alerting: AlertingSettings = AlertingSettings()
    dashboards: DashboardSettings = DashboardSettings()

    @model_validator(mode="after")
    def _embedded_files(self) -> Self:
        bus, store = self.bus, self.store
        if bus.embedded.path is None:
            embedded = bus.embedded.model_copy(update={"path": self.state_dir / "bus.db"})
            bus = bus.model_copy(update={"embedded": embedded})
        if store.embedded.path is None:
            embedded_store = store.embedded.model_copy(update={"path": self.state_dir / "store.db"})
            store = store.model_copy(update={"embedded": embedded_store})
        # frozen: set once, here, before anyone reads them
        object.__setattr__(self, "bus", bus)
        object.__setattr__(self, "store", store)
        return self


class App:
    """Loaded, cross-checked configuration: settings, watchlist and rules."""

    def __init__(
        self, settings: AppSettings, watchlist: Watchlist, rules: RuleSet, source: str
    ) -> None:
        self.settings = settings
        self.watchlist = watchlist
        self.rules = rules
        self.source = source


def load_app_settings(path: str | Path | None) -> tuple[AppSettings, Path]:
    """The settings (relative paths in them made relative to the file's folder) and that
    folder; without a settings file, the defaults and the current folder."""
    chosen = path or os.environ.get(SETTINGS_ENV)
    if not chosen:
        return resolve_paths(AppSettings(), Path.cwd()), Path.cwd()
    base = Path(chosen).resolve().parent
    return _model_folder(load_model(AppSettings, chosen), base), base


def _model_folder(settings: AppSettings, base: Path) -> AppSettings:
    """``enrich.model`` is a folder or a Hugging Face cache name; a relative one that is a
    folder beside the settings file is that folder, like every other path setting."""
    model = settings.enrich.model
    if model is None or Path(model).is_absolute() or not (base / model).is_dir():
        return settings
    enrich = settings.enrich.model_copy(update={"model": str(base / model)})
    return settings.model_copy(update={"enrich": enrich})


def rule_files(patterns: tuple[str, ...], base: Path, origin: str) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        full = str(base / pattern)  # an absolute pattern stays as it is
        matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
        if not matches:
            raise ConfigError(origin, None, "rules", f"{pattern!r} matches no file")
        files.extend(Path(m) for m in matches)
    return files


def load_app(
    path: str | Path | None,
    default_watchlist: Path | None = None,
    default_rules: tuple[Path, ...] = (),
) -> App:
    """Load settings, the watchlist and the rules, and check they fit together
    (every receiver a rule names exists; every brand a rule names is watched)."""
    settings, base = load_app_settings(path)
    origin = str(path or os.environ.get(SETTINGS_ENV) or "settings")
    wl_path = settings.watchlist or default_watchlist
    if wl_path is None:
        raise ConfigError(origin, None, "watchlist", "no watchlist file is configured")
    watchlist = load_watchlist(wl_path)
    files = rule_files(settings.rules, base, origin) if settings.rules else list(default_rules)
    ruleset = load_rules(files)
    ruleset.check_receivers(set(settings.alerting.receivers))
    ruleset.check_brands({b.id for b in watchlist.brands})
    return App(settings, watchlist, ruleset, origin)
