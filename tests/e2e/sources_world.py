"""Every source kind at once, each against a local server that speaks its platform's
protocol: the fakes of the ingest tests (tests/ingest), reused by import.

`SourcesWorld` starts one fake per configured source, each on a server of its own so
that two sources of one platform (Mastodon polled and streamed, X search and stream)
never see each other's posts, seeds every fake with posts that name Acme (the demo's
watchlist brand), and gives the ``ingest.sources`` entries pointing every source kind at
them. Two more sources must fail while the others keep working: ``hn-limited`` answers
every request with 429 and ``Retry-After``, and ``mastodon-down`` is a stream whose
server is not there (connection refused).

Stream posts are taken out of the fakes' REST answers, so a stream's mentions can only
have come through the live connection, not through its catch-up.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import yaml

from ingest.sources import SOURCE_TYPES, StreamConfig
from tests.ingest.apiserver import ApiServer, Reply
from tests.ingest.documents import item, rss
from tests.ingest.fakes_jetstream import FakeJetstream, Plan
from tests.ingest.fakes_search import YOUTUBE_KEY, FakeAlgolia, FakeReddit, FakeYouTube
from tests.ingest.fakes_social import MASTODON_TOKEN, X_TOKEN, FakeBluesky, FakeMastodon, FakeX
from tests.ingest.fakes_social import Script as StreamScript
from tests.ingest.test_search_feeds import (
    ALERTS_PATH,
    alert,
    alerts_atom,
    bing_item,
    bing_rss,
    gnews_item,
    google_news_rss,
)

POSTS = 2
"""Posts (naming Acme) each producing source is seeded with."""
RSS_FEED = "newsroom"
"""The watchlist feed's name (production mode; the demo brings its own feed)."""

ENV = {
    "YOUTUBE_API_KEY": YOUTUBE_KEY,
    "MASTODON_TOKEN": MASTODON_TOKEN,
    "X_BEARER_TOKEN": X_TOKEN,
}
"""The credentials the settings name as ``${VAR}``; set them in the process's environment."""


@dataclass(frozen=True)
class Expected:
    """What one source must show: its ``type``, the mentions' ``source`` (the kind),
    poll or stream, and how many mentions it must produce."""

    type: str
    kind: str
    mode: Literal["poll", "stream"]
    count: int


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SourcesWorld:
    """The fakes, running, and the settings that point every source kind at them.

    ``producing``: source name → `Expected`, one per source kind, each seeded with
    `POSTS` mentions. ``failing``: source name → mode, the sources that cannot fetch.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)
        self._servers: list[ApiServer] = []
        self._jetstream: FakeJetstream | None = None
        self.sources: list[dict[str, Any]] = []
        self.producing: dict[str, Expected] = {}
        self.failing: dict[str, Literal["poll", "stream"]] = {}
        try:
            self._feeds()
            self._search_apis()
            self._social()
            self._broken()
            self.rss_url = self._rss_feed()
        except BaseException:
            self.stop()
            raise

    # -- settings -----------------------------------------------------------------------
    def ingest_section(self) -> dict[str, Any]:
        """The ``ingest:`` section: every source, polls at once after a start."""
        return {
            "user_agent": "stormwatch-e2e/1 (+https://example.com/contact)",
            "first_poll_jitter": "0s",
            "stream": {"checkpoint_every": "1s"},
            "sources": self.sources,
        }

    def watchlist_yaml(self) -> str:
        """The demo's brands (acme, globex) and one RSS feed naming Acme."""
        return yaml.safe_dump(
            {
                "brands": [
                    {
                        "id": "acme",
                        "name": "Acme",
                        "aliases": ["Acme Corp"],
                        "hashtags": ["#acme", "#boycottacme"],
                        "competitors": ["globex"],
                    },
                    {"id": "globex", "name": "Globex", "hashtags": ["#globex"]},
                ],
                "feeds": [{"name": RSS_FEED, "url": self.rss_url, "interval": "5s"}],
            },
            sort_keys=False,
        )

    def write_settings(self, path: Path, **sections: Any) -> Path:
        """A settings file with ``ingest:`` from `ingest_section` and ``sections``."""
        path.write_text(
            yaml.safe_dump({**sections, "ingest": self.ingest_section()}, sort_keys=False),
            encoding="utf-8",
        )
        return path

    # -- the fakes ----------------------------------------------------------------------
    def _server(self) -> ApiServer:
        server = ApiServer()
        # the Date header rate-limit resets are measured against: the real time
        server.now = self.now
        self._servers.append(server)
        return server

    def _at(self, n: int) -> datetime:
        """Within every source's first-start backfill (Jetstream's is the shortest, 5m)."""
        return self.now - timedelta(minutes=1, seconds=10 * n)

    def _add(self, entry: dict[str, Any], count: int = POSTS) -> None:
        model = SOURCE_TYPES[entry["type"]]
        mode: Literal["poll", "stream"] = "stream" if issubclass(model, StreamConfig) else "poll"
        # every registered model declares its mentions' ``source`` as ``kind`` (the base
        # model does not, hence the ignore)
        kind: str = model.kind
        self.sources.append(entry)
        self.producing[entry["name"]] = Expected(entry["type"], kind, mode, count)

    def _feeds(self) -> None:
        server = self._server()
        server.routes[ALERTS_PATH] = lambda _: Reply(
            alerts_atom(
                *(
                    alert(
                        n,
                        quote(f"https://alerts-target.example.com/acme-{n}?utm_source=google"),
                        self._at(n).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        f"&lt;b&gt;Acme&lt;/b&gt; alert story {n}",
                    )
                    for n in range(1, POSTS + 1)
                )
            ),
            content_type="application/atom+xml; charset=utf-8",
        )
        self._add({"type": "google_alerts", "name": "alerts-acme", "url": server.url + ALERTS_PATH})

        server = self._server()
        server.routes["/rss/search"] = lambda _: Reply(
            google_news_rss(
                *(
                    gnews_item(f"GN{n}", f"Acme news story {n}", self._rfc822(n))
                    for n in range(1, POSTS + 1)
                )
            ),
            content_type="application/rss+xml; charset=utf-8",
        )
        self._add(
            {
                "type": "google_news",
                "name": "gnews-acme",
                "query": '"Acme"',
                "base_url": server.url + "/rss/search",
            }
        )

        server = self._server()
        server.routes["/news/search"] = lambda _: Reply(
            bing_rss(
                *(
                    bing_item(
                        quote(f"https://bing-target.example.org/acme-{n}", safe=""),
                        f"Acme in the Bing news {n}",
                        self._rfc822(n),
                        "Example Org",
                    )
                    for n in range(1, POSTS + 1)
                )
            ),
            content_type="application/rss+xml; charset=utf-8",
        )
        self._add(
            {
                "type": "bing_news",
                "name": "bing-acme",
                "query": "acme",
                "market": "en-US",
                "base_url": server.url + "/news/search",
            }
        )

    def _search_apis(self) -> None:
        server = self._server()
        reddit = FakeReddit(server)
        for n in range(1, POSTS + 1):
            reddit.post(n, self._at(n))
        self._add(
            {"type": "reddit", "name": "reddit-acme", "query": "acme", "base_url": server.url}
        )

        server = self._server()
        algolia = FakeAlgolia(server)
        for n in range(1, POSTS + 1):
            algolia.story(n, self._at(n))
        self._add(
            {
                "type": "hackernews",
                "name": "hn-acme",
                "query": "acme",
                "base_url": server.url + "/api/v1",
            }
        )

        server = self._server()
        youtube = FakeYouTube(server)
        for n in range(1, POSTS + 1):
            youtube.video(n, self._at(n))
        self._add(
            {
                "type": "youtube",
                "name": "youtube-acme",
                "query": "acme",
                "api_key": "${YOUTUBE_API_KEY}",
                "base_url": server.url + "/youtube/v3",
            }
        )

    def _social(self) -> None:
        server = self._server()
        mastodon = FakeMastodon(server)
        for n in range(1, POSTS + 1):
            mastodon.status(n, self._at(n))
        self._add(
            {
                "type": "mastodon",
                "name": "mastodon-acme",
                "instance": server.url,
                "hashtags": ["#acme"],
                "query": "acme",
                "token": "${MASTODON_TOKEN}",
            }
        )

        server = self._server()
        live = FakeMastodon(server, host="stream.example")
        toots = [live.status(10 + n, self._at(n)) for n in range(1, POSTS + 1)]
        live.statuses.clear()  # only the stream carries them
        live.scripts.append(StreamScript(toots, end="stay"))
        self._add(
            {
                "type": "mastodon_stream",
                "name": "mastodon-live",
                "instance": server.url,
                "hashtag": "acme",
                "token": "${MASTODON_TOKEN}",
            }
        )

        server = self._server()
        bluesky = FakeBluesky(server)
        for n in range(1, POSTS + 1):
            bluesky.post(n, self._at(n))
        self._add(
            {"type": "bluesky", "name": "bluesky-acme", "query": "acme", "base_url": server.url}
        )

        jetstream = self._jetstream = FakeJetstream()
        base_us = int(self.now.timestamp() * 1_000_000)
        for n in range(1, POSTS + 1):
            jetstream.post(base_us + n, f"Acme rocket skates, take {n}", n, self._at(n))
        # the firehose carries everything: a post naming no watched term must be dropped
        jetstream.post(base_us + 100, "Nothing to see here", 99, self._at(1))
        jetstream.plans.append(Plan(send=10**6, then="stay"))
        self._add(
            {
                "type": "bluesky_jetstream",
                "name": "bluesky-live",
                "url": jetstream.url,
                "brands": ["acme"],
            }
        )

        server = self._server()
        x = FakeX(server)
        for n in range(1, POSTS + 1):
            x.post(n, self._at(n))
        self._add(
            {
                "type": "x",
                "name": "x-acme",
                "query": "acme -is:retweet",
                "token": "${X_BEARER_TOKEN}",
                "base_url": server.url,
            }
        )

        server = self._server()
        x_live = FakeX(server)
        tweets = [x_live.post(20 + n, self._at(n)) for n in range(1, POSTS + 1)]
        x_live.posts.clear()  # only the stream carries them
        envelopes = [x_live.envelope(t, "stormwatch:x-live") for t in tweets]
        x_live.scripts.append(StreamScript(envelopes, end="stay", heartbeat=b"\r\n"))
        self._add(
            {
                "type": "x_stream",
                "name": "x-live",
                "rules": ["acme -is:retweet"],
                "token": "${X_BEARER_TOKEN}",
                "base_url": server.url,
            }
        )

    def _broken(self) -> None:
        server = self._server()
        server.routes["/api/v1/search_by_date"] = lambda _: Reply(
            {"message": "Too many requests", "status": 429}, 429, headers={"Retry-After": "3600"}
        )
        self.sources.append(
            {
                "type": "hackernews",
                "name": "hn-limited",
                "query": "acme",
                "base_url": server.url + "/api/v1",
            }
        )
        self.failing["hn-limited"] = "poll"
        self.sources.append(
            {
                "type": "mastodon_stream",
                "name": "mastodon-down",
                "instance": f"http://127.0.0.1:{closed_port()}",
                "hashtag": "acme",
            }
        )
        self.failing["mastodon-down"] = "stream"

    def _rss_feed(self) -> str:
        server = self._server()
        body = rss(
            *(
                item(
                    f"Acme in the newsroom {n}",
                    f"https://newsroom.example.com/acme-{n}",
                    f"newsroom-{n}",
                    self._rfc822(n),
                    "Acme said something.",
                )
                for n in range(1, POSTS + 1)
            )
        )
        server.routes["/news.rss"] = lambda _: Reply(body, content_type="application/rss+xml")
        return server.url + "/news.rss"

    def _rfc822(self, n: int) -> str:
        return format_datetime(self._at(n), usegmt=True)

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        if self._jetstream is not None:
            self._jetstream.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
