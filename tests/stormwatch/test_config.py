"""Relative paths in the settings file are relative to its folder, wherever the process starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting.settings import EmailReceiver, OutboxReceiver
from stormwatch.config import load_app, load_app_settings

SETTINGS = """
state_dir: state
watchlist: watchlist.yaml
rules: [rules/*.yaml]
bus: {adapter: embedded, embedded: {path: state/bus.db}}
store:
  adapter: embedded
  embedded: {path: /var/lib/stormwatch/store.db}
  elasticsearch: {ca_file: certs/es-ca.pem}
alerting:
  receivers:
    outbox: {type: outbox, path: outbox}
    mail:
      type: email
      host: smtp.example.com
      from_addr: stormwatch@example.com
      to: [oncall@example.com]
      ca_file: certs/smtp-ca.pem
  default_receivers: [outbox]
"""


def test_every_relative_path_setting_is_relative_to_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    (conf / "rules").mkdir(parents=True)
    (conf / "stormwatch.yaml").write_text(SETTINGS, encoding="utf-8")
    (conf / "watchlist.yaml").write_text("brands:\n  - {id: acme, name: Acme}\n")
    (conf / "rules" / "crisis.yaml").write_text(
        "rules:\n  - {name: v, type: volume, brands: [acme], window: 10m, threshold: 3}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # as a service manager starts it: not in the settings' folder

    app = load_app(Path("../conf/stormwatch.yaml"))
    s = app.settings
    base = conf.resolve()
    assert s.state_dir == base / "state"
    assert s.watchlist == base / "watchlist.yaml"
    assert [r.name for r in app.rules] == ["v"]
    assert s.bus.embedded.path == base / "state" / "bus.db"
    assert s.store.embedded.path == Path("/var/lib/stormwatch/store.db")  # absolute: kept
    assert s.store.elasticsearch.ca_file == base / "certs" / "es-ca.pem"
    outbox, mail = s.alerting.receivers["outbox"], s.alerting.receivers["mail"]
    assert isinstance(outbox, OutboxReceiver) and outbox.path == base / "outbox"
    assert isinstance(mail, EmailReceiver) and mail.ca_file == base / "certs" / "smtp-ca.pem"
    assert load_app_settings(conf / "stormwatch.yaml")[0] == s


def test_without_a_settings_file_the_defaults_are_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORMWATCH_SETTINGS", raising=False)
    settings, base = load_app_settings(None)
    assert base == tmp_path
    assert settings.state_dir == tmp_path / ".stormwatch"
    outbox = settings.alerting.receivers["outbox"]
    assert isinstance(outbox, OutboxReceiver) and outbox.path == tmp_path / "outbox"
    # the embedded bus and store are files there too, so a restart loses nothing
    assert settings.bus.embedded.path == tmp_path / ".stormwatch" / "bus.db"
    assert settings.store.embedded.path == tmp_path / ".stormwatch" / "store.db"


def test_the_embedded_files_default_to_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "s.yaml").write_text("state_dir: /srv/sw\nbus: {embedded: {path: b.db}}\n")
    monkeypatch.chdir("/")
    settings, _ = load_app_settings(tmp_path / "s.yaml")
    assert settings.bus.embedded.path == tmp_path / "b.db"  # given: kept, relative to the file
    assert settings.store.embedded.path == Path("/srv/sw/store.db")
