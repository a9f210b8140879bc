"""Fakes of the social APIs on the local `ApiServer`, in each platform's documented
format, honouring the parameters ingest sends:

* Mastodon: ``/api/v1/timelines/tag/:tag`` and ``/api/v1/timelines/public`` (newest
  first, ``since_id``/``max_id``/``limit``), ``/api/v2/search`` (``min_id``/``max_id``),
  ``X-RateLimit-*`` with an ISO reset, and server-sent events on
  ``/api/v1/streaming/hashtag`` and ``/api/v1/streaming/public``.
* Bluesky AppView: ``/xrpc/app.bsky.feed.searchPosts`` (``sort=latest``, ``since``,
  ``cursor``), ``ratelimit-*`` headers.
* X API v2: ``/2/tweets/search/recent`` (``since_id``, ``start_time``, ``next_token``,
  ``includes.users``), ``/2/tweets/search/stream/rules`` (GET, POST add/delete) and the
  filtered stream ``/2/tweets/search/stream`` (newline-delimited JSON, ``\\r\\n``
  keep-alives).

A stream fake serves one `Script` per connection (the posts to send, then whether to
drop the connection); with no script left, the connection stays open and quiet until
the server stops.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from tests.ingest.apiserver import ApiServer, Reply, Request, Streamed
from tests.ingest.harness import iso


@dataclass
class Script:
    posts: list[dict[str, Any]] = field(default_factory=list)
    end: Literal["drop", "close", "stay"] = "drop"
    """Then drop the connection, end the response cleanly, or stay connected."""
    heartbeat: bytes = b""
    """Sent before every post, as the platform's keep-alive."""


class _StreamFake:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.fail: list[Reply] = []
        self.scripts: list[Script] = []
        self.connected = threading.Event()

    def _next_script(self) -> Script | None:
        self.connected.set()
        return self.scripts.pop(0) if self.scripts else None

    def _quiet(self, heartbeat: bytes) -> Iterator[bytes]:
        while not self.server.release.wait(0.05):
            yield heartbeat


def _page(items: list[dict[str, Any]], request: Request, default: int = 20) -> list[dict[str, Any]]:
    """Snowflake-ordered items, newest first, filtered the Mastodon way."""
    ordered = sorted(items, key=lambda s: int(s["id"]), reverse=True)
    for name, keep in (
        ("since_id", lambda i, b: i > b),
        ("min_id", lambda i, b: i > b),
        ("max_id", lambda i, b: i < b),
    ):
        bound = request.arg(name)
        if bound:
            ordered = [s for s in ordered if keep(int(s["id"]), int(bound))]
    return ordered[: int(request.arg("limit") or default)]


# -- Mastodon ----------------------------------------------------------------------------

MASTODON_TOKEN = "mastodon-user-token-abcdef"


class FakeMastodon(_StreamFake):
    def __init__(self, server: ApiServer, host: str = "mastodon.example") -> None:
        super().__init__(server)
        self.host = host
        self.statuses: list[dict[str, Any]] = []
        self.remaining = 299
        for tag in ("acme", "boycottacme"):
            server.routes[f"/api/v1/timelines/tag/{tag}"] = self._timeline(tag)
        server.routes["/api/v1/timelines/public"] = self._timeline(None)
        server.routes["/api/v2/search"] = self._search
        server.routes["/api/v1/streaming/hashtag"] = self._stream
        server.routes["/api/v1/streaming/public"] = self._stream

    def status(
        self,
        n: int,
        at: datetime,
        content: str = "",
        tags: tuple[str, ...] = ("acme",),
        **extra: Any,
    ) -> dict[str, Any]:
        # snowflake-like ids: the time in ms shifted by 16 bits
        ident = str((int(at.timestamp() * 1000) << 16) + n)
        remote = n % 2 == 0
        acct = f"fan{n}@other.example" if remote else f"fan{n}"
        home = "other.example" if remote else self.host
        status: dict[str, Any] = {
            "id": ident,
            "created_at": iso(at),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": "en",
            "uri": f"https://{home}/users/fan{n}/statuses/{ident}",
            "url": f"https://{home}/@fan{n}/{ident}",
            "replies_count": n,
            "reblogs_count": 2 * n,
            "favourites_count": 3 * n,
            "edited_at": None,
            "content": content
            or f'<p>I love <a href="https://{self.host}/tags/acme" class="mention hashtag" rel="tag">#<span>acme</span></a> post {n}</p>',
            "reblog": None,
            "account": {
                "id": str(1000 + n),
                "username": f"fan{n}",
                "acct": acct,
                "display_name": f"Fan {n}",
                "url": f"https://{home}/@fan{n}",
                "followers_count": 100 * n,
                "following_count": 5,
                "statuses_count": 42,
            },
            "media_attachments": [],
            "mentions": [],
            "tags": [{"name": t, "url": f"https://{self.host}/tags/{t}"} for t in tags],
            "emojis": [],
            **extra,
        }
        self.statuses.append(status)
        return status

    def _limits(self) -> dict[str, str]:
        self.remaining = max(0, self.remaining - 1)
        reset = (self.server.now + timedelta(minutes=5)).isoformat()
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": reset,
        }

    def _timeline(self, tag: str | None) -> Any:
        def answer(request: Request) -> Reply:
            if self.fail:
                return self.fail.pop(0)
            pool = [
                s for s in self.statuses if tag is None or any(t["name"] == tag for t in s["tags"])
            ]
            return Reply(_page(pool, request), headers=self._limits())

        return answer

    def _search(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {MASTODON_TOKEN}":
            return Reply({"error": "The access token is invalid"}, 401)
        assert request.arg("type") == "statuses"
        query = (request.arg("q") or "").lower()
        pool = [s for s in self.statuses if query in s["content"].lower()]
        body = {"accounts": [], "statuses": _page(pool, request), "hashtags": []}
        return Reply(body, headers=self._limits())

    def _stream(self, request: Request) -> Reply | Streamed:
        if self.fail:
            return self.fail.pop(0)
        script = self._next_script()
        if script is None:
            return Streamed(self._quiet(b":thump\n"), "text/event-stream")

        def chunks() -> Iterator[bytes]:
            yield b":)\n"
            for status in script.posts:
                yield script.heartbeat
                yield f"event: update\ndata: {json.dumps(status)}\n\n".encode()
                yield b"event: delete\ndata: 12345\n\n"
            if script.end == "stay":
                yield from self._quiet(b":thump\n")

        return Streamed(chunks(), "text/event-stream", drop=script.end == "drop")


# -- Bluesky -----------------------------------------------------------------------------


class FakeBluesky:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.posts: list[dict[str, Any]] = []
        self.fail: list[Reply] = []
        server.routes["/xrpc/app.bsky.feed.searchPosts"] = self._search

    def post(
        self, n: int, at: datetime, text: str = "", indexed: datetime | None = None
    ) -> dict[str, Any]:
        did = f"did:plc:user{n:04d}"
        view: dict[str, Any] = {
            "uri": f"at://{did}/app.bsky.feed.post/3kpost{n:04d}",
            "cid": f"bafyreicid{n}",
            "author": {
                "did": did,
                "handle": f"user{n}.bsky.social",
                "displayName": f"User {n}",
                "avatar": "https://cdn.bsky.app/img/avatar/plain/x.jpg",
                "labels": [],
                "createdAt": "2024-01-01T00:00:00.000Z",
            },
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": iso(at),
                "langs": ["de"],
                "text": text or f"Acme ist schuld #{n}",
            },
            "replyCount": n,
            "repostCount": 2 * n,
            "likeCount": 3 * n,
            "quoteCount": 1,
            "indexedAt": iso(indexed or at + timedelta(seconds=1)),
            "labels": [],
        }
        self.posts.append(view)
        return view

    def _search(self, request: Request) -> Reply:
        if self.fail:
            return self.fail.pop(0)
        assert request.arg("sort") == "latest"
        since = request.arg("since") or ""

        def sort_at(p: dict[str, Any]) -> str:
            return min(p["record"]["createdAt"], p["indexedAt"])

        matching = sorted((p for p in self.posts if sort_at(p) >= since), key=sort_at, reverse=True)
        start = int(request.arg("cursor") or 0)
        size = int(request.arg("limit") or 25)
        body: dict[str, Any] = {"posts": matching[start : start + size], "hitsTotal": len(matching)}
        if start + size < len(matching):
            body["cursor"] = str(start + size)
        reset = int(self.server.now.timestamp()) + 300
        headers = {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "2999",
            "ratelimit-reset": str(reset),
            "ratelimit-policy": "3000;w=300",
        }
        return Reply(body, headers=headers)


# -- X -------------------------------------------------------------------------------------

X_TOKEN = "AAAAAAAAAAAAAAAAAAAAAx-bearer-secret"


class FakeX(_StreamFake):
    def __init__(self, server: ApiServer) -> None:
        super().__init__(server)
        self.posts: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.rules: list[dict[str, str]] = [{"id": "900", "value": "cats", "tag": "someone-else"}]
        self.remaining: int | None = None
        self.stream_fail: list[Reply] = []
        """Served on connecting to the stream (``fail`` is for any request)."""
        self._rule_ids = 1000
        server.routes["/2/tweets/search/recent"] = self._authorised(self._search)
        server.routes["/2/tweets/search/stream/rules"] = self._authorised(self._rules)
        server.routes["/2/tweets/search/stream"] = self._authorised(self._stream)

    def post(
        self, n: int, at: datetime, text: str = "", rule_tag: str | None = None
    ) -> dict[str, Any]:
        user = str(2244994945 + n % 3)
        self.users[user] = {
            "id": user,
            "name": f"Poster {user[-1]}",
            "username": f"poster{user[-1]}",
            "public_metrics": {
                "followers_count": 1000 + n % 3,
                "following_count": 10,
                "tweet_count": 500,
                "listed_count": 2,
                "like_count": 9,
            },
        }
        tweet: dict[str, Any] = {
            "id": str(1_790_000_000_000_000_000 + n),
            "text": text or f"Acme &amp; co let me down #{n}",
            "author_id": user,
            "created_at": iso(at),
            "lang": "en",
            "edit_history_tweet_ids": [str(1_790_000_000_000_000_000 + n)],
            "public_metrics": {
                "retweet_count": n,
                "reply_count": 2,
                "like_count": 5 * n,
                "quote_count": 1,
                "bookmark_count": 0,
                "impression_count": 900,
            },
        }
        self.posts.append(tweet)
        return tweet

    def envelope(self, tweet: dict[str, Any], tag: str) -> dict[str, Any]:
        return {
            "data": tweet,
            "includes": {"users": [self.users[tweet["author_id"]]]},
            "matching_rules": [{"id": "1001", "tag": tag}],
        }

    def _authorised(self, answer: Any) -> Any:
        def check(request: Request) -> Reply | Streamed:
            if request.headers.get("authorization") != f"Bearer {X_TOKEN}":
                return Reply(
                    {
                        "title": "Unauthorized",
                        "type": "about:blank",
                        "status": 401,
                        "detail": "Unauthorized",
                    },
                    401,
                )
            if self.fail:
                return self.fail.pop(0)
            return answer(request)  # type: ignore[no-any-return]

        return check

    def _limits(self) -> dict[str, str]:
        if self.remaining is None:
            return {}
        self.remaining = max(0, self.remaining - 1)
        reset = int(self.server.now.timestamp()) + 900
        return {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(reset),
        }

    def _search(self, request: Request) -> Reply:
        assert request.arg("expansions") == "author_id"
        since_id, start = request.arg("since_id"), request.arg("start_time")
        matching = sorted(
            (
                p
                for p in self.posts
                if (since_id is None or int(p["id"]) > int(since_id))
                and (start is None or p["created_at"] >= start)
            ),
            key=lambda p: int(p["id"]),
            reverse=True,
        )
        size = int(request.arg("max_results") or 10)
        offset = int((request.arg("next_token") or "b26v0").removeprefix("b26v"))
        page = matching[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + size < len(matching):
            meta["next_token"] = f"b26v{offset + size}"
        body: dict[str, Any] = {"meta": meta}
        if page:
            users = {p["author_id"] for p in page}
            body |= {"data": page, "includes": {"users": [self.users[u] for u in sorted(users)]}}
        return Reply(body, headers=self._limits())

    def _rules(self, request: Request) -> Reply:
        if request.method == "GET":
            body: dict[str, Any] = {
                "meta": {"sent": iso(self.server.now), "result_count": len(self.rules)}
            }
            if self.rules:
                body["data"] = self.rules
            return Reply(body)
        change = request.json()
        if "delete" in change:
            ids = set(change["delete"]["ids"])
            self.rules = [r for r in self.rules if r["id"] not in ids]
            return Reply(
                {
                    "meta": {
                        "sent": iso(self.server.now),
                        "summary": {"deleted": len(ids), "not_deleted": 0},
                    }
                }
            )
        added, errors = [], []
        existing = {r["value"]: r for r in self.rules}
        for rule in change["add"]:
            if rule["value"] in existing:  # one rule per value and app, whatever its tag
                errors.append(
                    {
                        "value": rule["value"],
                        "id": existing[rule["value"]]["id"],
                        "title": "DuplicateRule",
                        "type": "https://api.twitter.com/2/problems/duplicate-rules",
                    }
                )
                continue
            if "(" in rule["value"] and ")" not in rule["value"]:
                errors.append(
                    {
                        "value": rule["value"],
                        "details": ["Unmatched parenthesis."],
                        "title": "UnprocessableEntity",
                        "type": "https://api.twitter.com/2/problems/invalid-rules",
                    }
                )
                continue
            self._rule_ids += 1
            added.append({"id": str(self._rule_ids), **rule})
        self.rules.extend(added)
        summary = {
            "created": len(added),
            "not_created": len(errors),
            "valid": len(added),
            "invalid": len(errors),
        }
        body = {"data": added, "meta": {"sent": iso(self.server.now), "summary": summary}}
        if errors:
            body["errors"] = errors
        return Reply(body, 201)

    def _stream(self, request: Request) -> Reply | Streamed:
        if self.stream_fail:
            return self.stream_fail.pop(0)
        script = self._next_script()
        if script is None:
            return Streamed(self._quiet(b"\r\n"), "application/json")

        def chunks() -> Iterator[bytes]:
            for envelope in script.posts:
                yield script.heartbeat
                yield json.dumps(envelope).encode() + b"\r\n"
            if script.end == "stay":
                yield from self._quiet(b"\r\n")

        return Streamed(chunks(), "application/json", drop=script.end == "drop")
