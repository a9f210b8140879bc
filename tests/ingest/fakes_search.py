"""Fakes of the search APIs on the local `ApiServer`, answering in each platform's
documented format and honouring the parameters ingest sends:

* Reddit ``/search.json`` (and ``/r/<sub>/search.json``): a ``Listing`` of ``t3``
  things, newest first (``sort=new``), ``after`` = the last fullname, ``limit``.
* Algolia HN ``/api/v1/search_by_date``: ``hits`` newest first, ``numericFilters``
  ``created_at_i>=N``, ``page``/``hitsPerPage``/``nbPages``.
* YouTube Data API v3 ``/youtube/v3/search|videos|channels``: ``searchListResponse``
  with ``publishedAfter``, ``pageToken``/``nextPageToken``, statistics as strings, the
  key from ``X-Goog-Api-Key``.

``fail`` queues replies served before the normal answer (a 429, a 503, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.ingest.apiserver import ApiServer, Reply, Request
from tests.ingest.harness import iso


class _Fake:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.fail: list[Reply] = []

    def _route(self, path: str, answer: Callable[[Request], Reply]) -> None:
        def route(request: Request) -> Reply:
            if self.fail:
                return self.fail.pop(0)
            return answer(request)

        self.server.routes[path] = route


# -- Reddit -------------------------------------------------------------------------------


class FakeReddit(_Fake):
    def __init__(self, server: ApiServer) -> None:
        super().__init__(server)
        self.posts: list[dict[str, Any]] = []
        self.remaining = 99.0
        self._route("/search.json", self._search)
        self._route("/r/acme/search.json", self._search)

    def post(self, n: int, at: datetime, title: str = "", **data: Any) -> dict[str, Any]:
        ident = f"abc{n:03d}"
        body: dict[str, Any] = {
            "subreddit": "technology",
            "selftext": "",
            "author_fullname": "t2_xyz",
            "title": title or f"Acme news {n}",
            "name": f"t3_{ident}",
            "score": 10 + n,
            "ups": 10 + n,
            "num_comments": n,
            "num_crossposts": 1,
            "id": ident,
            "author": "someone",
            "permalink": f"/r/technology/comments/{ident}/acme_news_{n}/",
            "url": f"https://news.example.com/acme/{n}",
            "created_utc": at.timestamp(),
            "over_18": False,
            **data,
        }
        self.posts.append(body)
        return body

    def _search(self, request: Request) -> Reply:
        assert request.arg("sort") == "new"
        ordered = sorted(self.posts, key=lambda p: p["created_utc"], reverse=True)
        after = request.arg("after")
        start = next(i + 1 for i, p in enumerate(ordered) if p["name"] == after) if after else 0
        limit = int(request.arg("limit") or 25)
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        self.remaining = max(0.0, self.remaining - 1)
        listing = {
            "kind": "Listing",
            "data": {
                "after": page[-1]["name"] if page and more else None,
                "before": None,
                "dist": len(page),
                "modhash": "",
                "geo_filter": "",
                "children": [{"kind": "t3", "data": p} for p in page],
            },
        }
        headers = {
            "x-ratelimit-used": str(100 - int(self.remaining)),
            "x-ratelimit-remaining": f"{self.remaining:.1f}",
            "x-ratelimit-reset": "300",
        }
        return Reply(listing, headers=headers)


# -- Algolia Hacker News --------------------------------------------------------------------


class FakeAlgolia(_Fake):
    def __init__(self, server: ApiServer) -> None:
        super().__init__(server)
        self.hits: list[dict[str, Any]] = []
        self._route("/api/v1/search_by_date", self._search)

    def story(self, n: int, at: datetime, **data: Any) -> dict[str, Any]:
        hit: dict[str, Any] = {
            "_tags": ["story", "author_pg", f"story_{n}"],
            "author": "pg",
            "children": [],
            "created_at": iso(at),
            "created_at_i": int(at.timestamp()),
            "num_comments": n * 2,
            "objectID": str(40_000_000 + n),
            "points": n * 10,
            "story_id": 40_000_000 + n,
            "title": f"Acme launches thing {n}",
            "updated_at": iso(at),
            "url": f"https://acme.example.com/blog/{n}",
            **data,
        }
        self.hits.append(hit)
        return hit

    def comment(self, n: int, at: datetime, text: str) -> dict[str, Any]:
        hit: dict[str, Any] = {
            "_tags": ["comment", "author_dang", f"story_{n}"],
            "author": "dang",
            "comment_text": text,
            "created_at": iso(at),
            "created_at_i": int(at.timestamp()),
            "objectID": str(41_000_000 + n),
            "parent_id": 40_000_001,
            "points": None,
            "story_id": 40_000_001,
            "story_title": "Acme launches thing 1",
            "story_url": "https://acme.example.com/blog/1",
            "updated_at": iso(at),
        }
        self.hits.append(hit)
        return hit

    def _search(self, request: Request) -> Reply:
        bound = 0
        for clause in (request.arg("numericFilters") or "").split(","):
            if clause.startswith("created_at_i>="):
                bound = int(clause.removeprefix("created_at_i>="))
        matching = sorted(
            (h for h in self.hits if h["created_at_i"] >= bound),
            key=lambda h: h["created_at_i"],
            reverse=True,
        )
        size = int(request.arg("hitsPerPage") or 20)
        page = int(request.arg("page") or 0)
        pages = (len(matching) + size - 1) // size
        return Reply(
            {
                "exhaustive": {"nbHits": True, "typo": True},
                "hits": matching[page * size : (page + 1) * size],
                "hitsPerPage": size,
                "nbHits": len(matching),
                "nbPages": pages,
                "page": page,
                "params": "query=acme",
                "processingTimeMS": 1,
                "query": request.arg("query"),
            }
        )


# -- YouTube ---------------------------------------------------------------------------------

YOUTUBE_KEY = "AIzaSy-test-key-0123456789"


class FakeYouTube(_Fake):
    def __init__(self, server: ApiServer) -> None:
        super().__init__(server)
        self.videos: list[dict[str, Any]] = []
        self.statistics: dict[str, dict[str, str]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._route("/youtube/v3/search", self._keyed(self._search))
        self._route("/youtube/v3/videos", self._keyed(self._videos))
        self._route("/youtube/v3/channels", self._keyed(self._channels))

    def video(self, n: int, at: datetime, channel: str = "UCacme", **snippet: Any) -> None:
        ident = f"vid{n:08d}"
        self.videos.append(
            {
                "kind": "youtube#searchResult",
                "etag": f"etag{n}",
                "id": {"kind": "youtube#video", "videoId": ident},
                "snippet": {
                    "publishedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "channelId": channel,
                    "title": f"Acme &amp; friends review #{n}",
                    "description": "Unboxing the Acme rocket skates &#39;live&#39;",
                    "thumbnails": {"default": {"url": "https://i.ytimg.com/x.jpg"}},
                    "channelTitle": "Gadget Channel",
                    "liveBroadcastContent": "none",
                    "publishTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    **snippet,
                },
            }
        )
        self.statistics[ident] = {
            "viewCount": str(1000 * n),
            "likeCount": str(10 * n),
            "favoriteCount": "0",
            "commentCount": str(n),
        }

    def _keyed(self, answer: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        def check(request: Request) -> Reply:
            assert "key" not in request.query  # the key never travels in a URL
            if request.headers.get("x-goog-api-key") != YOUTUBE_KEY:
                message = "API key not valid. Please pass a valid API key."
                return Reply(
                    {
                        "error": {
                            "code": 400,
                            "message": message,
                            "errors": [
                                {"message": message, "domain": "global", "reason": "badRequest"}
                            ],
                            "status": "INVALID_ARGUMENT",
                        }
                    },
                    400,
                )
            return answer(request)

        return check

    def _search(self, request: Request) -> Reply:
        assert (request.arg("type"), request.arg("order")) == ("video", "date")
        after = request.arg("publishedAfter") or "0000"
        matching = sorted(
            (v for v in self.videos if v["snippet"]["publishedAt"] > after),
            key=lambda v: v["snippet"]["publishedAt"],
            reverse=True,
        )
        size = int(request.arg("maxResults") or 5)
        token = request.arg("pageToken")
        start = int(token[2:-3]) if token else 0  # tokens look like CA50QAA
        page = matching[start : start + size]
        body: dict[str, Any] = {
            "kind": "youtube#searchListResponse",
            "etag": "list-etag",
            "regionCode": "US",
            "pageInfo": {"totalResults": len(matching), "resultsPerPage": size},
            "items": page,
        }
        if start + size < len(matching):
            body["nextPageToken"] = f"CA{start + size}QAA"
        return Reply(body)

    def _videos(self, request: Request) -> Reply:
        assert request.arg("part") == "statistics"
        ids = (request.arg("id") or "").split(",")
        items = [
            {"kind": "youtube#video", "etag": "e", "id": i, "statistics": self.statistics[i]}
            for i in ids
            if i in self.statistics
        ]
        return Reply({"kind": "youtube#videoListResponse", "etag": "e", "items": items})

    def _channels(self, request: Request) -> Reply:
        ids = (request.arg("id") or "").split(",")
        items = [
            {"kind": "youtube#channel", "etag": "e", "id": i, "statistics": self.channels[i]}
            for i in ids
            if i in self.channels
        ]
        return Reply({"kind": "youtube#channelListResponse", "etag": "e", "items": items})
