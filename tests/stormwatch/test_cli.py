from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.bus.embedded import EmbeddedBus
from stormwatch import __version__
from stormwatch.cli import cli
from stormwatch.config import load_app
from stormwatch.wiring import Runtime


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_version_and_help() -> None:
    assert run("--version") == (0, f"stormwatch, version {__version__}\n")
    code, out = run("--help")
    assert code == 0 and "check" in out and "--settings" in out


def test_check_without_settings_runs_embedded_on_files_in_the_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # files, not memory: a restart must find what ingest's dedup database says was fetched
    monkeypatch.delenv("STORMWATCH_SETTINGS", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out = run("check")
    assert code == 0
    state = tmp_path / ".stormwatch"
    assert f"bus:      ok    embedded bus in SQLite file {state / 'bus.db'}" in out
    assert f"in SQLite file {state / 'store.db'}" in out
    assert "store:    ok    embedded store (SQLite" in out


def test_the_installed_console_script_works(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("stormwatch")
    out = subprocess.run(
        [str(exe), "check"], capture_output=True, text=True, check=True, env={}, cwd=tmp_path
    )
    assert "embedded bus" in out.stdout and "embedded store" in out.stdout


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("bus:\n  adapter: rabbitmq\n", "bus.adapter: Input should be 'embedded' or 'kafka'"),
        (
            "store:\n  embedded:\n    colour: red\n",
            "store.embedded.colour: unknown setting",
        ),
        (
            "bus:\n  embedded:\n    partitions: lots\n",
            "bus.embedded.partitions: Input should be a valid integer",
        ),
    ],
)
def test_bad_settings_are_one_line_naming_the_setting(
    tmp_path: Path, yaml: str, expected: str
) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(yaml)
    code, out = run("--settings", str(p), "check")
    assert code != 0
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith(f"Error: {p}:") and expected in lines[0]


def test_unreachable_servers_are_reported_by_setting(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "bus:\n  adapter: kafka\n  kafka:\n    bootstrap_servers: ['127.0.0.1:9']\n"
        "    connect_timeout_s: 1\n"
        "store:\n  adapter: elasticsearch\n  elasticsearch:\n    hosts: ['http://127.0.0.1:9']\n"
    )
    code, out = run("--settings", str(p), "check")
    assert code == 1
    assert (
        "bus:      FAIL  bus.kafka.bootstrap_servers: no Kafka broker reachable at 127.0.0.1:9"
        in out
    )
    assert (
        "store:    FAIL  store.elasticsearch.hosts: no Elasticsearch reachable at http://127.0.0.1:9"
        in out
    )


def test_a_crashed_stage_makes_run_exit_with_an_error(tmp_path: Path) -> None:
    # a service manager restarts on a failure exit: a busy port must not look like a stop
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "watchlist.yaml").write_text("brands:\n  - {id: acme, name: Acme}\n")
        (tmp_path / "s.yaml").write_text(
            f"watchlist: watchlist.yaml\ndashboards: {{port: {port}}}\n"
        )
        exe = Path(sys.executable).with_name("stormwatch")
        done = subprocess.run(
            [str(exe), "--settings", str(tmp_path / "s.yaml"), "run", "dashboards"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "Error: dashboards crashed: RuntimeError: the search server did not start" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_check_validates_the_rules_of_settings_without_a_watchlist(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - {name: x, type: bogus, brands: [acme]}\n")
    (tmp_path / "s.yaml").write_text("state_dir: st\nrules: [bad.yaml]\n")
    result = CliRunner().invoke(cli, ["--settings", str(tmp_path / "s.yaml"), "check"])
    assert result.exit_code == 1
    assert "bad.yaml:2: rules[0].type: unknown rule type 'bogus'" in result.output


def test_check_says_whether_the_sentiment_model_can_be_used(tmp_path: Path) -> None:
    # a mistyped model path only warned, in the stage's log, and ran on the lexicon
    model = tmp_path / "model"
    model.mkdir()
    labels = {"0": "Negative", "1": "Neutral", "2": "Positive"}
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "id2label": labels}))
    (tmp_path / "ok.yaml").write_text("state_dir: st\nenrich: {model: model}\n")
    (tmp_path / "typo.yaml").write_text("state_dir: st\nenrich: {model: modle}\n")
    (tmp_path / "labels.yaml").write_text(
        "state_dir: st\nenrich: {model: model, labels: {LABEL_9: negative}}\n"
    )
    code, out = run("--settings", str(tmp_path / "ok.yaml"), "check")
    assert code == 0 and "Negative -> negative, Neutral -> neutral, Positive -> positive" in out
    code, out = run("--settings", str(tmp_path / "typo.yaml"), "check")
    assert code == 1 and "sentiment: FAIL  enrich.model:" in out and "lexicon would be used" in out
    code, out = run("--settings", str(tmp_path / "labels.yaml"), "check")
    assert code == 1 and "'LABEL_9', which the model does not have" in out


def test_check_beside_a_running_install_finds_its_bus_busy_and_healthy(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("state_dir: st\n")
    running = EmbeddedBus(path=tmp_path / "st" / "bus.db")  # as a `stormwatch run` holds it
    try:
        code, out = run("--settings", str(tmp_path / "s.yaml"), "check")
    finally:
        running.close()
    assert code == 0 and "in use by a running stormwatch" in out


def test_a_search_page_alone_needs_no_bus(tmp_path: Path) -> None:
    (tmp_path / "watchlist.yaml").write_text("brands:\n  - {id: acme, name: Acme}\n")
    (tmp_path / "s.yaml").write_text("state_dir: st\nwatchlist: watchlist.yaml\n")
    running = EmbeddedBus(path=tmp_path / "st" / "bus.db")
    try:
        runtime = Runtime(load_app(tmp_path / "s.yaml"), need_bus=False)
        runtime.prepare(["dashboards"])
        [worker] = runtime.workers("dashboards")
        assert worker.name == "dashboards" and runtime.bus is None
        runtime.close()
    finally:
        running.close()
