from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from stormwatch import scenario
from stormwatch.cli import cli
from stormwatch.feedserver import FeedServer


def test_sources_test_and_status(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    feed = FeedServer(scenario.build(now), lambda: now).start()
    try:
        (tmp_path / "watchlist.yaml").write_text(
            f"brands: [{{id: acme, name: Acme}}]\n"
            f"feeds: [{{name: chatter, url: '{feed.feed_url}', interval: 1m}}]\n"
        )
        settings = tmp_path / "s.yaml"
        settings.write_text(
            "state_dir: state\nwatchlist: watchlist.yaml\n"
            "ingest:\n  sources:\n    - {type: hackernews, name: hn, query: acme}\n"
        )
        runner = CliRunner()
        tested = runner.invoke(
            cli, ["--settings", str(settings), "sources", "test", "chatter", "--limit", "3"]
        )
        assert tested.exit_code == 0, tested.output
        lines = [json.loads(line) for line in tested.output.splitlines() if line.startswith("{")]
        assert len(lines) == 3 and all(m["source_name"] == "chatter" for m in lines)

        status = runner.invoke(cli, ["--settings", str(settings), "sources", "status"])
        assert status.exit_code == 0, status.output
        assert status.output.splitlines()[0].split()[:3] == ["NAME", "KIND", "MODE"]
        assert "chatter" in status.output and "hn" in status.output

        missing = runner.invoke(cli, ["--settings", str(settings), "sources", "test", "nope"])
        assert missing.exit_code == 1 and "nope" in missing.output
    finally:
        feed.stop()
