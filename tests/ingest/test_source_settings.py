"""The ``ingest.sources`` settings: every kind from YAML (secrets from the environment),
the registry, errors with file, line and reason, and `build_sources`."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from core.clock import ManualClock
from core.config import ConfigError, parse_yaml, validate
from ingest.build import build_sources
from ingest.settings import IngestSettings
from ingest.sources import SOURCE_TYPES, RedditConfig, XSearchConfig, XStreamConfig
from ingest.stream import StreamSource
from tests.ingest.documents import feed
from tests.ingest.harness import WATCHLIST

ENV = {
    "X_BEARER_TOKEN": "x-secret-bearer-1234",
    "YOUTUBE_API_KEY": "yt-secret-key-5678",
    "MASTODON_TOKEN": "masto-secret-9012",
    "REDDIT_TOKEN": "reddit-secret-3456",
}

ALL_SOURCES = """\
sources:
  - type: google_alerts
    name: alerts
    url: https://www.google.com/alerts/feeds/0123/4567
  - type: google_news
    name: gnews
    query: '"Acme" OR "Acme Corp"'
    language: de
    country: DE
    interval: 10m
    backfill: 6h
  - type: bing_news
    name: bing
    query: acme
    market: en-US
  - type: reddit
    name: reddit
    query: acme OR "acme corp"
    subreddit: acme
    token: ${REDDIT_TOKEN}
    base_url: https://oauth.reddit.com
  - type: hackernews
    name: hn
    query: acme
    tags: [story]
  - type: youtube
    name: yt
    query: acme
    api_key: ${YOUTUBE_API_KEY}
    region: DE
  - type: mastodon
    name: masto
    instance: https://mastodon.social
    hashtags: ["#acme", boycottacme]
    query: acme corp
    token: ${MASTODON_TOKEN}
  - type: mastodon_stream
    name: masto-live
    instance: https://mastodon.social
    streaming_url: https://streaming.mastodon.social
    hashtag: acme
  - type: mastodon_stream
    name: masto-public
    instance: https://mastodon.social
    timeline: local
    brands: [acme]
  - type: bluesky
    name: bsky
    query: acme
    language: en
  - type: bluesky_jetstream
    name: jet
    terms: [rocket skates]
  - type: x
    name: x
    query: acme -is:retweet
    token: ${X_BEARER_TOKEN}
  - type: x_stream
    name: x-live
    rules: ["acme -is:retweet", "#boycottacme"]
    token: ${X_BEARER_TOKEN}
    backfill: 30m
"""


def load(text: str, env: dict[str, str] | None = None) -> IngestSettings:
    data, lines = parse_yaml(text, "stormwatch.yaml", ENV if env is None else env)
    return validate(IngestSettings, data, "stormwatch.yaml", lines)


def test_every_source_kind_loads_from_yaml() -> None:
    settings = load(ALL_SOURCES)
    assert [s.type for s in settings.sources] == [
        "google_alerts", "google_news", "bing_news", "reddit", "hackernews", "youtube",
        "mastodon", "mastodon_stream", "mastodon_stream", "bluesky", "bluesky_jetstream",
        "x", "x_stream",
    ]  # fmt: skip
    assert set(SOURCE_TYPES) == {s.type for s in settings.sources}
    gnews = settings.sources[1]
    assert (gnews.interval, gnews.backfill) == (timedelta(minutes=10), timedelta(hours=6))
    masto = settings.sources[6]
    assert masto.hashtags == ("acme", "boycottacme")  # type: ignore[union-attr]
    x_live = settings.sources[-1]
    assert isinstance(x_live, XStreamConfig)
    assert x_live.token.get_secret_value() == "x-secret-bearer-1234"


def test_secrets_never_print() -> None:
    settings = load(ALL_SOURCES)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ENV.values():
        assert secret not in shown


def test_every_kind_builds_its_source(http: httpx.Client, clock: ManualClock) -> None:
    settings = load(ALL_SOURCES)
    watchlist = WATCHLIST.model_copy(
        update={"feeds": (feed("newsroom", "https://news.example.com/acme.rss"),)}
    )
    built = build_sources(settings, watchlist, http, clock)
    assert [s.name for s in built] == ["newsroom", *(s.name for s in settings.sources)]
    streams = [s.name for s in built if isinstance(s, StreamSource)]
    assert streams == ["masto-live", "masto-public", "jet", "x-live"]
    polled = {s.name: s for s in built if not isinstance(s, StreamSource)}
    assert all(isinstance(s.interval, timedelta) for s in polled.values())
    locations = {s.name: s.location for s in built}
    assert locations["reddit"] == "https://oauth.reddit.com/r/acme/search.json"
    assert locations["yt"] == "https://www.googleapis.com/youtube/v3/search"
    assert locations["masto-live"] == "https://streaming.mastodon.social/api/v1/streaming/hashtag"
    assert locations["gnews"] == "https://news.google.com/rss/search"
    assert locations["jet"] == "wss://jetstream2.us-east.bsky.network/subscribe"
    kinds = {s.name: s.kind for s in built}
    assert kinds == {
        "newsroom": "rss", "alerts": "google_alerts", "gnews": "google_news", "bing": "bing_news",
        "reddit": "reddit", "hn": "hackernews", "yt": "youtube", "masto": "mastodon",
        "masto-live": "mastodon", "masto-public": "mastodon", "bsky": "bluesky", "jet": "bluesky",
        "x": "x", "x-live": "x",
    }  # fmt: skip
    assert callable(polled["hn"].fetch)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "sources:\n  - type: tiktok\n    name: t\n",
            2,
            "sources[0].type: unknown source type, use one of: google_alerts, google_news",
        ),
        (
            "sources:\n  - name: t\n    query: acme\n",
            2,
            "sources[0].type: required setting is missing",
        ),
        (
            "sources:\n  - type: reddit\n    name: r\n    qeury: acme\n",
            4,
            "sources[0].qeury: unknown setting",
        ),
        (
            "sources:\n  - type: reddit\n    name: r\n",
            2,
            "sources[0].query: required setting is missing",
        ),
        (
            "sources:\n  - type: x\n    name: x\n    query: acme\n    token: ${NOT_SET}\n",
            5,
            "sources[0].token: environment variable NOT_SET is not set",
        ),
        (
            "sources:\n  - type: x\n    name: x\n    query: acme\n    token: ${EMPTY}\n",
            5,
            "sources[0].token: Value error, is empty",
        ),
        (
            "sources:\n  - type: hackernews\n    name: hn\n    query: acme\n    interval: 0s\n",
            5,
            "sources[0].interval: Value error, must be at least 0.1s",
        ),
        (
            "sources:\n  - type: x_stream\n    name: x\n    rules: [acme]\n    token: t0ken\n    idle_timeout: 0s\n",
            6,
            "sources[0].idle_timeout: Value error, must be at least 0.1s",
        ),
        (
            'sources:\n  - type: x\n    name: x\n    query: acme\n    token: "t0k\\nen"\n',
            5,
            "sources[0].token: Value error, contains a line break",
        ),
        (
            "sources:\n  - type: mastodon\n    name: m\n    instance: mastodon.social\n    hashtags: [acme]\n",
            4,
            "sources[0].instance: Value error, 'mastodon.social' is not a http/https URL",
        ),
        (
            "sources:\n  - type: mastodon\n    name: m\n    instance: https://m.example\n",
            2,
            "sources[0]: Value error, give hashtags, a query, or both",
        ),
        (
            "sources:\n  - type: mastodon_stream\n    name: m\n    instance: https://m.example\n",
            2,
            "sources[0]: Value error, timeline hashtag needs a hashtag",
        ),
        (
            "sources:\n  - type: mastodon\n    name: m\n    instance: https://m.example\n    hashtags: ['#a b']\n",
            5,
            "sources[0].hashtags: Value error, '#a b' is not a hashtag",
        ),
        (
            "sources:\n  - type: bluesky_jetstream\n    name: j\n    url: https://jetstream.example/subscribe\n",
            4,
            "sources[0].url: Value error, 'https://jetstream.example/subscribe' is not a ws/wss URL",
        ),
        (
            "sources:\n  - type: reddit\n    name: r\n    query: a\n    base_url: https://u:p@reddit.example\n",
            5,
            "sources[0].base_url: Value error, put credentials in a token setting",
        ),
        (
            "sources:\n  - type: bing_news\n    name: b\n    query: a\n  - type: reddit\n    name: b\n    query: a\n",
            1,
            "sources: Value error, source names must be unique: ['b']",
        ),
        (
            "sources:\n  - type: x_stream\n    name: x\n    token: t0ken\n    rules: []\n",
            5,
            "sources[0].rules: Tuple should have at least 1 item",
        ),
    ],
)
def test_invalid_sources_name_file_line_and_reason(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(text, {**ENV, "EMPTY": ""})
    assert str(err.value).startswith(f"stormwatch.yaml:{line}: {message}")


def test_a_long_rule_set_needs_its_own_catch_up_query() -> None:
    rules = [f"acme term{i} OR other{i}" for i in range(30)]
    with pytest.raises(ValueError, match="set catch_up_query"):
        XStreamConfig(type="x_stream", name="x", rules=tuple(rules), token="t0ken")  # type: ignore[arg-type]
    ok = XStreamConfig(
        type="x_stream", name="x", rules=tuple(rules), token="t0ken", catch_up_query="acme"
    )  # type: ignore[arg-type]
    assert ok.query() == "acme"


def test_a_secret_read_from_a_file_loses_its_line_break() -> None:
    # `kubectl create secret --from-file` and `echo > file` leave one; httpx would refuse
    # the header and quote it in an error
    settings = load(
        "sources:\n  - type: x\n    name: x\n    query: a\n    token: ${TOKEN}\n",
        {"TOKEN": "t0ken\n"},
    )
    source = settings.sources[0]
    assert isinstance(source, XSearchConfig)
    assert source.token.get_secret_value() == "t0ken"


def test_secret_values_are_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as err:
        load("sources:\n  - type: reddit\n    name: r\n    query: a\n    token: [not, a, string]\n")
    assert "not" not in str(err.value).split("token:")[1]
    assert RedditConfig.model_fields["token"].default is None


def test_the_example_in_docs_sources_md_is_valid(http: httpx.Client, clock: ManualClock) -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    data, lines = parse_yaml(example, "docs/sources.md", ENV)
    settings = validate(IngestSettings, data["ingest"], "docs/sources.md", lines)
    assert {s.type for s in settings.sources} == set(SOURCE_TYPES)
    assert len(build_sources(settings, WATCHLIST, http, clock)) == len(SOURCE_TYPES)
