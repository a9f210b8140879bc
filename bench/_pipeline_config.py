"""The settings, watchlist and rule files every bench run uses (embedded and Kafka alike),
written as YAML so the Kafka stage processes read exactly what the embedded run loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench._pipeline_stream import CRISIS_WORDS, WATCHED

RECEIVER = "bench-slack"

RULES = f"""
rules:
  # The probe rule of the latency runs and the burst detector of the throughput runs:
  # one crisis word fires (calm chatter never contains one).
  - name: bench-crisis-words
    type: keyword
    brands: "*"
    severity: critical
    window: 10m
    phrases: {json.dumps(list(CRISIS_WORDS), ensure_ascii=False)}
    min_count: 1
    receivers: [{RECEIVER}]
  # Realistic work for the rules stage on every mention; fire on bursts only.
  - name: bench-volume
    type: volume
    brands: "*"
    window: 10m
    threshold: 1500
    receivers: [{RECEIVER}]
  - name: bench-spike
    type: spike
    brands: "*"
    window: 15m
    min_zscore: 4
    min_surprise: 6
    min_count: 50
    receivers: [{RECEIVER}]
  - name: bench-negative-share
    type: negative_share
    brands: "*"
    window: 30m
    threshold: 0.5
    min_volume: 100
    receivers: [{RECEIVER}]
"""


@dataclass(frozen=True)
class Target:
    """Where a run goes: the embedded adapters (both None) or Kafka and Elasticsearch."""

    kafka: str | None = None
    es: str | None = None
    prefix: str = "bench"
    """Topic prefix and index prefix, unique per run so runs never see each other's data."""
    partitions: int = 6
    enrich_processes: int = 0
    """``enrich.processes``: child processes for the match step's text work."""
    quantize: bool = False
    """``enrich.quantize``: int8 dynamic quantisation of the sentiment model."""


def watchlist_yaml(probes: list[tuple[str, str]]) -> str:
    lines = ["brands:"]
    for b in WATCHED:
        lines.append(f"  - id: {b.id}")
        lines.append(f"    name: {b.name}")
        lines.append(f'    handles: ["{b.handle}"]')
        lines.append(f'    hashtags: ["{b.hashtag}", "#boycott{b.id}"]')
        if b.competitors:
            lines.append(f"    competitors: {json.dumps(list(b.competitors))}")
    for pid, name in probes:
        lines.append(f"  - {{id: {pid}, name: {name}}}")
    return "\n".join(lines) + "\n"


def settings_yaml(target: Target, receiver_url: str, model: str | None) -> str:
    if target.kafka:
        bus = (
            "bus:\n  adapter: kafka\n  kafka:\n"
            f'    bootstrap_servers: ["{target.kafka}"]\n'
            f'    topic_prefix: "{target.prefix}."\n'
            f"    partitions: {target.partitions}\n"
            "    session_timeout_ms: 6000\n"
        )
    else:
        bus = f"bus:\n  adapter: embedded\n  embedded: {{partitions: {target.partitions}}}\n"
    if target.es:
        store = (
            "store:\n  adapter: elasticsearch\n  elasticsearch:\n"
            f'    hosts: ["{target.es}"]\n    index_prefix: "{target.prefix}"\n'
        )
    else:
        store = "store:\n  adapter: embedded\n  embedded: {path: state/store.db}\n"
    enrich = f"enrich:\n  processes: {target.enrich_processes}\n"
    if model:
        enrich += f'  model: "{model}"\n  quantize: {str(target.quantize).lower()}\n'
    return (
        bus
        + store
        + "state_dir: state\nwatchlist: watchlist.yaml\nrules: [rules.yaml]\n"
        + enrich
        + "ingest:\n  first_poll_jitter: 0s\n"
        + "alerting:\n"
        + f"  default_receivers: [{RECEIVER}]\n"
        + "  retry: {max_attempts: 3, initial_backoff: 1s, max_backoff: 2s, jitter: 0s}\n"
        + "  receivers:\n"
        + f'    {RECEIVER}:\n      type: slack\n      webhook_url: "{receiver_url}"\n'
    )


def write_config(
    folder: Path,
    target: Target,
    receiver_url: str,
    probes: list[tuple[str, str]],
    model: str | None = None,
) -> Path:
    """Write ``stormwatch.yaml``, ``watchlist.yaml`` and ``rules.yaml`` into ``folder``;
    returns the settings file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "watchlist.yaml").write_text(watchlist_yaml(probes), encoding="utf-8")
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    settings = folder / "stormwatch.yaml"
    settings.write_text(settings_yaml(target, receiver_url, model), encoding="utf-8")
    return settings
