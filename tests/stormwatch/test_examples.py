"""The example configuration the README points at loads, and the rules CLI works on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stormwatch.cli import cli
from stormwatch.config import load_app

ROOT = Path(__file__).resolve().parents[2]


def test_the_production_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_PASSWORD", "ES_API_KEY", "SLACK_WEBHOOK_URL", "SMTP_PASSWORD"):
        monkeypatch.setenv(name, f"https://secret.example/{name}")
    app = load_app(ROOT / "examples" / "stormwatch.yaml")
    assert app.settings.bus.adapter == "kafka" and app.settings.store.adapter == "elasticsearch"
    assert [b.id for b in app.watchlist.brands] == ["acme", "globex"]
    assert {r.name for r in app.rules.rules} >= {"acme-volume", "acme-crisis-words"}
    assert "secret.example" not in repr(app.settings)


def test_a_missing_secret_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_PASSWORD", "ES_API_KEY", "SLACK_WEBHOOK_URL", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        cli, ["--settings", str(ROOT / "examples/stormwatch.yaml"), "check"]
    )
    assert result.exit_code == 1
    assert (
        "stormwatch.yaml:11: bus.kafka.password: environment variable KAFKA_PASSWORD is not set"
        in result.output
    )


def test_rules_check_and_test_on_the_examples() -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["rules", "check", str(ROOT / "rules/examples")])
    assert ok.exit_code == 0 and "ok  acme-crisis-words (keyword, critical)" in ok.output
    replay = runner.invoke(
        cli,
        [
            "rules",
            "test",
            str(ROOT / "rules/examples/crisis.yaml"),
            "--replay",
            str(ROOT / "examples/crisis-sample.jsonl"),
            "--watchlist",
            str(ROOT / "examples/watchlist.yaml"),
        ],
    )
    assert replay.exit_code == 0, replay.output
    firing = [line for line in replay.output.splitlines() if "FIRING" in line]
    assert {line.split()[5] for line in firing} == {
        "acme-crisis-words",
        "acme-spike",
        "acme-negative-share",
        "acme-volume",
    }
    assert "-> comms-oncall-email" in replay.output
    assert "4 alert(s) would fire, 4 resolve" in replay.output


def test_rules_check_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    type: volume\n    brands: [acme]\n    threshold: -3\n")
    result = CliRunner().invoke(cli, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {bad}:5: rules[0].threshold:")


def test_rules_schema_is_json() -> None:
    import json

    result = CliRunner().invoke(cli, ["rules", "schema"])
    schema = json.loads(result.output)
    assert "volume" in json.dumps(schema) and "keyword" in json.dumps(schema)
